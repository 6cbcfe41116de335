import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

/**
 * A keyed hash of the lower-cased sign-in password, kept with a restricted session so a new password that differs
 * from the current one only in case can be refused exactly. HMAC-SHA256, not argon2: it runs on every must-reset
 * sign-in, and its key never leaves the server, so the value in Redis is useless on its own. The key is derived from
 * SECRET_ENCRYPTION_KEY; without it each process uses a random key, and a value sealed by another process reads as
 * absent (the policy then falls back to checking common case variants against the stored hash).
 */
@Injectable()
export class CaseFoldedPasswordService {
  private readonly key: Buffer;
  private readonly keyId: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const master = config.secrets.encryptionKey;
    this.key = master ? Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'case-folded-password', 32)) : randomBytes(32);
    this.keyId = createHmac('sha256', this.key).update('key-id').digest('hex').slice(0, 12);
  }

  seal(password: string): string {
    return `${this.keyId}.${this.mac(password)}`;
  }

  /** Whether `candidate` equals the sealed password up to case; undefined when this process cannot tell. */
  matches(sealed: string, candidate: string): boolean | undefined {
    const [keyId, mac] = sealed.split('.');
    if (keyId !== this.keyId || !mac) return undefined;
    const expected = Buffer.from(mac, 'hex');
    const actual = Buffer.from(this.mac(candidate), 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  private mac(password: string): string {
    return createHmac('sha256', this.key).update(password.toLowerCase()).digest('hex');
  }
}
