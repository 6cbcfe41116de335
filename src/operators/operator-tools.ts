import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { getQueueToken } from '@nestjs/bullmq';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Queue } from 'bullmq';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { operatorAccess } from './operator-access.middleware.js';
import { OperatorAuthenticatorService } from './operator-authenticator.service.js';
import { QUEUES } from '../queues/queue-names.js';

type BoardOptions = Parameters<typeof createBullBoard>[0];

export const API_DOCS_PATH = 'api/docs';
export const QUEUE_BOARD_PATH = '/admin/queues';
export const API_DOCS_ROLES: readonly OperatorRole[] = ['admin', 'responder', 'manager'];
export const QUEUE_BOARD_ROLES: readonly OperatorRole[] = ['admin', 'responder'];

/** The OpenAPI document generated from the controllers and DTOs, for any signed-in operator (UI and /api/docs-json). */
export function mountApiDocs(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('reset-orchestrator API')
      .setDescription('Breach-response mass password resets. Every route needs an operator API token: `Authorization: Bearer rot_…`.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  const guard = operatorAccess(app.get(OperatorAuthenticatorService), API_DOCS_ROLES);
  app.use([`/${API_DOCS_PATH}`, `/${API_DOCS_PATH}-json`, `/${API_DOCS_PATH}-yaml`], guard);
  SwaggerModule.setup(API_DOCS_PATH, app, document);
}

/** bull-board over the user-mail and campaigns queues, for admins and responders only. */
export function mountQueueBoard(app: INestApplication): void {
  const serverAdapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
  const queues = Object.values(QUEUES).map((name) => new BullMQAdapter(app.get<Queue>(getQueueToken(name), { strict: false })));
  // @bull-board/express pins its own copy of @bull-board/api; the classes differ only in private fields.
  createBullBoard({ queues, serverAdapter: serverAdapter as unknown as BoardOptions['serverAdapter'], options: { uiConfig: { boardTitle: 'Reset queues' } } });
  app.use(QUEUE_BOARD_PATH, operatorAccess(app.get(OperatorAuthenticatorService), QUEUE_BOARD_ROLES), serverAdapter.getRouter());
}
