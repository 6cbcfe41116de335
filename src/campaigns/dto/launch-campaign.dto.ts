import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

export class LaunchCampaignDto {
  @ApiPropertyOptional({
    description: 'launch although the preview counts usernames without an account, accounts that cannot sign in, disabled accounts or accounts without a verified email',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  acceptGaps?: boolean;
}
