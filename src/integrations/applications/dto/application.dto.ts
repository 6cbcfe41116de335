import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import type { ApplicationHashFormat } from '../../../generated/prisma/enums.js';

export const HASH_FORMATS: readonly ApplicationHashFormat[] = ['argon2id', 'bcrypt'];

export class CreateApplicationDto {
  @ApiProperty({ example: 'portal', description: 'lower-case letters, digits and -' })
  @IsString()
  @MaxLength(63)
  name: string;

  @ApiProperty({ example: ['https://portal.example.org'], description: 'origins a returnTo URL may point at' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @MaxLength(300, { each: true })
  returnOrigins: string[];

  @ApiProperty({ example: 'https://portal.example.org/hooks/reset', description: 'https (http only for loopback)' })
  @IsString()
  @MaxLength(2000)
  webhookUrl: string;

  @ApiPropertyOptional({ enum: HASH_FORMATS, description: 'how account.password_reset carries the new password; default argon2id' })
  @IsOptional()
  @IsIn(HASH_FORMATS)
  hashFormat?: ApplicationHashFormat;
}

export class CreatedApplicationDto {
  @ApiProperty() id: number;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'the application key for the gate, shown once; only its SHA-256 is stored' }) key: string;
  @ApiProperty({ description: 'the webhook signing secret (Standard Webhooks whsec_…), shown once' }) secret: string;
}
