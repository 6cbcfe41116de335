import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { BcryptWorkers } from './bcrypt-workers.js';
import { hashScheme, importedHashProblem, verifyPbkdf2, verifySsha } from './stored-hash.js';

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. Runs on libuv's pool, off the event loop. */
export const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const BCRYPT_EXPORT_COST = 12;

@Injectable()
export class PasswordHasherService implements OnModuleDestroy {
  private dummyHash?: Promise<string>;
  private readonly bcrypt = new BcryptWorkers();

  onModuleDestroy(): Promise<void> {
    return this.bcrypt.close();
  }
  /** Running average of how long verifyAgainstDummy takes on this machine now. */
  private dummyMs = 0;
  private waits = 0;

  hash(password: string): Promise<string> {
    return hash(password, ARGON2_OPTIONS);
  }

  /** The new password as a connected application stores it: argon2id PHC, or `$2b$` bcrypt at cost 12. */
  hashFor(format: 'argon2id' | 'bcrypt', password: string): Promise<string> {
    return format === 'bcrypt' ? this.bcrypt.hash(password, BCRYPT_EXPORT_COST) : this.hash(password);
  }

  /**
   * Verifies every format password_hash may hold (see stored-hash.ts). The slow schemes never run on the event loop:
   * argon2 and PBKDF2 on libuv's thread pool, bcrypt in worker threads; a hash costlier than the import caps is never verified.
   */
  async verify(stored: string, password: string): Promise<boolean> {
    if (importedHashProblem(stored)) return false;
    switch (hashScheme(stored)) {
      case 'argon2':
        return verify(stored, password).catch(() => false);
      case 'bcrypt':
        return this.bcrypt.verify(password, stored).catch(() => false);
      case 'pbkdf2':
        return verifyPbkdf2(stored, password);
      case 'ssha':
        return verifySsha(stored, password);
      default:
        return false;
    }
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
