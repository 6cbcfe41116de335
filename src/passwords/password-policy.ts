import type { PolicyPreset } from '../generated/prisma/enums.js';

/** One broken rule, in words a user can act on. */
export interface PolicyFailure {
  rule: string;
  message: string;
}

export interface PolicyOptions {
  /** RACF with the new-password-phrase exit: 9 characters instead of 14. */
  racfRelaxed: boolean;
  /** Every account also has a second factor (PASSWORD_MFA): SP 800-63B-4 then allows 8 characters instead of 15. */
  mfa: boolean;
  /** Lower-cased common passwords and the operator's blocklist. */
  commonPasswords: ReadonlySet<string>;
  blocklist: ReadonlySet<string>;
}

/** Who the password is for: the rules that compare against the account use these. */
export interface PolicySubject {
  username: string;
  email?: string | null;
  preset: PolicyPreset;
}

const IDENTIFIER_MIN = 3;

function length(password: string): number {
  return [...password].length;
}

type LengthOptions = Pick<PolicyOptions, 'racfRelaxed' | 'mfa'>;

/** nist follows NIST SP 800-63B-4 (2025), section 3.1.1.2: 15 characters for a password used alone, 8 as part of MFA. */
export function presetLengths(preset: PolicyPreset, options: LengthOptions): { min: number; max: number } {
  return preset === 'racf' ? { min: options.racfRelaxed ? 9 : 14, max: 100 } : { min: options.mfa ? 8 : 15, max: 128 };
}

/** The rules of a preset as plain sentences, for the new-password form. */
export function describePreset(preset: PolicyPreset, options: LengthOptions): string[] {
  const { min, max } = presetLengths(preset, options);
  const common = ['It must differ from your current password, also in more than upper/lower case, and from your recent passwords.'];
  if (preset === 'racf') {
    return [
      `Use ${min} to ${max} characters.`,
      'Include at least 2 letters (A-Z, a-z) and at least 2 other characters (digits, spaces or punctuation).',
      'Do not repeat the same character more than twice in a row.',
      'Do not include your user ID.',
      ...common,
    ];
  }
  return [
    `Use ${min} to ${max} characters; a few unrelated words make a good one. No special characters are required.`,
    'It must not be a commonly used password or one known from a data breach, and must not contain your username or email name.',
    ...common,
  ];
}

/**
 * The rules that need only the candidate and the account's names (no stored hashes): every failure, not just the first.
 * Rules comparing with the current and earlier passwords live in PasswordPolicyService.
 */
export function checkSyntax(password: string, subject: PolicySubject, options: PolicyOptions): PolicyFailure[] {
  const failures: PolicyFailure[] = [];
  const { min, max } = presetLengths(subject.preset, options);
  const chars = length(password);
  const lower = password.toLowerCase();
  const username = subject.username.toLowerCase();

  if (chars < min) failures.push({ rule: 'min-length', message: `Use at least ${min} characters (this one has ${chars}).` });
  if (chars > max) failures.push({ rule: 'max-length', message: `Use at most ${max} characters (this one has ${chars}).` });

  if (subject.preset === 'racf') {
    if (username && lower.includes(username)) failures.push({ rule: 'contains-user-id', message: 'Do not include your user ID.' });
    const letters = (password.match(/[A-Za-z]/g) ?? []).length;
    if (letters < 2) failures.push({ rule: 'min-alphabetic', message: 'Include at least 2 letters (A-Z or a-z).' });
    if (chars - letters < 2) {
      failures.push({ rule: 'min-non-alphabetic', message: 'Include at least 2 characters that are not letters (digits, spaces or punctuation).' });
    }
    if (/(.)\1\1/su.test(password)) {
      failures.push({ rule: 'repeated-characters', message: 'Do not use the same character more than twice in a row.' });
    }
    return failures;
  }

  if (options.commonPasswords.has(lower)) {
    failures.push({
      rule: 'common-password',
      message: 'This password is on a public list of the most commonly used passwords, so attackers try it first; choose another.',
    });
  }
  if (options.blocklist.has(lower)) {
    failures.push({
      rule: 'blocklisted',
      message: "This password is on your organisation's list of passwords known to attackers (for example from a leak); choose another.",
    });
  }
  if (username.length >= IDENTIFIER_MIN && lower.includes(username)) {
    failures.push({ rule: 'contains-username', message: 'Do not include your username.' });
  }
  const local = subject.email?.split('@')[0]?.toLowerCase() ?? '';
  if (local.length >= IDENTIFIER_MIN && local !== username && lower.includes(local)) {
    failures.push({ rule: 'contains-email', message: 'Do not include the name part of your email address.' });
  }
  return failures;
}

/** The case variants a user most often "changes" a password into, to catch a new password that only changes case. */
export function caseVariants(password: string): string[] {
  const swapped = [...password].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
  const lower = password.toLowerCase();
  const capitalised = lower.charAt(0).toUpperCase() + lower.slice(1);
  return [...new Set([password, lower, password.toUpperCase(), swapped, capitalised])];
}
