import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { IMPORT_FORMATS, type ImportFormat } from '../import/import-reader.js';

const flag = ({ value }: { value: unknown }) => (value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value);

/** The CLI's import options as query parameters of POST /api/accounts/import. */
export class ImportQueryDto {
  @ApiPropertyOptional({ enum: IMPORT_FORMATS, description: 'the export the body is (default: from the content type, csv or ndjson)' })
  @IsOptional()
  @IsIn(IMPORT_FORMATS)
  from?: ImportFormat;

  @ApiPropertyOptional({ example: "username=login,displayName='{firstName} {lastName}',orgUnit=department", description: 'field map for a CSV export' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  map?: string;

  @ApiPropertyOptional({ enum: ['all', 'none'], description: 'required when the source has no emailVerified field' })
  @IsOptional()
  @IsIn(['all', 'none'])
  emailVerified?: 'all' | 'none';

  @ApiPropertyOptional({ description: 'admins only: apply changed hashes, emails and emailVerified of existing accounts' })
  @IsOptional()
  @Transform(flag)
  @IsBoolean()
  updateCredentials?: boolean;

  @ApiPropertyOptional({ description: 'accept the plain password column (refused in production)' })
  @IsOptional()
  @Transform(flag)
  @IsBoolean()
  allowPlaintext?: boolean;
}
