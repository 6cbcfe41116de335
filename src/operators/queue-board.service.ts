import { AsyncLocalStorage } from 'node:async_hooks';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { ControllerHandlerReturnType, HookContext } from '@bull-board/api/dist/types.js';
import { ExpressAdapter } from '@bull-board/express';
import { getQueueToken } from '@nestjs/bullmq';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuditService } from '../audit/audit.service.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { type AuthenticatedOperator, operatorActor } from './roles.decorator.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { QUEUES, noticeQueueName } from '../queues/queue-names.js';
import { redisConnectionOptions } from '../queues/queues.module.js';

type BoardOptions = Parameters<typeof createBullBoard>[0];
type Board = ReturnType<typeof createBullBoard>;

/**
 * bull-board for admins and responders. `readOnlyMode` is set per queue adapter, so there are two boards on one path:
 * responders get the read-only one, admins the writable one, chosen per request by the operator's role; every write on
 * the admin board is audited (queue, action, job). Besides the fixed queues, each running or paused campaign's own
 * notice queue is shown, looked up in the database on every request, as campaigns get queues and lose them.
 */
@Injectable()
export class QueueBoardService implements OnModuleDestroy {
  /** The admin behind a write, for the audit hook (bull-board hands its hooks only its own request object). */
  private readonly writer = new AsyncLocalStorage<AuthenticatedOperator>();
  private readonly boards: Array<{ board: Board; readOnly: boolean }> = [];
  private readonly campaignQueues = new Map<number, Queue>();
  private synced: Promise<void> = Promise.resolve();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly prisma: PrismaService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Mounted behind operatorAccess, which has set `req.operator`. */
  handler(basePath: string): RequestHandler {
    const writable = this.createBoard(basePath, false);
    const readOnly = this.createBoard(basePath, true);
    return (req: Request, res: Response, next: NextFunction) => {
      const operator = (req as Request & { operator: AuthenticatedOperator }).operator;
      this.syncCampaignQueues().then(() => {
        if (operator.role === 'admin') this.writer.run(operator, () => writable(req, res, next));
        else readOnly(req, res, next);
      }, next);
    };
  }

  private createBoard(basePath: string, readOnly: boolean): RequestHandler {
    const serverAdapter = new ExpressAdapter().setBasePath(basePath);
    const queues = Object.values(QUEUES).map((name) => new BullMQAdapter(this.moduleRef.get<Queue>(getQueueToken(name), { strict: false }), { readOnlyMode: readOnly }));
    const board = createBullBoard({
      queues,
      // @bull-board/express pins its own copy of @bull-board/api; the classes differ only in private fields.
      serverAdapter: serverAdapter as unknown as BoardOptions['serverAdapter'],
      options: {
        uiConfig: { boardTitle: readOnly ? 'Reset queues (read-only)' : 'Reset queues' },
        handlerHooks: readOnly
          ? { before: ({ method }) => (method === 'get' ? undefined : { allow: false, status: 403, message: 'the queue board is read-only for your role' }) }
          : { after: (context, result) => this.audited(context, result) },
      },
    });
    for (const queue of this.campaignQueues.values()) board.addQueue(new BullMQAdapter(queue, { readOnlyMode: readOnly }));
    this.boards.push({ board, readOnly });
    return serverAdapter.getRouter() as RequestHandler;
  }

  private async audited(context: HookContext, result: ControllerHandlerReturnType): Promise<ControllerHandlerReturnType> {
    if (context.method === 'get') return result;
    const operator = this.writer.getStore();
    const { queueName, jobId, queueStatus, schedulerId } = context.request.params as Record<string, string | undefined>;
    // `/api/queues/:queueName/:jobId/retry` → "retry", `/api/queues/:queueName/clean/:queueStatus` → "clean".
    const action = context.route.split('/').filter((s) => s && !s.startsWith(':') && s !== 'api' && s !== 'queues').join(' ') || context.method;
    await this.audit.recordNow({
      actor: operator ? operatorActor(operator) : 'system',
      action: 'queue-board.write',
      details: {
        queue: queueName ?? 'all',
        action,
        ...(jobId ? { jobId } : {}),
        ...(queueStatus ? { queueStatus } : {}),
        ...(schedulerId ? { schedulerId } : {}),
        status: result.status ?? 200,
      },
    });
    return result;
  }

  /** One sync at a time: the board's page fires several requests at once. */
  private syncCampaignQueues(): Promise<void> {
    this.synced = this.synced.catch(() => undefined).then(() => this.sync());
    return this.synced;
  }

  private async sync(): Promise<void> {
    const live = await this.prisma.campaign.findMany({ where: { status: { in: ['running', 'paused'] } }, select: { id: true } });
    const wanted = new Set(live.map((c) => c.id));
    for (const [id, queue] of this.campaignQueues) {
      if (wanted.has(id)) continue;
      for (const { board } of this.boards) board.removeQueue(noticeQueueName(id));
      this.campaignQueues.delete(id);
      await queue.close();
    }
    for (const id of wanted) {
      if (this.campaignQueues.has(id)) continue;
      const queue = new Queue(noticeQueueName(id), { connection: redisConnectionOptions(this.config.redis.url), prefix: this.config.redis.queuePrefix });
      queue.on('error', () => undefined);
      this.campaignQueues.set(id, queue);
      for (const { board, readOnly } of this.boards) board.addQueue(new BullMQAdapter(queue, { readOnlyMode: readOnly }));
    }
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([...this.campaignQueues.values()].map((queue) => queue.close()));
    this.campaignQueues.clear();
  }
}
