import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Runs on libuv's pool, off the event loop. */
export const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const IMPORTED_HASH = /^(\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+|\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53})$/;

export function isSupportedHash(value: string): boolean {
  return IMPORTED_HASH.test(value);
}

@Injectable()
export class PasswordHasherService {
  private dummyHash?: Promise<string>;
  /** Running average of how long verifyAgainstDummy takes on this machine now. */
  private dummyMs = 0;
  private waits = 0;

  hash(password: string): Promise<string> {
    return hash(password, ARGON2_OPTIONS);
  }

  /** Verifies argon2 (any variant) and imported bcrypt hashes. */
  async verify(stored: string, password: string): Promise<boolean> {
    if (stored.startsWith('$2')) return bcrypt.compare(password, stored);
    if (stored.startsWith('$argon2')) return verify(stored, password).catch(() => false);
    return false;
  }

  /**
   * Spends the same time as a real verification for unknown usernames, so the answer time does not
   * tell an attacker whether an account exists.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash('dummy password that matches nothing');
    const dummy = await this.dummyHash;
    const started = performance.now();
    await verify(dummy, password).catch(() => false);
    const took = performance.now() - started;
    this.dummyMs = this.dummyMs ? this.dummyMs * 0.9 + took * 0.1 : took;
    return false;
  }

  /**
   * Waits about as long as verifyAgainstDummy takes, mostly without its CPU cost: a password checked elsewhere (a
   * directory bind) then answers no faster than an unknown username does. One wait in 16 is a real verification, so the
   * average follows the machine's load even when no unknown username comes by.
   */
  async waitAsLongAsAVerify(): Promise<void> {
    if (!this.dummyMs || ++this.waits % 16 === 0) await this.verifyAgainstDummy('timing sample');
    else await sleep(this.dummyMs);
  }
}
