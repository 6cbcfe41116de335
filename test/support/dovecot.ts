import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { freePort } from '../../bench/support.js';

/**
 * Debian's Dovecot (dovecot-imapd) on a free loopback port with a throw-away dovecot.conf, one user whose Maildir
 * lives in a temp folder, plaintext login (loopback only) and no TLS. Run as root it drops to Debian's dovecot users;
 * otherwise it runs as the current user. `destroy()` stops it and removes everything.
 */
export class Dovecot {
  readonly user = 'bounces';
  readonly password = randomBytes(12).toString('hex');
  port = 0;
  private process?: ChildProcess;

  private constructor(private readonly dir: string) {}

  /** BOUNCE_IMAP_URL for the service under test. */
  url(mailbox = 'INBOX'): string {
    return `imap://${this.user}:${this.password}@127.0.0.1:${this.port}/${mailbox}`;
  }

  static async start(): Promise<Dovecot> {
    const dovecot = new Dovecot(await mkdtemp(join(tmpdir(), 'ro-dovecot-')));
    await dovecot.run();
    return dovecot;
  }

  private async run(): Promise<void> {
    const root = process.getuid?.() === 0;
    const { uid, gid, username } = userInfo();
    // As root, mail is kept as Debian's `dovecot` user (uid 110 on a stock install): Dovecot refuses to deliver as root.
    const mailUser = root ? 'dovecot' : username;
    for (const sub of ['run', 'state', 'mail']) await mkdir(join(this.dir, sub));
    if (root) {
      // Dovecot's auth and mail processes run as its own users: they must reach the folder, the password file and the mail.
      await chmod(this.dir, 0o711);
      const ids = (flag: string) => Number(execFileSync('id', [flag, mailUser]).toString().trim());
      await chown(join(this.dir, 'mail'), ids('-u'), ids('-g'));
    }
    await writeFile(join(this.dir, 'passwd'), `${this.user}:{PLAIN}${this.password}::::::\n`, { mode: 0o644 });
    this.port = await freePort();
    await writeFile(join(this.dir, 'dovecot.conf'), this.config(root, mailUser, uid, gid));
    const child = spawn('dovecot', ['-F', '-c', join(this.dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    this.process = child;
    const log = async () => `${stderr}${(await readFile(join(this.dir, 'dovecot.log'), 'utf8').catch(() => '')).slice(-4000)}`;
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`dovecot exited with ${child.exitCode}: ${await log()}`);
      if (await this.answers()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`dovecot did not answer on 127.0.0.1:${this.port}: ${await log()}`);
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      socket.once('data', (d) => {
        socket.destroy();
        resolve(d.toString().startsWith('* OK'));
      });
      socket.once('error', () => resolve(false));
    });
  }

  /** A client logged in as the bounce user, to put mail into the box and read its flags. */
  async client(): Promise<ImapFlow> {
    const client = new ImapFlow({ host: '127.0.0.1', port: this.port, secure: false, auth: { user: this.user, pass: this.password }, logger: false });
    await client.connect();
    return client;
  }

  async destroy(): Promise<void> {
    const child = this.process;
    if (child && child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private config(root: boolean, mailUser: string, uid: number, gid: number): string {
    const users = root
      ? `default_internal_user = dovecot\ndefault_login_user = dovenull\nfirst_valid_uid = 1`
      : `default_internal_user = ${mailUser}\ndefault_login_user = ${mailUser}\nfirst_valid_uid = ${uid}`;
    return `protocols = imap
listen = 127.0.0.1
base_dir = ${join(this.dir, 'run')}
state_dir = ${join(this.dir, 'state')}
log_path = ${join(this.dir, 'dovecot.log')}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
${users}
mail_location = maildir:${join(this.dir, 'mail')}/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${join(this.dir, 'passwd')}
}
userdb {
  driver = static
  args = uid=${root ? mailUser : uid} gid=${root ? mailUser : gid} home=${join(this.dir, 'mail')}/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${this.port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
`;
  }
}
