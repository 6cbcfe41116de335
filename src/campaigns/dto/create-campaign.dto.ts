import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsEmail, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import type { CampaignScope } from '../../generated/prisma/enums.js';
import { MAX_DIGEST_MANAGERS, MAX_LINK_TTL_MINUTES, MAX_NOTICE_RATE, MAX_REMINDERS } from '../campaign-limits.js';

/** A JSON body is limited to 64 KB; larger lists go through `resetctl campaign create --usernames FILE`. */
export const MAX_USERNAMES_IN_BODY = 5_000;

export class CreateCampaignDto {
  @ApiProperty({ example: 'Credential stuffing, May' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({ example: 'INC-4711', description: 'Incident reference, shown in the notice' })
  @IsString()
  @Length(1, 100)
  incidentRef: string;

  @ApiProperty({ description: 'Reason shown to users in the notice; must not contain anything a mail client turns into a link' })
  @IsString()
  @Length(1, 2000)
  reason: string;

  @ApiProperty({ enum: ['all', 'usernames', 'org_unit'] })
  @IsIn(['all', 'usernames', 'org_unit'])
  scope: CampaignScope;

  @ApiPropertyOptional({ type: [String], description: 'With scope=usernames: the affected usernames (case-insensitive)' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_USERNAMES_IN_BODY)
  @IsString({ each: true })
  @Length(1, 320, { each: true })
  usernames?: string[];

  @ApiPropertyOptional({ description: 'With scope=org_unit: the org unit, matched exactly' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  orgUnit?: string;

  @ApiPropertyOptional({ default: 50, description: 'Notices per second, across all workers' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_NOTICE_RATE)
  noticeRate?: number;

  @ApiPropertyOptional({
    example: 'gmail.com=20,outlook.com=20,*=50',
    description: 'Notices per second per recipient domain on top of noticeRate, shared with every other campaign; `*` is the rate of each domain not named',
  })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  domainRates?: string;

  @ApiPropertyOptional({ default: 30, description: 'Lifetime of the reset links users ask for, in minutes (at most 24 h)' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_LINK_TTL_MINUTES)
  linkTtlMinutes?: number;

  @ApiPropertyOptional({ default: 'breach-notice', description: 'Mail template under templates/mail' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z0-9-]{1,64}$/)
  template?: string;

  @ApiPropertyOptional({
    example: '3d,7d,14d',
    description: 'Reminders after launch (s, m, h, d), increasing: each a link-free notice to the accounts still to reset, inside noticeRate',
  })
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

  @ApiPropertyOptional({ type: [String], description: 'Managers who get a daily link-free digest of how many are still to reset per org unit' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_DIGEST_MANAGERS)
  @IsEmail({}, { each: true })
  digestTo?: string[];
}
