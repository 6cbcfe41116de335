import { PickType } from '@nestjs/swagger';
import { CreateCampaignDto } from './create-campaign.dto.js';

/**
 * Any of these fields of a campaign, validated as at creation; each given one is changed (and audited) on its own,
 * also while the campaign runs. `reminders: ""` removes the reminders still to come, `digestTo: []` stops the digest.
 */
export class UpdateCampaignDto extends PickType(CreateCampaignDto, ['noticeRate', 'reminders', 'maxReminders', 'digestTo'] as const) {}
