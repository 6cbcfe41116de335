import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional, IsString, Matches, MaxLength } from 'class-validator';

export const EXTERNAL_REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}:[A-Za-z0-9@#$._-]{1,64}$/;

export class IssueTemporaryPasswordDto {
  @ApiPropertyOptional({
    description:
      'For a system the product does not own, `system:user` (e.g. `MVSPROD:JDOE01`): nothing is changed here and no hash is kept; ' +
      'two one-time links are made, one for the administrator who applies the value and one for the user.',
    example: 'MVSPROD:JDOE01',
  })
  @IsOptional()
  @IsString()
  @Matches(EXTERNAL_REF_PATTERN, { message: 'external must look like system:user (letters, digits, . _ - @ # $)' })
  external?: string;

  @ApiPropertyOptional({ description: "Email the view link (never the password) to the account's verified address.", default: false })
  @IsOptional()
  @IsBoolean()
  email?: boolean;

  @ApiPropertyOptional({ description: 'How long the link works, e.g. 15m, 4h, 24h (1 minute to 7 days). Default: SECRET_TTL.', example: '24h' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,6}(s|m|h|d)$/, { message: 'ttl must be a duration like 15m, 4h or 24h' })
  ttl?: string;

  @ApiPropertyOptional({ description: 'Require a 6-digit code, returned once here, that you read to the user over another channel.', default: false })
  @IsOptional()
  @IsBoolean()
  code?: boolean;

  @ApiPropertyOptional({
    description:
      'With `external` only: `password` (8 characters, which every RACF/ACF2 system takes) or `phrase` (19 characters, where password ' +
      'phrases are enabled). Accounts of this product get what their policy preset takes.',
    enum: ['password', 'phrase'],
    default: 'password',
  })
  @IsOptional()
  @IsIn(['password', 'phrase'])
  format?: 'password' | 'phrase';

  @ApiPropertyOptional({ description: 'Why (ticket or incident reference); recorded in the audit log.', maxLength: 200 })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  reason?: string;
}
