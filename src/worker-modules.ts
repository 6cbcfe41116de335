import { BouncesWorkerModule } from './bounces/bounces-worker.module.js';
import { CampaignsWorkerModule } from './campaigns/campaigns-worker.module.js';
import { WebhooksWorkerModule } from './integrations/webhooks/webhooks-worker.module.js';
import { NoticesWorkerModule } from './notifications/notices/notices-worker.module.js';
import { UserMailWorkerModule } from './notifications/user-mail/user-mail-worker.module.js';

/** Every module that consumes a queue or receives bounces; loaded by ROLE=worker and ROLE=all. */
export const WORKER_MODULES = [CampaignsWorkerModule, NoticesWorkerModule, UserMailWorkerModule, WebhooksWorkerModule, BouncesWorkerModule];
