import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Max } from 'class-validator';
import { IsDatabaseInt } from './database-int.js';

/** The page size every paged JSON listing accepts. */
export class PageSizeQuery {
  @ApiPropertyOptional({ description: 'entries per page', default: 100, minimum: 1, maximum: 1000 })
  @IsOptional()
  @IsDatabaseInt(1)
  @Max(1000)
  limit?: number;
}
