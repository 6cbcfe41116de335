import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import { positiveInt, print, withApp } from '../cli-runner.js';

// Loaded when a command runs, not when resetctl starts (see CliModuleLoader).
const applicationsService = async () => (await import('../../integrations/applications/applications.service.js')).ApplicationsService;
const deliveriesService = async () => (await import('../../integrations/webhooks/webhook-deliveries.service.js')).WebhookDeliveriesService;

const collect = (value: string, previous: string[]) => [...previous, value];

/** `username` or `username,externalId` per line; blank lines and a `username` header are skipped. */
export function parseAttachList(text: string): { username: string; externalId?: string }[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line, i) => line && !(i === 0 && /^username(,|$)/i.test(line)))
    .map((line) => {
      const [username, externalId] = line.split(',').map((cell) => cell.trim());
      return externalId ? { username, externalId } : { username };
    });
}

export function registerAppsCommands(program: Command): void {
  const apps = program.command('apps').description('connected applications: the gate their sign-in asks, and webhooks back to them');
  apps
    .command('create')
    .description('register an application; prints its gate key and webhook signing secret once')
    .requiredOption('--name <name>')
    .requiredOption('--return-origin <origin>', 'an origin returnTo may point at (repeatable)', collect, [])
    .requiredOption('--webhook-url <url>', 'https (http only for loopback)')
    .option('--hash-format <format>', 'argon2id or bcrypt: how account.password_reset carries the new password', 'argon2id')
    .action(async (opts: { name: string; returnOrigin: string[]; webhookUrl: string; hashFormat: string }) => {
      if (opts.hashFormat !== 'argon2id' && opts.hashFormat !== 'bcrypt') throw new InvalidArgumentError('--hash-format must be argon2id or bcrypt');
      const Applications = await applicationsService();
      const created = await withApp((get, actor) =>
        get(Applications).create({ name: opts.name, returnOrigins: opts.returnOrigin, webhookUrl: opts.webhookUrl, hashFormat: opts.hashFormat as never }, actor),
      );
      print(`application ${created.name} created. Shown once, store them now:\n  application key: ${created.key}\n  webhook secret:  ${created.secret}`);
    });
  apps
    .command('list')
    .description('applications')
    .action(async () => {
      const rows = await withApp(async (get) => get(await applicationsService()).list());
      print(rows.map((a) => [a.name, a.enabled ? 'enabled' : 'DISABLED', a.hashFormat, a.webhookUrl, a.returnOrigins.join(' ')].join('\t')).join('\n') || 'no applications');
    });
  apps
    .command('show <name>')
    .description('one application (never its key or secret)')
    .action(async (name: string) => print(await withApp(async (get) => get(await applicationsService()).show(name))));
  apps
    .command('disable <name>')
    .description('refuse its key at the gate and stop its webhooks')
    .action(async (name: string) => {
      await withApp(async (get, actor) => get(await applicationsService()).disable(name, actor));
      print(`application ${name} disabled`);
    });
  apps
    .command('rotate-key <name>')
    .description('issue a new gate key; the old one stops working')
    .action(async (name: string) => {
      const key = await withApp(async (get, actor) => get(await applicationsService()).rotateKey(name, actor));
      print(`new key for ${name}. Shown once, store it now:\n  application key: ${key}`);
    });
  apps
    .command('rotate-secret <name>')
    .description('issue a new webhook signing secret; the old one keeps signing alongside it for WEBHOOK_SECRET_GRACE')
    .action(async (name: string) => {
      const rotated = await withApp(async (get, actor) => get(await applicationsService()).rotateSecret(name, actor));
      print(`new webhook secret for ${name}; the previous one also signs until ${rotated.previousValidUntil.toISOString()}. Shown once:\n  webhook secret: ${rotated.secret}`);
    });
  apps
    .command('attach <name>')
    .description('make accounts sign in through the application\'s gate')
    .option('--all', 'every account not attached to an application yet')
    .option('--usernames <file>', 'one `username` or `username,externalId` per line')
    .action(async (name: string, opts: { all?: boolean; usernames?: string }) => {
      if (Boolean(opts.all) === Boolean(opts.usernames)) throw new InvalidArgumentError('give exactly one of --all or --usernames <file>');
      const accounts = opts.all ? ('all' as const) : parseAttachList(await readFile(opts.usernames!, 'utf8'));
      const result = await withApp(async (get, actor) => get(await applicationsService()).attach(name, accounts, actor));
      print(result.unknown.length ? { attached: result.attached, unknown: result.unknown.slice(0, 50), unknownCount: result.unknown.length } : { attached: result.attached });
      if (result.unknown.length) process.exitCode = 3;
    });
  apps
    .command('deliveries <name>')
    .description('the latest webhook deliveries to the application (200 at most)')
    .option('--failed', 'only failed deliveries and those being retried')
    .action(async (name: string, opts: { failed?: boolean }) => {
      const rows = await withApp(async (get) => get(await deliveriesService()).list(name, Boolean(opts.failed)));
      print(
        rows
          .map((d) =>
            [d.id, d.webhookId, d.type, d.status, `attempts ${d.attempts}`, d.lastStatus ? `HTTP ${d.lastStatus}` : '-', d.createdAt.toISOString(), d.lastReply ?? ''].join('\t'),
          )
          .join('\n') || 'no deliveries',
      );
    });
  apps
    .command('redeliver <id>')
    .description('send a failed delivery again (same webhook-id)')
    .action(async (id: string) => {
      const deliveryId = positiveInt(id);
      const row = await withApp(async (get, actor) => get(await deliveriesService()).redeliver(deliveryId, actor));
      print(`delivery ${row.id} (${row.webhookId}) queued again`);
    });
}
