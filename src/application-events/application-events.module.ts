import { Module } from '@nestjs/common';
import { ApplicationEventsService } from './application-events.service.js';

/** The outbox of events for connected applications, written by the flows whose changes they report. */
@Module({ providers: [ApplicationEventsService], exports: [ApplicationEventsService] })
export class ApplicationEventsModule {}
