import { Type } from 'class-transformer';
import { IsInt, IsOptional, Min } from 'class-validator';

export class PendingPageQueryDto {
  /** Keyset cursor: the last account id of the previous page. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;
}
