import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { MAX_NOTICE_RATE } from '../campaign-limits.js';

export class UpdateCampaignDto {
  @ApiProperty({ description: 'Notices per second, across all workers; takes effect at once, also while running' })
  @IsInt()
  @Min(1)
  @Max(MAX_NOTICE_RATE)
  noticeRate: number;
}
