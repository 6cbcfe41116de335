import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { classifySmtpError } from '../../mail/mail-transport.service.js';
import { HandlesJob, handlerOf } from '../../queues/job-handlers.js';
import { QUEUES, type SendUserMailJob } from '../../queues/queue-names.js';
import { PasswordChangedMailService } from './password-changed-mail.service.js';
import { ResetLinkMailService } from './reset-link-mail.service.js';

/** Thin: hands each job to the service that owns its kind; a permanent SMTP refusal is not retried. */
@Processor(QUEUES.userMail, { concurrency: 5 })
export class UserMailProcessor extends WorkerHost {
  private readonly logger = new Logger(UserMailProcessor.name);

  constructor(
    private readonly resetLinks: ResetLinkMailService,
    private readonly passwordChanged: PasswordChangedMailService,
  ) {
    super();
  }

  async process(job: Job<SendUserMailJob>): Promise<string> {
    try {
      const handle = handlerOf<[number], Promise<string>>(this, job.data.kind);
      if (!handle) throw new UnrecoverableError(`no user-mail handler for "${job.data.kind}"`);
      return await handle(job.data.accountId);
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      const failure = classifySmtpError(err);
      this.logger.warn(`${job.data.kind} mail for account ${job.data.accountId} failed: ${failure.reply}`);
      throw failure.permanent ? new UnrecoverableError(failure.reply) : err;
    }
  }

  @HandlesJob('reset-link')
  resetLink(accountId: number): Promise<string> {
    return this.resetLinks.send(accountId);
  }

  @HandlesJob('password-changed')
  passwordChangedMail(accountId: number): Promise<string> {
    return this.passwordChanged.send(accountId);
  }
}
