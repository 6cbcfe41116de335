import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/** The reveal form: its per-page CSRF value and, when the issuer asked for one, the code read out by phone. */
export class RevealSecretDto {
  @ApiPropertyOptional({ description: 'The value from the interstitial page (HTML form field or JSON `csrf`).' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  csrf?: string;

  @ApiPropertyOptional({ description: 'The code the responder read to you, when one is required.' })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  code?: string;
}
