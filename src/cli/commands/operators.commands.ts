import { type Command, InvalidArgumentError } from 'commander';
import { AuditService } from '../../audit/audit.service.js';
import { OperatorsService } from '../../operators/operators.service.js';
import { CLI_ACTOR, print, withApp } from '../cli-runner.js';

export function registerOperatorsCommands(program: Command): void {
  const operators = program.command('operators').description('operator accounts (admin, responder, manager)');
  operators
    .command('create')
    .requiredOption('--username <username>')
    .requiredOption('--role <role>', 'admin, responder or manager')
    .action(async (opts: { username: string; role: string }) => {
      if (!['admin', 'responder', 'manager'].includes(opts.role)) throw new InvalidArgumentError('--role must be admin, responder or manager');
      const created = await withApp((get) => get(OperatorsService).create(opts.username, opts.role as never, CLI_ACTOR));
      print(`operator ${opts.username} (${opts.role}) created. Shown once, store them now:\n  password:  ${created.password}\n  API token: ${created.token}`);
    });

  const audit = program.command('audit').description('the append-only audit log');
  audit
    .command('verify')
    .description('check the hash chain; exits 1 when an entry was removed or edited')
    .action(async () => {
      const result = await withApp((get) => get(AuditService).verify());
      print(result);
      if (!result.ok) process.exitCode = 1;
    });
}
