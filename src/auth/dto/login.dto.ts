import { IsOptional, IsString, MaxLength } from 'class-validator';

export class LoginDto {
  @IsString()
  @MaxLength(256)
  username: string;

  @IsString()
  @MaxLength(1024)
  password: string;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  _csrf?: string;
}
