import { randomBytes } from 'node:crypto';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { JOBS, QUEUES, type SendUserMailJob } from '../../queues/queue-names.js';

const JOB_OPTIONS = { attempts: 5, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: 1000, removeOnFail: 5000 };

/** Queues mail a user asked for on its own queue, so it never waits behind a campaign's notice backlog. */
@Injectable()
export class UserMailService {
  constructor(@InjectQueue(QUEUES.userMail) private readonly queue: Queue<SendUserMailJob>) {}

  /** The job carries only the account: the worker creates the token, so no token ever sits in Redis. */
  async requestResetLink(accountId: number): Promise<void> {
    const requestId = randomBytes(8).toString('hex');
    await this.queue.add(JOBS.sendUserMail, { kind: 'reset-link', accountId, requestId }, { ...JOB_OPTIONS, jobId: `reset-link-${accountId}-${requestId}` });
  }

  async confirmPasswordChanged(accountId: number): Promise<void> {
    const requestId = randomBytes(8).toString('hex');
    await this.queue.add(JOBS.sendUserMail, { kind: 'password-changed', accountId, requestId }, { ...JOB_OPTIONS, jobId: `password-changed-${accountId}-${requestId}` });
  }
}
