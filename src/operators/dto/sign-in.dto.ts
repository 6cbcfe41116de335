import { IsOptional, IsString, MaxLength } from 'class-validator';
import { SIGN_IN_NEXT_MAX_LENGTH } from '../operator-authenticator.service.js';

export class SignInPageQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(SIGN_IN_NEXT_MAX_LENGTH)
  next?: string;
}

/** Lenient on purpose: a bad form re-renders the page with a message instead of a JSON 400. */
export class SignInFormDto {
  @IsOptional()
  @IsString()
  @MaxLength(200)
  username?: string;

  @IsOptional()
  @IsString()
  @MaxLength(1000)
  password?: string;

  @IsOptional()
  @IsString()
  @MaxLength(100)
  _csrf?: string;

  @IsOptional()
  @IsString()
  @MaxLength(SIGN_IN_NEXT_MAX_LENGTH)
  next?: string;
}

export class SignOutFormDto {
  @IsOptional()
  @IsString()
  @MaxLength(100)
  _csrf?: string;
}
