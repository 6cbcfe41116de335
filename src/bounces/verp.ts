import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { deriveSubkey, resolveSecretKey } from '../config/master-key.js';

const LOCAL_PREFIX = 'bounces+';
/** 80 bits of HMAC-SHA256: a forger has to guess it per account, and the local part stays within 64 characters. */
const TAG_HEX = 20;
const VERP_LOCAL = /^bounces\+(\d{1,10})\.(\d{1,10})\.([0-9a-f]+)$/;

export type VerpCheck =
  | { kind: 'account'; campaignId: number; accountId: number }
  /** Shaped like ours but the tag does not match: forged or mangled, never acted on. */
  | { kind: 'forged' }
  /** Not an address of BOUNCE_DOMAIN's bounce form at all. */
  | { kind: 'foreign' };

/**
 * VERP envelope senders, `bounces+<campaign>.<account>.<tag>@BOUNCE_DOMAIN`: an asynchronous bounce comes back to
 * the address of the one notice it reports, and the keyed tag means nobody can mail in a bounce for an account.
 */
@Injectable()
export class VerpAddresses {
  private readonly logger = new Logger(VerpAddresses.name);
  private key?: Buffer;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get enabled(): boolean {
    return this.config.bounces !== undefined;
  }

  /** The envelope sender for one notice; undefined without BOUNCE_DOMAIN (the server then uses MAIL_FROM). */
  address(campaignId: number, accountId: number): string | undefined {
    const domain = this.config.bounces?.domain;
    if (!domain) return undefined;
    return `${LOCAL_PREFIX}${campaignId}.${accountId}.${this.tag(campaignId, accountId)}@${domain}`;
  }

  /** Whether `address` has our bounce form (the tag unchecked), e.g. to accept it as an SMTP recipient. */
  isBounceAddress(address: string): boolean {
    return this.check(address).kind !== 'foreign';
  }

  check(address: string): VerpCheck {
    const domain = this.config.bounces?.domain;
    const at = address.lastIndexOf('@');
    // Some relays change the case of a local part; the form is lower-case throughout.
    const local = address.slice(0, at).toLowerCase();
    if (!domain || at < 0 || address.slice(at + 1).toLowerCase() !== domain || !local.startsWith(LOCAL_PREFIX)) return { kind: 'foreign' };
    const match = VERP_LOCAL.exec(local);
    if (!match) return { kind: 'forged' };
    const campaignId = Number(match[1]);
    const accountId = Number(match[2]);
    if (campaignId > 2_147_483_647 || accountId > 2_147_483_647) return { kind: 'forged' };
    const expected = Buffer.from(this.tag(campaignId, accountId));
    const given = Buffer.from(match[3]);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'forged' };
    return { kind: 'account', campaignId, accountId };
  }

  private tag(campaignId: number, accountId: number): string {
    if (!this.key) {
      const master = resolveSecretKey(this.config, this.logger);
      if (!master) throw new Error('BOUNCE_DOMAIN needs SECRET_ENCRYPTION_KEY: the bounce addresses are keyed with it');
      this.key = deriveSubkey(master, 'reset-orchestrator bounce verp hmac v1');
    }
    return createHmac('sha256', this.key).update(`${campaignId}.${accountId}`).digest('hex').slice(0, TAG_HEX);
  }
}
