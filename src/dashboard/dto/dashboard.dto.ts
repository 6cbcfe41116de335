import { IsOptional } from 'class-validator';
import { IsDatabaseInt } from '../../common/dto/database-int.js';

export class PendingPageQueryDto {
  /** Keyset cursor: the last account id of the previous page. */
  @IsOptional()
  @IsDatabaseInt(0)
  after?: number;
}
