import { Inject, Injectable, Logger } from '@nestjs/common';
import { Attribute, Change, Client } from 'ldapts';
import type { AppConfig, DirectoryConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { INVALID_CREDENTIALS, DirectoryRefusedError, adPasswordMustChange, DirectoryUnavailableError, isUnavailable, refusalReason, resultCode, unavailable } from './directory-errors.js';
import { PASSWORD_MODIFY_OID, PolicyHintsControl, passwordModifyRequest, unicodePwd } from './password-encoding.js';

/** `reset`: the user's own new password. `temporary`: an administrator's, which the directory makes them change at next bind. */
export type DirectoryPasswordKind = 'reset' | 'temporary';

/** noSuchAttribute: deleting pwdReset from an entry that has none. */
const NO_SUCH_ATTRIBUTE = 16;
/** Results that are the directory's judgement of the password itself (constraintViolation, unwillingToPerform). */
const REFUSAL_CODES = new Set([19, 53]);

/**
 * The LDAP / Active Directory server that accounts with a directory DN sign in to. Every operation opens its own
 * connection: a sign-in bind changes who the connection is, and the service account's connection must never be it.
 */
@Injectable()
export class DirectoryService {
  private readonly logger = new Logger(DirectoryService.name);

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get settings(): DirectoryConfig {
    const directory = this.config.directory;
    if (!directory) throw new DirectoryUnavailableError('no directory is configured (DIRECTORY_URL is not set)');
    return directory;
  }

  /**
   * How long a database transaction that sets a directory password may stay open: the service bind, the change and
   * the pwdReset update, each within the directory timeout (plus connecting), and the database's own share.
   */
  get transactionTimeoutMs(): number {
    return this.settings.timeoutMs * 4 + 5_000;
  }

  /** A new, unbound client with the configured timeouts and CA. */
  client(): Client {
    const { url, timeoutMs, tlsCa } = this.settings;
    // ldapts speaks TLS whenever tlsOptions is given, so only ldaps:// gets them.
    const tlsOptions = url.startsWith('ldaps:') ? { minVersion: 'TLSv1.2' as const, ...(tlsCa ? { ca: tlsCa } : {}) } : undefined;
    return new Client({ url, timeout: timeoutMs, connectTimeout: timeoutMs, tlsOptions });
  }

  /**
   * Checks a password with one simple bind as the user's DN: sent once, never retried (a retry could count twice
   * against the directory's own lockout). `must-change`: right password, but Active Directory will not let it sign in
   * until it is changed. Throws DirectoryUnavailableError when the directory cannot answer.
   */
  async verifyPassword(dn: string, password: string): Promise<boolean | 'must-change'> {
    // A simple bind with an empty password is an unauthenticated bind, which many servers answer with success.
    if (!password) return false;
    const client = this.client();
    try {
      await client.bind(dn, password);
      return true;
    } catch (err) {
      if (this.settings.kind === 'ad' && adPasswordMustChange(err)) return 'must-change';
      if (resultCode(err) !== INVALID_CREDENTIALS && isUnavailable(err)) throw unavailable(err, 'user bind');
      return false;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /**
   * Sets a password as the service account: the RFC 3062 Password Modify operation on OpenLDAP-style servers (the
   * server hashes it and applies its ppolicy), a unicodePwd replace on Active Directory (with the policy-hints control,
   * so its history rule applies too). A temporary password is marked "must change at next bind" (pwdReset, pwdLastSet=0);
   * the user's own password clears that mark. Throws DirectoryRefusedError with the directory's reason, or
   * DirectoryUnavailableError.
   */
  async setPassword(dn: string, password: string, kind: DirectoryPasswordKind): Promise<void> {
    await this.asService('setting a password', async (client) => {
      try {
        if (this.settings.kind === 'ad') {
          const changes = [
            new Change({ operation: 'replace', modification: new Attribute({ type: 'unicodePwd', values: [unicodePwd(password)] }) }),
            new Change({ operation: 'replace', modification: new Attribute({ type: 'pwdLastSet', values: [kind === 'temporary' ? '0' : '-1'] }) }),
          ];
          await client.modify(dn, changes, kind === 'reset' ? new PolicyHintsControl() : undefined);
          return;
        }
        await client.exop(PASSWORD_MODIFY_OID, passwordModifyRequest(dn, password));
      } catch (err) {
        if (REFUSAL_CODES.has(resultCode(err) ?? -1)) throw new DirectoryRefusedError(refusalReason(err));
        throw unavailable(err, 'password modify');
      }
      const pwdReset = new Attribute({ type: 'pwdReset', values: kind === 'temporary' ? ['TRUE'] : [] });
      await client.modify(dn, new Change({ operation: kind === 'temporary' ? 'replace' : 'delete', modification: pwdReset })).catch((err: unknown) => {
        if (resultCode(err) === NO_SUCH_ATTRIBUTE) return;
        // The user's password is already set: failing now would roll back a change the directory has made.
        if (kind === 'reset') return this.logger.warn(`password set, but pwdReset could not be cleared on ${dn}: ${unavailable(err, 'pwdReset').detail}`);
        throw unavailable(err, 'pwdReset');
      });
    });
  }

  /** Runs `work` on a connection bound as the service account (DIRECTORY_BIND_DN). */
  async asService<T>(doing: string, work: (client: Client) => Promise<T>): Promise<T> {
    const { bindDn, bindPassword } = this.settings;
    const client = this.client();
    try {
      await client.bind(bindDn, bindPassword).catch((err: unknown) => {
        throw unavailable(err, `${doing}: service account bind`);
      });
      return await work(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }
}
