import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import type { ProgressState } from '../../generated/prisma/enums.js';
import { PROGRESS_STATES } from '../../progress/progress-states.js';

export class ListCampaignAccountsQuery {
  @ApiPropertyOptional({ enum: PROGRESS_STATES })
  @IsOptional()
  @IsIn(PROGRESS_STATES as string[])
  state?: ProgressState;

  @ApiPropertyOptional({ description: 'Keyset paging: return accounts with an id above this (the previous page\'s nextAfter)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional({ default: 100, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
