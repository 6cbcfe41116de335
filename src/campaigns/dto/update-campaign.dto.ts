import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsEmail, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { MAX_DIGEST_MANAGERS, MAX_NOTICE_RATE, MAX_REMINDERS } from '../campaign-limits.js';

/** Any of the fields; each given one is changed (and audited) on its own, also while the campaign runs. */
export class UpdateCampaignDto {
  @ApiPropertyOptional({ description: 'Notices (and reminders) per second, across all workers; takes effect at once, also while running' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_NOTICE_RATE)
  noticeRate?: number;

  @ApiPropertyOptional({ example: '3d,7d,14d', description: 'Reminder offsets after launch, increasing; "" removes the reminders still to come' })
  @IsOptional()
  @IsString()
  @Length(0, 500)
  reminders?: string;

  @ApiPropertyOptional({ description: 'Send at most this many reminders of the schedule' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_REMINDERS)
  maxReminders?: number;

  @ApiPropertyOptional({ type: [String], description: 'Managers who get the daily digest of counts per org unit; [] stops it' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_DIGEST_MANAGERS)
  @IsEmail({}, { each: true })
  digestTo?: string[];
}
