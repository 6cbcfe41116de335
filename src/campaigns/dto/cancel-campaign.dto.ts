import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional } from 'class-validator';

export class CancelCampaignDto {
  @ApiPropertyOptional({ default: false, description: 'Also lift must-reset from accounts that have not reset yet, and revoke their unused reset links' })
  @IsOptional()
  @IsBoolean()
  clearMustReset?: boolean;
}
