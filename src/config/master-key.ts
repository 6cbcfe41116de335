import { hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@nestjs/common';
import type { AppConfig } from './app-config.js';

/**
 * The master key: SECRET_ENCRYPTION_KEY, or outside production a key generated once into
 * SECRET_KEY_FILE (mode 0600). Production without a key refuses rather than invent one a restart would lose.
 */
export function resolveSecretKey(config: AppConfig, logger: Pick<Logger, 'warn'>): Buffer | undefined {
  if (config.secrets.encryptionKey) return config.secrets.encryptionKey;
  if (config.env === 'production') return undefined;
  const file = path.resolve(config.secrets.keyFile);
  try {
    return readKeyFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  try {
    // link() fails when another process won the race, so every process ends up with the same key.
    linkSync(temp, file);
    logger.warn(`SECRET_ENCRYPTION_KEY is not set; generated a development key in ${file}. Production refuses to run without the setting.`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(temp);
  }
  return readKeyFile(file);
}

function readKeyFile(file: string): Buffer {
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}

/** A 32-byte key for one purpose, so no two uses (cipher, MACs, the audit chain) ever share a key. */
export function deriveSubkey(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
}
