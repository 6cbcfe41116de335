import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, MaxLength, Min } from 'class-validator';

export class PendingPageQueryDto {
  /** Keyset cursor: the last account id of the previous page. */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;
}

export class SignInPageQueryDto {
  @IsOptional()
  @IsString()
  @MaxLength(500)
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
  @MaxLength(500)
  next?: string;
}

export class SignOutFormDto {
  @IsOptional()
  @IsString()
  @MaxLength(100)
  _csrf?: string;
}
