import { BerWriter, Control } from 'ldapts';

/** RFC 3062 Password Modify extended operation. */
export const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';

/**
 * The request value of RFC 3062: PasswdModifyRequestValue ::= SEQUENCE { userIdentity [0] OCTET STRING OPTIONAL,
 * oldPasswd [1] OCTET STRING OPTIONAL, newPasswd [2] OCTET STRING OPTIONAL }, here without oldPasswd (an
 * administrative change by the service account).
 */
export function passwordModifyRequest(userDn: string, newPassword: string): Buffer {
  const writer = new BerWriter();
  writer.startSequence(0x30);
  writer.writeString(userDn, 0x80);
  writer.writeString(newPassword, 0x82);
  writer.endSequence();
  return writer.buffer;
}

/** Active Directory's unicodePwd value: the password in double quotes, encoded as UTF-16LE (MS-ADTS 3.1.1.3.1.5.2). */
export function unicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

/**
 * LDAP_SERVER_POLICY_HINTS (1.2.840.113556.1.4.2239, Windows Server 2012 and later): makes Active Directory apply
 * password history to an administrative reset as it does to a user's own change. Value: SEQUENCE { INTEGER 1 }.
 */
export class PolicyHintsControl extends Control {
  static readonly type = '1.2.840.113556.1.4.2239';

  constructor() {
    super(PolicyHintsControl.type, { critical: false });
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence(0x30);
    value.writeInt(1);
    value.endSequence();
    writer.writeBuffer(value.buffer, 0x04);
  }
}
