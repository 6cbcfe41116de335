import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, MaxLength, Min } from 'class-validator';
import { PageSizeQuery } from '../../common/dto/page-size.query.js';

export class AuditQueryDto extends PageSizeQuery {
  @ApiPropertyOptional({ description: 'page cursor: return entries with an id below this (from nextBefore)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before?: number;

  @ApiPropertyOptional({ example: 'campaign.launch' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ example: 'operator:alice' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  actor?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  campaignId?: number;
}

export class AuditEntryDto {
  @ApiProperty() id: number;
  @ApiProperty() at: Date;
  @ApiProperty() actor: string;
  @ApiProperty() action: string;
  @ApiProperty({ nullable: true, type: Number }) campaignId: number | null;
  @ApiProperty({ type: Object }) details: unknown;
  @ApiProperty() hash: string;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) entries: AuditEntryDto[];
  @ApiProperty({ nullable: true, type: Number, description: 'pass as `before` for the next (older) page; null on the last page' })
  nextBefore: number | null;
}
