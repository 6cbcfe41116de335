import { Injectable } from '@nestjs/common';
import type { Client } from 'ldapts';
import { INVALID_CREDENTIALS, diagnostic, resultCode } from './directory-errors.js';
import { DirectoryService } from './directory.service.js';

export interface DirectoryCheck {
  ok: boolean;
  /** One line per step, in plain words. */
  lines: string[];
}

/** ldapts answers a requested attribute the entry lacks with an empty list. */
const present = (value: unknown): boolean => value !== undefined && !(Array.isArray(value) && value.length === 0);

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** noSuchObject */
const NO_SUCH_OBJECT = 32;

/** Why a connection failed, in words an operator can act on. */
function connectionProblem(url: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const text = diagnostic(err);
  if (code === 'ECONNREFUSED') return `cannot reach the directory at ${url}: nothing listens there (is the server running, is the port right?)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot reach the directory at ${url}: the host name does not resolve`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `cannot reach the directory at ${url}: no route to the host`;
  if (/timeout|timed out/i.test(text) || code === 'ETIMEDOUT') return `cannot reach the directory at ${url}: no answer within DIRECTORY_TIMEOUT (a firewall, or the wrong port)`;
  if (/certificate|self.signed|unable to verify|SSL|TLS/i.test(`${code ?? ''} ${text}`)) {
    return `the TLS handshake with ${url} failed: ${text} (is DIRECTORY_TLS_CA_FILE the CA that signed the server's certificate, and does the host name match it?)`;
  }
  return `cannot talk to the directory at ${url}: ${code ?? ''} ${text}`.trim();
}

/** `resetctl directory check`: bind as the service account, look at the base, search one page, say what is wrong. */
@Injectable()
export class DirectoryCheckService {
  constructor(private readonly directory: DirectoryService) {}

  async check(): Promise<DirectoryCheck> {
    const lines: string[] = [];
    const fail = (line: string): DirectoryCheck => ({ ok: false, lines: [...lines, `FAIL ${line}`] });
    const settings = this.directory.settings;
    const client = this.directory.client();
    try {
      try {
        await client.bind(settings.bindDn, settings.bindPassword);
      } catch (err) {
        const code = resultCode(err);
        if (code === INVALID_CREDENTIALS) return fail(`the directory refused the bind as ${settings.bindDn}: wrong DIRECTORY_BIND_DN or the password in DIRECTORY_BIND_PASSWORD_FILE`);
        if (code !== undefined) return fail(`the directory refused the bind as ${settings.bindDn}: ${diagnostic(err) || `result ${code}`}`);
        return fail(connectionProblem(settings.url, err));
      }
      lines.push(`ok   reached ${settings.url} and bound as ${settings.bindDn}`);

      const base = await this.search(client, settings.baseDn, 'base', '(objectClass=*)').catch(asError);
      if (resultCode(base) === NO_SUCH_OBJECT) return fail(`DIRECTORY_BASE_DN ${settings.baseDn} does not exist in the directory (or the service account may not see it)`);
      if (base instanceof Error) return fail(`cannot read DIRECTORY_BASE_DN ${settings.baseDn}: ${diagnostic(base)}`);
      if (!base.length) return fail(`the service account may not read DIRECTORY_BASE_DN ${settings.baseDn}`);
      lines.push(`ok   DIRECTORY_BASE_DN ${settings.baseDn} exists`);

      const users = await this.search(client, settings.baseDn, 'sub', settings.userFilter, [settings.attributes.username, settings.attributes.mail]).catch(asError);
      if (users instanceof Error) return fail(`the search with DIRECTORY_USER_FILTER ${settings.userFilter} failed: ${diagnostic(users)}`);
      if (!users.length) {
        return fail(`DIRECTORY_USER_FILTER ${settings.userFilter} matches nobody under ${settings.baseDn} (or the service account may not read those entries)`);
      }
      const first = users[0];
      if (!present(first[settings.attributes.username])) {
        return fail(`${first.dn} has no ${settings.attributes.username} attribute: set DIRECTORY_ATTR_USERNAME to the attribute that holds user names`);
      }
      lines.push(`ok   DIRECTORY_USER_FILTER ${settings.userFilter} matches users, the first: ${first.dn} (${settings.attributes.username}=${String(first[settings.attributes.username])})`);
      if (!present(first[settings.attributes.mail])) lines.push(`warn ${first.dn} has no ${settings.attributes.mail}: such accounts cannot be sent a reset link`);
      return { ok: true, lines };
    } finally {
      await client.unbind().catch(() => undefined);
    }
  }

  /** The first page (at most 10 entries) of a search. */
  private async search(client: Client, base: string, scope: 'base' | 'sub', filter: string, attributes?: string[]) {
    const pages = client.searchPaginated(base, { scope, filter, attributes, paged: { pageSize: 10 } });
    const page = await pages.next();
    await pages.return(undefined);
    return page.done ? [] : page.value.searchEntries;
  }
}
