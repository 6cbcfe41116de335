import { IsOptional, IsString, MaxLength } from 'class-validator';
import type { PolicyFailure } from '../../passwords/password-policy.js';

/** Reported together with the policy's own failures, so one try shows everything to fix. */
export const PASSWORDS_DIFFER: PolicyFailure = { rule: 'confirmation', message: 'The two passwords do not match.' };

export class NewPasswordDto {
  @IsString()
  @MaxLength(1024)
  newPassword: string;

  @IsString()
  @MaxLength(1024)
  confirmPassword: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  _csrf?: string;
}
