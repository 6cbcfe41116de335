import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';
import type { OperatorRole } from '../../generated/prisma/enums.js';
import { OPERATOR_ROLES } from '../roles.decorator.js';

const USERNAME = /^[A-Za-z0-9._@-]+$/;

export class CreateOperatorDto {
  @ApiProperty({ example: 'alice', description: 'letters, digits and . _ @ -; stored lower-case' })
  @IsString()
  @MinLength(2)
  @MaxLength(64)
  @Matches(USERNAME, { message: 'username may contain letters, digits and . _ @ - only' })
  username: string;

  @ApiProperty({ enum: OPERATOR_ROLES })
  @IsIn(OPERATOR_ROLES)
  role: OperatorRole;
}

export class CreateApiTokenDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @MaxLength(64)
  @Matches(USERNAME, { message: 'username may contain letters, digits and . _ @ - only' })
  username: string;

  @ApiProperty({ example: 'laptop', description: 'what the token is for' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name: string;
}

export class CreatedOperatorDto {
  @ApiProperty() id: number;
  @ApiProperty() username: string;
  @ApiProperty({ enum: OPERATOR_ROLES }) role: OperatorRole;
  @ApiProperty({ description: 'generated sign-in password, shown once' }) password: string;
  @ApiProperty({ description: 'first API token, shown once' }) token: string;
}

export class CreatedApiTokenDto {
  @ApiProperty() id: number;
  @ApiProperty({ description: 'shown once; only its SHA-256 is stored' }) token: string;
}

export class OperatorDto {
  @ApiProperty() id: number;
  @ApiProperty() username: string;
  @ApiProperty({ enum: OPERATOR_ROLES }) role: OperatorRole;
  @ApiProperty() createdAt: Date;
  @ApiProperty({ nullable: true, type: Date }) disabledAt: Date | null;
}

class TokenOwnerDto {
  @ApiProperty() username: string;
  @ApiProperty({ enum: OPERATOR_ROLES }) role: OperatorRole;
}

export class ApiTokenDto {
  @ApiProperty() id: number;
  @ApiProperty() name: string;
  @ApiProperty() createdAt: Date;
  @ApiProperty({ nullable: true, type: Date }) lastUsedAt: Date | null;
  @ApiProperty({ nullable: true, type: Date }) revokedAt: Date | null;
  @ApiProperty({ type: TokenOwnerDto }) operator: TokenOwnerDto;
}

export class CurrentOperatorDto {
  @ApiProperty() username: string;
  @ApiProperty({ enum: OPERATOR_ROLES }) role: OperatorRole;
}
