import { Module } from '@nestjs/common';
import { IntegrationsModule } from '../integrations.module.js';
import { WebhookDispatchService } from './webhook-dispatch.service.js';
import { WebhooksProcessor } from './webhooks.processor.js';

/** Webhook delivery (BullMQ processor) and the outbox dispatch. */
@Module({ imports: [IntegrationsModule], providers: [WebhooksProcessor, WebhookDispatchService] })
export class WebhooksWorkerModule {}
