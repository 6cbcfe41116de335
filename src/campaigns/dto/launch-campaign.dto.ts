import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { MAX_CANARY } from '../campaign-limits.js';

export class LaunchCampaignDto {
  @ApiPropertyOptional({
    description: 'launch although the preview counts usernames without an account, accounts that cannot sign in, disabled accounts or accounts without a verified email',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  acceptGaps?: boolean;

  @ApiPropertyOptional({ description: 'send only this many notices, then pause the campaign (resume sends the rest)', minimum: 1, maximum: 1000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_CANARY)
  canary?: number;
}
