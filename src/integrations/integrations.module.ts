import { Module } from '@nestjs/common';
import { SecretCipher } from '../secrets/secret-cipher.js';
import { ApplicationsController } from './applications/applications.controller.js';
import { ApplicationsService } from './applications/applications.service.js';
import { ApplicationKeyGuard } from './gate/application-key.guard.js';
import { GateController } from './gate/gate.controller.js';
import { GateService } from './gate/gate.service.js';
import { WebhookDeliveriesService } from './webhooks/webhook-deliveries.service.js';
import { WebhookSenderService } from './webhooks/webhook-sender.service.js';

/** Connected applications: registration, the gate their sign-in asks, and the signed events written back to them. */
@Module({
  controllers: [ApplicationsController, GateController],
  providers: [ApplicationsService, GateService, ApplicationKeyGuard, WebhookDeliveriesService, WebhookSenderService, SecretCipher],
  exports: [ApplicationsService, WebhookDeliveriesService],
})
export class IntegrationsModule {}
