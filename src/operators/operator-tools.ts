import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OperatorRole } from '../generated/prisma/enums.js';
import { operatorAccess } from './operator-access.middleware.js';
import { OperatorAuthenticatorService } from './operator-authenticator.service.js';
import { QueueBoardService } from './queue-board.service.js';

export const API_DOCS_PATH = 'api/docs';
export const API_DOCS_PATHS = [`/${API_DOCS_PATH}`, `/${API_DOCS_PATH}-json`, `/${API_DOCS_PATH}-yaml`];
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
  app.use(API_DOCS_PATHS, guard);
  SwaggerModule.setup(API_DOCS_PATH, app, document);
}

/** bull-board for admins (writable) and responders (read-only); see QueueBoardService. */
export function mountQueueBoard(app: INestApplication): void {
  const board = app.get(QueueBoardService).handler(QUEUE_BOARD_PATH);
  app.use(QUEUE_BOARD_PATH, operatorAccess(app.get(OperatorAuthenticatorService), QUEUE_BOARD_ROLES), board);
}
