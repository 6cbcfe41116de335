import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class SecretLinkDto {
  @ApiProperty() secretId: number;
  @ApiProperty({ description: 'The one-time view link. It is a credential: deliver it to one person only.' }) url: string;
}

export class LinkEmailDto {
  @ApiProperty() sent: boolean;
  @ApiPropertyOptional({ description: 'The SMTP error when the mail was refused; the link still works.' }) error?: string;
}

/** What the responder gets back: never the password, only where it can be viewed once. */
export class TemporaryPasswordIssuedDto {
  @ApiProperty() secretId: number;
  @ApiProperty({ description: 'The user’s one-time view link.' }) url: string;
  @ApiProperty() expiresAt: Date;
  @ApiPropertyOptional({ description: 'Read this to the user by phone; it is shown only here, once.' }) code?: string;
  @ApiPropertyOptional({ type: LinkEmailDto }) email?: LinkEmailDto;
  @ApiPropertyOptional({ type: SecretLinkDto, description: '--external: the administrator’s own one-time link to apply the value on the target system.' })
  apply?: SecretLinkDto;
}

export class SecretStatusDto {
  @ApiProperty() id: number;
  @ApiPropertyOptional() username?: string;
  @ApiPropertyOptional() externalRef?: string;
  @ApiProperty({ enum: ['pending', 'viewed', 'expired', 'destroyed'] }) status: 'pending' | 'viewed' | 'expired' | 'destroyed';
  @ApiProperty() createdBy: string;
  @ApiProperty() createdAt: Date;
  @ApiProperty() expiresAt: Date;
  @ApiPropertyOptional() viewedAt?: Date;
  @ApiPropertyOptional({
    description:
      'The last recorded visit after it was viewed (at most one per RATE_LIMIT_WINDOW): if the user did not make it, someone else may have the value.',
  })
  revisitedAt?: Date;
  @ApiProperty() codeRequired: boolean;
  @ApiProperty() codeAttempts: number;
}
