import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { MailTransportService } from '../../mail/mail-transport.service.js';
import { PrismaService } from '../../prisma/prisma.service.js';
import { formatDateTime } from '../../templates/locale.js';
import { UserMailRendererService } from './user-mail-renderer.service.js';

/** "Your password was changed; if this was not you, contact security." No link, ever. */
@Injectable()
export class PasswordChangedMailService {
  private readonly logger = new Logger(PasswordChangedMailService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly renderer: UserMailRendererService,
    private readonly mail: MailTransportService,
  ) {}

  async send(accountId: number): Promise<'sent' | 'no-address'> {
    const account = await this.prisma.account.findUnique({ where: { id: accountId } });
    if (!account?.email || !account.passwordChangedAt) return 'no-address';
    const rendered = this.renderer.render('password-changed', account, {
      changedAt: formatDateTime(account.passwordChangedAt, account.locale, this.config.audience.timeZone),
    });
    // Stable per change, so a retried job is dropped as a duplicate by the receiving side.
    const messageId = `<password-changed-${accountId}-${account.passwordChangedAt.getTime()}@reset-orchestrator>`;
    await this.mail.send({ to: account.email, ...rendered, messageId });
    this.logger.log(`change confirmation mailed to account ${accountId}`);
    return 'sent';
  }
}
