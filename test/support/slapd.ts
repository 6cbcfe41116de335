import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { freePort } from '../../bench/support.js';

const run = promisify(execFile);

export const BASE_DN = 'dc=example,dc=test';
export const PEOPLE_DN = `ou=people,${BASE_DN}`;
export const ROOT_DN = `cn=admin,${BASE_DN}`;
/** The product's service account: may read people and set their passwords, nothing else (see the ACL below). */
export const SERVICE_DN = `cn=reset-orchestrator,ou=services,${BASE_DN}`;
export const POLICY_DN = `cn=default,ou=policies,${BASE_DN}`;

/** The default ppolicy the test directory enforces on every userPassword change. */
export const DIRECTORY_POLICY = { minLength: 20, inHistory: 3 } as const;

export interface Person {
  uid: string;
  password?: string;
  mail?: string;
  cn?: string;
  ou?: string;
  preferredLanguage?: string;
}

export function personDn(uid: string): string {
  return `uid=${uid},${PEOPLE_DN}`;
}

/** RFC 2307 {SSHA}, how OpenLDAP stores a password it hashed itself. */
function ssha(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString('base64')}`;
}

function ldifValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !/^[ :<]/.test(value) && !value.endsWith(' ') ? ` ${value}` : `: ${Buffer.from(value).toString('base64')}`;
}

export function personLdif(p: Person): string {
  const lines = [
    `dn: ${personDn(p.uid)}`,
    'objectClass: inetOrgPerson',
    `uid: ${p.uid}`,
    `cn:${ldifValue(p.cn ?? p.uid)}`,
    `sn: ${p.uid}`,
  ];
  if (p.mail) lines.push(`mail: ${p.mail}`);
  if (p.ou) lines.push(`ou:${ldifValue(p.ou)}`);
  if (p.preferredLanguage) lines.push(`preferredLanguage: ${p.preferredLanguage}`);
  if (p.password) lines.push(`userPassword: ${ssha(p.password)}`);
  return `${lines.join('\n')}\n\n`;
}

/**
 * Debian's slapd on a free loopback port with a throw-away slapd.conf and an mdb database in a temp folder, the
 * ppolicy overlay enforcing DIRECTORY_POLICY, a root DN for setup and a service account with the rights a real
 * deployment gives the product. `stop()` keeps the data (a directory outage), `start()` brings it back, `destroy()`
 * removes everything.
 */
export class Slapd {
  readonly rootPassword = randomBytes(12).toString('hex');
  readonly servicePassword = randomBytes(12).toString('hex');
  port = 0;
  private process?: ChildProcess;

  private constructor(private readonly dir: string) {}

  get url(): string {
    return `ldap://127.0.0.1:${this.port}`;
  }

  private get confFile(): string {
    return join(this.dir, 'slapd.conf');
  }

  /** Creates the database (people given here are loaded offline with slapadd, the fast way) and starts slapd. */
  static async create(people: Person[] = []): Promise<Slapd> {
    const slapd = new Slapd(await mkdtemp(join(tmpdir(), 'ro-slapd-')));
    await mkdir(join(slapd.dir, 'db'));
    await writeFile(slapd.confFile, slapd.config());
    const seed =
      `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n` +
      ['people', 'staff', 'services', 'policies'].map((ou) => `dn: ou=${ou},${BASE_DN}\nobjectClass: organizationalUnit\nou: ${ou}\n\n`).join('') +
      `dn: ${SERVICE_DN}\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: reset-orchestrator\nsn: service\nuserPassword: ${ssha(slapd.servicePassword)}\n\n` +
      `dn: ${POLICY_DN}\nobjectClass: person\nobjectClass: pwdPolicy\ncn: default\nsn: policy\npwdAttribute: userPassword\n` +
      `pwdMinLength: ${DIRECTORY_POLICY.minLength}\npwdCheckQuality: 2\npwdInHistory: ${DIRECTORY_POLICY.inHistory}\npwdAllowUserChange: TRUE\npwdMustChange: TRUE\n\n` +
      people.map(personLdif).join('');
    const seedFile = join(slapd.dir, 'seed.ldif');
    await writeFile(seedFile, seed);
    await run('slapadd', ['-q', '-f', slapd.confFile, '-l', seedFile]);
    await rm(seedFile);
    slapd.port = await freePort();
    await slapd.start();
    return slapd;
  }

  async start(): Promise<void> {
    const child = spawn('slapd', ['-d', '0', '-h', `${this.url}/`, '-f', this.confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    this.process = child;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`slapd exited with ${child.exitCode}: ${stderr}`);
      const client = new Client({ url: this.url, connectTimeout: 500 });
      try {
        await client.bind(ROOT_DN, this.rootPassword);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        await client.unbind().catch(() => undefined);
      }
    }
    throw new Error(`slapd did not answer on ${this.url}: ${stderr}`);
  }

  /** Stops slapd and waits until the port is closed; the data stays for start(). */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    this.process = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** A client bound as the root DN, for setting up and inspecting entries. */
  async admin(): Promise<Client> {
    const client = new Client({ url: this.url });
    await client.bind(ROOT_DN, this.rootPassword);
    return client;
  }

  /** Whether a simple bind as `dn` with `password` succeeds. */
  async canBind(dn: string, password: string): Promise<boolean> {
    const client = new Client({ url: this.url });
    try {
      await client.bind(dn, password);
      return true;
    } catch {
      return false;
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  private config(): string {
    const schema = ['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`).join('\n');
    return `${schema}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile ${join(this.dir, 'slapd.pid')}
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited
database mdb
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${ssha(this.rootPassword)}
directory ${join(this.dir, 'db')}
maxsize 1073741824
index objectClass,uid eq
access to attrs=userPassword
  by dn.exact="${SERVICE_DN}" write
  by self write
  by anonymous auth
  by * none
access to attrs=pwdReset
  by dn.exact="${SERVICE_DN}" write
  by * read
access to dn.subtree="${PEOPLE_DN}"
  by dn.exact="${SERVICE_DN}" read
  by self read
  by * none
access to *
  by * read
overlay ppolicy
ppolicy_default "${POLICY_DN}"
`;
  }
}

/** DIRECTORY_* settings for the app under test, pointing at `slapd` as the service account. */
export async function directoryEnv(slapd: Slapd, overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  const file = join(await mkdtemp(join(tmpdir(), 'ro-bind-')), 'bind-password');
  await writeFile(file, `${slapd.servicePassword}\n`, { mode: 0o600 });
  return {
    DIRECTORY_URL: slapd.url,
    DIRECTORY_BIND_DN: SERVICE_DN,
    DIRECTORY_BIND_PASSWORD_FILE: file,
    DIRECTORY_BASE_DN: BASE_DN,
    DIRECTORY_TIMEOUT: '5s',
    ...overrides,
  };
}
