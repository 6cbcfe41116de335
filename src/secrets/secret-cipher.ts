import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, ServiceUnavailableException } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { deriveSubkey, resolveSecretKey } from '../config/master-key.js';

export interface SealedSecret {
  ciphertext: Uint8Array<ArrayBuffer>;
  iv: Uint8Array<ArrayBuffer>;
  authTag: Uint8Array<ArrayBuffer>;
}

export class SecretKeyMissingError extends ServiceUnavailableException {
  constructor() {
    super('temporary passwords are disabled: set SECRET_ENCRYPTION_KEY (32 bytes, base64: openssl rand -base64 32)');
  }
}

/** AES-256-GCM for one-time secrets, and the keyed MACs that bind reveal forms and codes to a secret. */
@Injectable()
export class SecretCipher implements OnApplicationBootstrap {
  private readonly logger = new Logger(SecretCipher.name);
  private keys?: { encryption: Buffer; mac: Buffer };

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onApplicationBootstrap(): void {
    if (this.config.env === 'production' && !this.config.secrets.encryptionKey) this.logger.warn(new SecretKeyMissingError().message);
  }

  /** Throws SecretKeyMissingError in production without a key, before anything is changed. */
  assertReady(): void {
    this.derived();
  }

  private derived(): { encryption: Buffer; mac: Buffer } {
    if (!this.keys) {
      const master = resolveSecretKey(this.config, this.logger);
      if (!master) throw new SecretKeyMissingError();
      // Separate subkeys so the cipher key is never also used as an HMAC key.
      this.keys = {
        encryption: deriveSubkey(master, 'reset-orchestrator one-time-secret aes-256-gcm v1'),
        mac: deriveSubkey(master, 'reset-orchestrator one-time-secret mac v1'),
      };
    }
    return this.keys;
  }

  /** `aad` binds the ciphertext to its row (the token hash): moved to another row, it no longer decrypts. */
  encrypt(plaintext: string, aad: string): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.derived().encryption, iv);
    cipher.setAAD(Buffer.from(aad));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { ciphertext: new Uint8Array(ciphertext), iv: new Uint8Array(iv), authTag: new Uint8Array(cipher.getAuthTag()) };
  }

  /** Throws when the ciphertext, IV, tag, AAD or key do not match. */
  decrypt(sealed: SealedSecret, aad: string): string {
    const decipher = createDecipheriv('aes-256-gcm', this.derived().encryption, sealed.iv);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  }

  mac(purpose: string, value: string): string {
    return createHmac('sha256', this.derived().mac).update(`${purpose}\0${value}`).digest('base64url');
  }

  macMatches(purpose: string, value: string, candidate: string | undefined): boolean {
    if (!candidate) return false;
    const expected = Buffer.from(this.mac(purpose, value));
    const given = Buffer.from(candidate);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
