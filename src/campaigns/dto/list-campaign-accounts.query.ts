import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Min } from 'class-validator';
import { PageSizeQuery } from '../../common/dto/page-size.query.js';
import type { ProgressState } from '../../generated/prisma/enums.js';
import { PROGRESS_STATES } from '../../progress/progress-states.js';

export class ListCampaignAccountsQuery extends PageSizeQuery {
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
}
