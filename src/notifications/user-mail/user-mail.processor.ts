import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { type Job, UnrecoverableError } from 'bullmq';
import { classifySmtpError } from '../../mail/mail-transport.service.js';
import { QUEUES, type SendUserMailJob } from '../../queues/queue-names.js';
import { PasswordChangedMailService } from './password-changed-mail.service.js';
import { ResetLinkMailService } from './reset-link-mail.service.js';
import { UnsafeMailError } from './user-mail-renderer.service.js';

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
      switch (job.data.kind) {
        case 'reset-link':
          return await this.resetLinks.send(job.data.accountId);
        case 'password-changed':
          return await this.passwordChanged.send(job.data.accountId);
        default:
          throw new UnrecoverableError(`no user-mail handler for "${job.data.kind}"`);
      }
    } catch (err) {
      if (err instanceof UnrecoverableError) throw err;
      if (err instanceof UnsafeMailError) {
        this.logger.error(`${job.data.kind} mail for account ${job.data.accountId} not sent: ${err.message}`);
        throw new UnrecoverableError(err.message);
      }
      const failure = classifySmtpError(err);
      this.logger.warn(`${job.data.kind} mail for account ${job.data.accountId} failed: ${failure.reply}`);
      throw failure.permanent ? new UnrecoverableError(failure.reply) : err;
    }
  }
}
