import { type Command, InvalidArgumentError } from 'commander';
import { positiveInt, print, withApp } from '../cli-runner.js';

// Loaded when a command runs, not when resetctl starts (see CliModuleLoader).
const operatorsService = async () => (await import('../../operators/operators.service.js')).OperatorsService;
const auditService = async () => (await import('../../audit/audit.service.js')).AuditService;

const ROLES = ['admin', 'responder', 'manager'];

export function registerOperatorsCommands(program: Command): void {
  const operators = program.command('operators').description('operator accounts (admin, responder, manager)');
  operators
    .command('create')
    .description('create an operator; prints a generated password and an API token once')
    .requiredOption('--username <username>')
    .requiredOption('--role <role>', 'admin, responder or manager')
    .action(async (opts: { username: string; role: string }) => {
      if (!ROLES.includes(opts.role)) throw new InvalidArgumentError('--role must be admin, responder or manager');
      const created = await withApp(async (get, actor) => get(await operatorsService()).create(opts.username, opts.role as never, actor));
      print(`operator ${opts.username} (${opts.role}) created. Shown once, store them now:\n  password:  ${created.password}\n  API token: ${created.token}`);
    });
  operators
    .command('list')
    .description('operators with their roles')
    .action(async () => {
      const rows = await withApp(async (get) => get(await operatorsService()).list());
      print(rows.map((o) => `${o.username}\t${o.role}\t${o.disabledAt ? `disabled ${o.disabledAt.toISOString()}` : 'active'}`).join('\n') || 'no operators');
    });
  operators
    .command('disable <username>')
    .description('disable an operator and revoke its tokens and sessions')
    .action(async (username: string) => {
      await withApp(async (get, actor) => get(await operatorsService()).disable(username, actor));
      print(`operator ${username} disabled`);
    });
  operators
    .command('tokens')
    .description('API tokens (metadata only: tokens are stored hashed)')
    .option('--username <username>', 'only this operator\'s tokens')
    .action(async (opts: { username?: string }) => {
      const rows = await withApp(async (get) => get(await operatorsService()).listTokens(opts.username));
      print(
        rows
          .map((t) =>
            [t.id, t.operator.username, t.operator.role, t.name, `created ${t.createdAt.toISOString()}`, t.lastUsedAt ? `last used ${t.lastUsedAt.toISOString()}` : 'never used', t.revokedAt ? 'REVOKED' : 'active'].join('\t'),
          )
          .join('\n') || 'no tokens',
      );
    });
  operators
    .command('create-token')
    .description('issue another API token for an operator; printed once')
    .requiredOption('--username <username>')
    .requiredOption('--name <name>', 'what the token is for')
    .action(async (opts: { username: string; name: string }) => {
      const created = await withApp(async (get, actor) => get(await operatorsService()).createToken(opts.username, opts.name, actor));
      print(`token ${created.id} for ${opts.username}. Shown once, store it now:\n  API token: ${created.token}`);
    });
  operators
    .command('revoke-token <id>')
    .description('revoke an API token by its id (see `operators tokens`)')
    .action(async (id: string) => {
      const tokenId = positiveInt(id);
      await withApp(async (get, actor) => get(await operatorsService()).revokeToken(tokenId, actor));
      print(`token ${tokenId} revoked`);
    });

  const audit = program.command('audit').description('the append-only audit log');
  audit
    .command('verify')
    .description('check the keyed hash chain against its signed head; exits 1 when an entry was removed, edited, re-hashed or the log cut short')
    .option('--head <value>', 'also compare with a head printed earlier by `audit head` (from the incident record)')
    .action(async (opts: { head?: string }) => {
      const result = await withApp(async (get) => get(await auditService()).verify(opts.head));
      print(result);
      if (!result.ok) process.exitCode = 1;
    });
  audit
    .command('head')
    .description('print the signed head of the audit chain (entry count and last hash) for the incident record')
    .action(async () => {
      const head = await withApp(async (get) => get(await auditService()).head());
      if (!head) {
        process.stderr.write('no signed audit head yet: the log has no entries, or Redis lost the head (run audit verify)\n');
        process.exitCode = 1;
        return;
      }
      print(head);
    });
}
