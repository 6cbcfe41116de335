import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import path from 'node:path';
import { Logger } from '@nestjs/common';

/**
 * An offline copy of Pwned Passwords in the public range API's format: one file per first 5 hex digits of the
 * SHA-1 (`<PREFIX>.txt`), each line `SUFFIX:COUNT`. Nothing leaves the host; a lookup reads one file of about 30 kB.
 */
export class BreachedPasswords {
  private readonly logger = new Logger(BreachedPasswords.name);

  constructor(private readonly dir: string) {
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`PASSWORD_PWNED_DIR ${dir} is not a directory`);
  }

  async contains(password: string): Promise<boolean> {
    const hash = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
    const file = path.join(this.dir, `${hash.slice(0, 5)}.txt`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      // An incomplete copy must be noticed, but a user cannot fix it: the other rules still apply.
      this.logger.error('a range file is missing from PASSWORD_PWNED_DIR (incomplete copy?); the breached-password check was skipped for one password');
      return false;
    }
    const suffix = hash.slice(5);
    for (const line of text.split('\n')) {
      // Padded downloads add lines with count 0 that stand for no real password.
      if (line.slice(0, 35).toUpperCase() === suffix) return Number.parseInt(line.slice(36), 10) > 0;
    }
    return false;
  }
}
