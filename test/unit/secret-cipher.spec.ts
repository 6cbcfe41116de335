import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/app-config.js';
import { resolveSecretKey } from '../../src/config/master-key.js';
import { SecretCipher, SecretKeyMissingError } from '../../src/secrets/secret-cipher.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const quiet = { warn: () => undefined };

function cipher(env: Record<string, string> = {}): SecretCipher {
  return new SecretCipher(loadConfig({ NODE_ENV: 'test', SECRET_ENCRYPTION_KEY: KEY, ...env }));
}

describe('SecretCipher', () => {
  it('round-trips a value with a fresh IV each time', () => {
    const c = cipher();
    const a = c.encrypt('K7QW2PZN', 'hash-1');
    const b = c.encrypt('K7QW2PZN', 'hash-1');
    expect(a.iv).toHaveLength(12);
    expect(a.authTag).toHaveLength(16);
    expect(Buffer.from(a.iv).equals(Buffer.from(b.iv))).toBe(false);
    expect(Buffer.from(a.ciphertext).toString('utf8')).not.toContain('K7QW2PZN');
    expect(c.decrypt(a, 'hash-1')).toBe('K7QW2PZN');
  });

  it('fails on a tampered ciphertext, tag or IV, another row, or another key', () => {
    const c = cipher();
    const sealed = c.encrypt('K7QW2PZN', 'hash-1');
    const flipped = (bytes: Uint8Array<ArrayBuffer>) => {
      const copy = new Uint8Array(bytes);
      copy[0] ^= 1;
      return copy;
    };
    expect(() => c.decrypt({ ...sealed, ciphertext: flipped(sealed.ciphertext) }, 'hash-1')).toThrow();
    expect(() => c.decrypt({ ...sealed, authTag: flipped(sealed.authTag) }, 'hash-1')).toThrow();
    expect(() => c.decrypt({ ...sealed, iv: flipped(sealed.iv) }, 'hash-1')).toThrow();
    expect(() => c.decrypt(sealed, 'hash-2')).toThrow();
    expect(() => cipher({ SECRET_ENCRYPTION_KEY: Buffer.alloc(32, 8).toString('base64') }).decrypt(sealed, 'hash-1')).toThrow();
  });

  it('binds MACs to their purpose and value', () => {
    const c = cipher();
    const mac = c.mac('reveal-form', 'hash-1');
    expect(c.macMatches('reveal-form', 'hash-1', mac)).toBe(true);
    expect(c.macMatches('reveal-form', 'hash-2', mac)).toBe(false);
    expect(c.macMatches('reveal-code', 'hash-1', mac)).toBe(false);
    expect(c.macMatches('reveal-form', 'hash-1', undefined)).toBe(false);
  });

  it('refuses in production without a key', () => {
    const c = new SecretCipher(loadConfig({ NODE_ENV: 'production' }));
    expect(() => c.assertReady()).toThrow(SecretKeyMissingError);
    expect(() => c.encrypt('x', 'y')).toThrow(/SECRET_ENCRYPTION_KEY/);
  });

  it('outside production generates one key file, mode 0600, and reuses it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ro-key-'));
    const keyFile = path.join(dir, 'var', 'secret-encryption.key');
    const warnings: string[] = [];
    const config = loadConfig({ NODE_ENV: 'development', SECRET_KEY_FILE: keyFile });
    const first = resolveSecretKey(config, { warn: (m: string) => warnings.push(m) });
    const second = resolveSecretKey(config, quiet);
    expect(first).toHaveLength(32);
    expect(second!.equals(first!)).toBe(true);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64').equals(first!)).toBe(true);
    expect(warnings).toHaveLength(1);
    const sealed = new SecretCipher(config).encrypt('v', 'a');
    expect(new SecretCipher(config).decrypt(sealed, 'a')).toBe('v');
  });
});
