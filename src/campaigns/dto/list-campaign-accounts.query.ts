import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IsDatabaseInt } from '../../common/dto/database-int.js';
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
  @IsDatabaseInt(0)
  after?: number;
}
