import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class GateSignInDto {
  @ApiProperty({ example: 'alice', description: 'the username the user signed in with at the application' })
  @IsString()
  @MaxLength(256)
  username: string;

  @ApiPropertyOptional({ example: 'https://portal.example.org/after', description: 'where to send the user after the reset; must be on a registered origin' })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  returnTo?: string;
}

export class GateDecisionDto {
  @ApiProperty({ enum: ['continue', 'pre_reset', 'password_change'] })
  decision: 'continue' | 'pre_reset' | 'password_change';

  @ApiPropertyOptional({ description: 'one-time URL to redirect the browser to (pre_reset and password_change only); never log it' })
  handoffUrl?: string;

  @ApiPropertyOptional({ description: 'when the handoff URL stops working' })
  expiresAt?: string;

  @ApiPropertyOptional({ description: 'password_change only: the account holds an administrator-issued temporary password' })
  passwordExpired?: boolean;
}
