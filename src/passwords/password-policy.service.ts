import { readFileSync } from 'node:fs';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { dictionary } from '@zxcvbn-ts/language-common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import type { PolicyPreset } from '../generated/prisma/enums.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { BreachedPasswords } from './breached-passwords.js';
import { CaseFoldedPasswordService } from './case-folded-password.service.js';
import { PasswordHasherService } from './password-hasher.service.js';
import { type PolicyFailure, type PolicyOptions, caseVariants, checkSyntax, describePreset } from './password-policy.js';

/** The account fields the policy reads. */
export interface PolicyAccount {
  id: number;
  username: string;
  email: string | null;
  policyPreset: PolicyPreset;
  passwordHash: string | null;
  passwordChangedAt: Date | null;
}

export interface EvaluateOptions {
  /** A change the system demands (breach reset, expired or temporary password) is never held back by MINCHANGE. */
  forced: boolean;
  /** The sealed lower-cased current password kept from sign-in (CaseFoldedPasswordService): makes the case-change rule exact. */
  currentCaseFolded?: string;
}

/** Reads an operator's blocklist: one password a line, blank lines and `#` comments ignored, matched case-insensitively. */
export function readBlocklist(file: string | undefined): Set<string> {
  if (!file) return new Set();
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  return new Set(lines.map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.toLowerCase()));
}

/**
 * The one password policy engine (presets nist and racf) every flow that sets a password uses:
 * the user's reset, the forced change after an expired or temporary password, and generated temporary passwords.
 */
@Injectable()
export class PasswordPolicyService implements OnModuleInit {
  private options: PolicyOptions;
  private breached?: BreachedPasswords;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly hasher: PasswordHasherService,
    private readonly caseFolded: CaseFoldedPasswordService,
  ) {}

  onModuleInit(): void {
    this.options = {
      racfRelaxed: this.config.passwords.racfRelaxed,
      mfa: this.config.passwords.mfa,
      commonPasswords: new Set(dictionary['passwords-common'].map((p) => p.toLowerCase())),
      blocklist: readBlocklist(this.config.passwords.blocklistFile),
    };
    if (this.config.passwords.pwnedDir) this.breached = new BreachedPasswords(this.config.passwords.pwnedDir);
  }

  describe(preset: PolicyPreset): string[] {
    return describePreset(preset, this.options);
  }

  /** For a server-generated temporary password: the preset's rules that do not depend on the account's history. */
  checkGenerated(password: string, account: Pick<PolicyAccount, 'username' | 'email' | 'policyPreset'>): PolicyFailure[] {
    return checkSyntax(password, { username: account.username, email: account.email, preset: account.policyPreset }, this.options);
  }

  /** Every rule a user-chosen password breaks, all at once; empty when it may be set. */
  async evaluate(password: string, account: PolicyAccount, options: EvaluateOptions): Promise<PolicyFailure[]> {
    const failures = this.checkGenerated(password, account);
    // Every preset: a password from a breach corpus is what credential stuffing tries, on a mainframe as anywhere.
    if (await this.breached?.contains(password)) {
      failures.push({ rule: 'breached', message: 'This password has appeared in a data breach, so attackers have it on their lists; choose another.' });
    }
    const minChange = this.config.passwords.minChangeSeconds;
    if (!options.forced && minChange && account.passwordChangedAt) {
      const allowedAt = new Date(account.passwordChangedAt.getTime() + minChange * 1000);
      if (allowedAt > new Date()) {
        failures.push({ rule: 'min-change-interval', message: `Your password was changed recently; you can change it again after ${allowedAt.toISOString()}.` });
      }
    }
    if (account.passwordHash && (await this.sameAsCurrent(password, account.passwordHash, options.currentCaseFolded))) {
      failures.push({ rule: 'same-as-current', message: 'Choose a password that differs from your current one by more than upper/lower case.' });
    } else if (await this.inHistory(account, password)) {
      failures.push({
        rule: 'recently-used',
        message: `Choose a password you have not used before (the last ${this.config.passwords.historySize} are remembered).`,
      });
    }
    return failures;
  }

  /**
   * Exact when the sign-in left a hash of the lower-cased current password; otherwise only a stored hash is
   * known, and the case variants users most often try (lower, UPPER, sWAP, Capitalised) are checked against it.
   */
  private async sameAsCurrent(password: string, currentHash: string, caseFolded: string | undefined): Promise<boolean> {
    const sameUpToCase = caseFolded ? this.caseFolded.matches(caseFolded, password) : undefined;
    if (sameUpToCase !== undefined) return sameUpToCase;
    return this.matchesAny(currentHash, caseVariants(password));
  }

  private async inHistory(account: PolicyAccount, password: string): Promise<boolean> {
    const size = this.config.passwords.historySize;
    if (!size) return false;
    const rows = await this.prisma.passwordHistory.findMany({
      where: { accountId: account.id },
      orderBy: { id: 'desc' },
      take: size,
      select: { passwordHash: true },
    });
    return this.matchesAny(rows.map((r) => r.passwordHash).filter((h) => h !== account.passwordHash), [password]);
  }

  private async matchesAny(hashes: string | string[], candidates: string[]): Promise<boolean> {
    for (const stored of Array.isArray(hashes) ? hashes : [hashes]) {
      for (const candidate of candidates) if (await this.hasher.verify(stored, candidate)) return true;
    }
    return false;
  }
}
