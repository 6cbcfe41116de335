import { IsOptional, IsString, MaxLength } from 'class-validator';

/** A form whose only field is its CSRF token. */
export class FormDto {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  _csrf?: string;
}
