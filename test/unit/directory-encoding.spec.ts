import { BerWriter, ConstraintViolationError, InvalidCredentialsError } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { localeOf } from '../../src/accounts/directory/directory-entry.js';
import { adPasswordMustChange, refusalReason } from '../../src/directory/directory-errors.js';
import { PolicyHintsControl, passwordModifyRequest, unicodePwd } from '../../src/directory/password-encoding.js';

const hex = (b: Buffer) => b.toString('hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

describe('Active Directory unicodePwd', () => {
  it('is the quoted password in UTF-16LE', () => {
    expect(hex(unicodePwd('Pa§1'))).toBe('2200' + '5000' + '6100' + 'a700' + '3100' + '2200');
  });

  it('keeps characters outside the BMP as surrogate pairs, low byte first', () => {
    expect(hex(unicodePwd('\u{1F600}'))).toBe('2200' + '3dd8' + '00de' + '2200');
  });

  it('does not escape quotes inside the password (AD takes everything between the outer quotes)', () => {
    expect(hex(unicodePwd('a"b'))).toBe('2200' + '6100' + '2200' + '6200' + '2200');
  });
});

describe('RFC 3062 PasswdModifyRequestValue', () => {
  it('is a SEQUENCE of [0] userIdentity and [2] newPasswd, without oldPasswd', () => {
    expect(hex(passwordModifyRequest('uid=a,dc=x', 'pw'))).toBe('3010' + '800a' + ascii('uid=a,dc=x') + '8202' + ascii('pw'));
  });

  it('counts the length in UTF-8 bytes', () => {
    expect(hex(passwordModifyRequest('cn=é', 'ü'))).toBe('300b' + '8005' + '636e3dc3a9' + '8202' + 'c3bc');
  });
});

describe('LDAP_SERVER_POLICY_HINTS control', () => {
  it('carries SEQUENCE { INTEGER 1 }, not critical', () => {
    const writer = new BerWriter();
    new PolicyHintsControl().write(writer);
    expect(hex(writer.buffer)).toBe('3023' + '0417' + ascii('1.2.840.113556.1.4.2239') + '010100' + '0405' + '3003020101');
  });
});

describe('the directory refusal in plain words', () => {
  it('names what OpenLDAP ppolicy and Active Directory answer', () => {
    const refusal = (text: string) => refusalReason(new ConstraintViolationError(text));
    expect(refusal('Password fails quality checking policy')).toBe("The directory refused this password: it is too short or too simple for the directory's own password policy.");
    expect(refusal('Password is in history of old passwords')).toBe('The directory refused this password: you have used it before. Choose one you have not used.');
    expect(refusal('Password is not being changed from existing value')).toBe('The directory refused this password: it is your current password.');
    expect(refusal('0000052D: Constraint violation - check_password_restrictions: the password does not meet the complexity policy')).toBe(
      "The directory refused this password: it does not meet the directory's length, complexity or history rules.",
    );
    expect(refusal('Custom module says no\u0007')).toBe('The directory refused this password: Custom module says no');
  });
});

describe('preferredLanguage to locale', () => {
  it('takes the first language tag and normalises its case', () => {
    expect(localeOf('en-us')).toBe('en-US');
    expect(localeOf('de')).toBe('de');
    expect(localeOf('fr_CA, fr;q=0.8')).toBe('fr-CA');
    expect(localeOf('x-klingon')).toBeUndefined();
    expect(localeOf(undefined)).toBeUndefined();
  });
});

describe('Active Directory bind sub-codes', () => {
  const bind = (data: string) => new InvalidCredentialsError(`80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data ${data}, v4563`);

  it('tells a right password that must be changed (773) or has expired (532) from a wrong one (52e)', () => {
    expect(adPasswordMustChange(bind('773'))).toBe(true);
    expect(adPasswordMustChange(bind('532'))).toBe(true);
    expect(adPasswordMustChange(bind('52e'))).toBe(false);
    expect(adPasswordMustChange(bind('775'))).toBe(false); // locked out
    expect(adPasswordMustChange(new ConstraintViolationError('AcceptSecurityContext error, data 773,'))).toBe(false);
  });
});
