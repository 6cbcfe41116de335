import { Module } from '@nestjs/common';
import { ApplicationEventsModule } from '../application-events/application-events.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { SecretCipher } from '../secrets/secret-cipher.js';
import { ApplicationsController } from './applications/applications.controller.js';
import { ApplicationsService } from './applications/applications.service.js';
import { ApplicationKeyGuard } from './gate/application-key.guard.js';
import { GateController } from './gate/gate.controller.js';
import { GateService } from './gate/gate.service.js';
import { WebhookBacklogMetrics } from './webhooks/webhook-backlog.metrics.js';
import { WebhookDeliveriesController } from './webhooks/webhook-deliveries.controller.js';
import { WebhookDeliveriesService } from './webhooks/webhook-deliveries.service.js';
import { WebhookSenderService } from './webhooks/webhook-sender.service.js';

/** Connected applications: registration, the gate their sign-in asks, and the signed events written back to them. */
@Module({
  imports: [AuditModule, ApplicationEventsModule],
  controllers: [ApplicationsController, WebhookDeliveriesController, GateController],
  providers: [ApplicationsService, GateService, ApplicationKeyGuard, WebhookDeliveriesService, WebhookSenderService, SecretCipher, WebhookBacklogMetrics],
  exports: [ApplicationsService, WebhookDeliveriesService, ApplicationEventsModule],
})
export class IntegrationsModule {}
