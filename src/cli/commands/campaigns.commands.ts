import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { CampaignPreview, CampaignProgress } from '../../campaigns/campaigns.service.js';
import { MAX_CANARY, MAX_DIGEST_MANAGERS, MAX_LINK_TTL_MINUTES, MAX_NOTICE_RATE, MAX_REMINDERS } from '../../campaigns/campaign-limits.js';
import { parseDuration } from '../../config/app-config.js';
import { parseDomainRates } from '../../notifications/notices/domain-rates.js';
import { describeProblems } from '../../notifications/link-free.js';
import { formatReminderSchedule, parseReminderSchedule } from '../../notifications/notices/reminder-schedule.js';
import { PROGRESS_STATES } from '../../progress/progress-states.js';
import { positiveInt, print, withApp } from '../cli-runner.js';

function campaignId(value: string): number {
  return positiveInt(value);
}

// Loaded when a command runs, not when resetctl starts (see CliModuleLoader).
const campaignsService = async () => (await import('../../campaigns/campaigns.service.js')).CampaignsService;
const noticeRenderer = async () => (await import('../../notifications/notices/notice-renderer.service.js')).NoticeRendererService;

function noticeRate(value: string): number {
  const n = positiveInt(value);
  if (n > MAX_NOTICE_RATE) throw new InvalidArgumentError(`at most ${MAX_NOTICE_RATE} notices per second`);
  return n;
}

function canarySize(value: string): number {
  const n = positiveInt(value);
  if (n > MAX_CANARY) throw new InvalidArgumentError(`a canary is at most ${MAX_CANARY} notices`);
  return n;
}

/** Checks the list as the service will, so a typo is reported before the app starts; passed on as written. */
function domainRates(value: string): string {
  try {
    parseDomainRates(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

/** Checks the schedule as the service will; passed on as written. */
function reminderSchedule(value: string): string {
  try {
    parseReminderSchedule(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

function maxReminders(value: string): number {
  const n = positiveInt(value);
  if (n > MAX_REMINDERS) throw new InvalidArgumentError(`at most ${MAX_REMINDERS} reminders`);
  return n;
}

function digestManagers(value: string): string[] {
  const managers = value.split(',').map((m) => m.trim()).filter(Boolean);
  if (!managers.length || managers.length > MAX_DIGEST_MANAGERS) throw new InvalidArgumentError(`give 1 to ${MAX_DIGEST_MANAGERS} addresses, comma-separated`);
  return managers;
}

function reminderLine(c: { id: number; reminderOffsets: number[]; maxReminders: number | null }): string {
  const schedule = c.reminderOffsets.length ? formatReminderSchedule(c.reminderOffsets) : 'none';
  return `campaign ${c.id}: reminders ${schedule} after launch${c.maxReminders ? `, at most ${c.maxReminders}` : ''}`;
}

function linkTtlMinutes(value: string): number {
  let seconds: number;
  try {
    seconds = parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 1 || minutes > MAX_LINK_TTL_MINUTES) throw new InvalidArgumentError('the link lifetime must be 1m to 24h');
  return minutes;
}

/** One username per line; blank lines, `#` comments and a `username` header line are skipped. */
async function readUsernames(file: string): Promise<string[]> {
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/).map((l) => l.split(',')[0].trim());
  return lines.filter((l, i) => l && !l.startsWith('#') && !(i === 0 && l.toLowerCase() === 'username'));
}

function previewReport(preview: CampaignPreview, id: number): string {
  const { gaps } = preview;
  const lines = [
    `accounts to flag:           ${preview.toFlag}`,
    '',
    'left out unless you decide otherwise (launch refuses while any is not 0; --accept-gaps to go ahead):',
  ];
  if (preview.usernamesNotFound) {
    const { count, sample } = preview.usernamesNotFound;
    lines.push(`  usernames with no account:    ${count}${count ? ` (${sample.slice(0, 20).join(', ')}${count > 20 ? ', …' : ''}; all: resetctl campaign unknown-usernames ${id})` : ''}`);
  }
  lines.push(
    `  cannot reach pre-reset page:  ${gaps.cannotReachPreReset} (no password here, no application, no directory)`,
    `  disabled:                     ${gaps.disabled}`,
    `  without a verified email:     ${gaps.withoutVerifiedEmail} (no notice, no reset link: admin-assisted path)`,
    '',
  );
  lines.push(
    `link check:                 ${preview.linkCheck.ok ? 'passed (no link anywhere in the notice)' : `FAILED: ${describeProblems(preview.linkCheck.problems)}`}`,
    '',
    `Subject: ${preview.notice.subject}`,
    '',
    preview.notice.text.trimEnd(),
  );
  return lines.join('\n');
}

function progressBar(p: CampaignProgress): string {
  const width = 30;
  const done = p.total ? p.counts.completed / p.total : 0;
  const bar = '#'.repeat(Math.round(done * width)).padEnd(width, '-');
  const states = PROGRESS_STATES.filter((s) => p.counts[s]).map((s) => `${s} ${p.counts[s]}`).join('  ');
  return `[${bar}] ${(done * 100).toFixed(1)}% reset  ${p.status}${p.flaggingDone ? '' : ' (flagging)'}  ${p.total} accounts  ${states}`;
}

/** `resetctl campaign …`, `resetctl notices …` and `resetctl templates …`. */
export function registerCampaignCommands(program: Command): void {
  const campaign = program.command('campaign').description('breach-response campaigns');

  campaign
    .command('create')
    .description('create a draft campaign; prints its id and the preview')
    .requiredOption('--name <name>', 'campaign name')
    .requiredOption('--incident <ref>', 'incident reference shown in the notice')
    .option('--reason <text>', 'reason shown to users', 'We have reason to believe that some passwords may have been exposed.')
    .option('--all', 'every account')
    .option('--usernames <file>', 'a file with one username per line')
    .option('--org-unit <unit>', 'every account of this org unit')
    .option('--rate <n>', 'notices per second across all workers', noticeRate, 50)
    .option('--domain-rate <list>', 'notices per second per recipient domain, shared by all campaigns, e.g. gmail.com=20,outlook.com=20,*=50', domainRates)
    .option('--link-ttl <duration>', 'lifetime of the reset links users ask for (1m to 24h)', linkTtlMinutes, 30)
    .option('--template <name>', 'notice template under templates/mail', 'breach-notice')
    .option('--remind <schedule>', 'reminders after launch to accounts still to reset, e.g. 3d,7d,14d (s, m, h, d)', reminderSchedule)
    .option('--max-reminders <n>', 'send at most N reminders of the schedule', maxReminders)
    .option('--digest-to <addresses>', 'managers who get a daily digest of counts per org unit, e.g. a@example.org,b@example.org', digestManagers)
    .action(async (opts: {
      name: string; incident: string; reason: string; all?: boolean; usernames?: string; orgUnit?: string; rate: number; domainRate?: string; linkTtl: number; template: string;
      remind?: string; maxReminders?: number; digestTo?: string[];
    }) => {
      const scopes = [opts.all, opts.usernames, opts.orgUnit].filter(Boolean).length;
      if (scopes !== 1) throw new InvalidArgumentError('give exactly one of --all, --usernames FILE, --org-unit X');
      const usernames = opts.usernames ? await readUsernames(opts.usernames) : undefined;
      const Campaigns = await campaignsService();
      const { campaign: created, preview } = await withApp((get, actor) =>
        get(Campaigns).create(
          {
            name: opts.name,
            incidentRef: opts.incident,
            reason: opts.reason,
            scope: opts.all ? 'all' : usernames ? 'usernames' : 'org_unit',
            usernames,
            orgUnit: opts.orgUnit,
            noticeRate: opts.rate,
            domainRates: opts.domainRate,
            linkTtlMinutes: opts.linkTtl,
            template: opts.template,
            reminders: opts.remind,
            maxReminders: opts.maxReminders,
            digestTo: opts.digestTo,
          },
          actor,
        ),
      );
      print(`campaign ${created.id} created (draft), phrase "${created.phrase}"\n${created.reminderOffsets.length ? `${reminderLine(created)}\n` : ''}\n${previewReport(preview, created.id)}`);
      if (!preview.linkCheck.ok) process.exitCode = 2;
    });

  campaign
    .command('preview <id>')
    .description('what launching would do, with a sample notice and the link check')
    .action(async (id: string) => {
      const preview = await withApp(async (get) => get(await campaignsService()).preview(campaignId(id)));
      print(previewReport(preview, campaignId(id)));
      if (!preview.linkCheck.ok) process.exitCode = 2;
    });

  campaign
    .command('list')
    .description('all campaigns')
    .action(async () => {
      const campaigns = await withApp(async (get) => get(await campaignsService()).list());
      print(campaigns.map((c) => `${c.id}\t${c.status}\t${c.incidentRef}\t${c.name}`).join('\n') || 'no campaigns');
    });

  campaign
    .command('unknown-usernames <id>')
    .description('every username of the campaign\'s list that matches no account, as CSV on stdout')
    .action(async (id: string) => {
      await withApp(async (get) => {
        const csv = await get(await campaignsService()).unknownUsernamesCsv(campaignId(id));
        for await (const chunk of csv.getStream()) process.stdout.write(chunk as string);
      });
    });

  campaign
    .command('launch <id>')
    .description('flag the scope (in batches, in the worker) and start sending notices; refuses while the preview counts anyone left out')
    .option('--accept-gaps', 'launch although usernames match no account or accounts cannot sign in, are disabled or have no verified email')
    .option('--canary <n>', 'send only the first N notices, then pause: read one (and check the spam folder) before `resume`', canarySize)
    .action(async (id: string, opts: { acceptGaps?: boolean; canary?: number }) => {
      const result = await withApp(async (get, actor) => get(await campaignsService()).launch(campaignId(id), actor, opts));
      print(progressBar(result.progress));
      if (opts.canary) print(`canary: the first ${opts.canary} notices go out, then the campaign pauses. Read one, then: resetctl campaign resume ${result.id}`);
    });

  const action = (name: 'pause' | 'resume', description: string) =>
    campaign
      .command(`${name} <id>`)
      .description(description)
      .action(async (id: string) => {
        const result = await withApp(async (get, actor) => get(await campaignsService())[name](campaignId(id), actor));
        print(progressBar(result.progress));
      });
  action('pause', 'stop sending notices at once');
  action('resume', 'continue sending where it stopped');

  campaign
    .command('cancel <id>')
    .description('stop the campaign; with --clear-must-reset also lift must-reset from accounts that have not reset')
    .option('--clear-must-reset', 'lift must-reset and revoke unused reset links of accounts that have not reset yet')
    .action(async (id: string, opts: { clearMustReset?: boolean }) => {
      const result = await withApp(async (get, actor) => get(await campaignsService()).cancel(campaignId(id), opts.clearMustReset ?? false, actor));
      print(`campaign ${result.id} cancelled: ${result.cancelled} open accounts cancelled, must-reset cleared for ${result.cleared}`);
    });

  campaign
    .command('rate <id> <rate>')
    .description('change the notice rate (messages per second), also while running')
    .action(async (id: string, rate: string) => {
      const perSecond = noticeRate(rate);
      const Campaigns = await campaignsService();
      const result = await withApp((get, actor) => get(Campaigns).setRate(campaignId(id), perSecond, actor));
      print(`campaign ${result.id}: ${result.noticeRate} notices per second`);
    });

  campaign
    .command('reminders <id> <schedule>')
    .description('change the reminder schedule (e.g. 3d,7d,14d; "" for none), also while running; offsets count from launch')
    .option('--max-reminders <n>', 'send at most N reminders of the schedule', maxReminders)
    .action(async (id: string, schedule: string, opts: { maxReminders?: number }) => {
      const reminders = reminderSchedule(schedule);
      const Campaigns = await campaignsService();
      const result = await withApp((get, actor) => get(Campaigns).setReminders(campaignId(id), { reminders, maxReminders: opts.maxReminders }, actor));
      print(reminderLine(result));
    });

  campaign
    .command('digest <id> <addresses>')
    .description('managers who get the daily digest of counts per org unit (comma-separated; "" stops it)')
    .action(async (id: string, addresses: string) => {
      const managers = addresses.trim() ? digestManagers(addresses) : [];
      const Campaigns = await campaignsService();
      const result = await withApp((get, actor) => get(Campaigns).setDigest(campaignId(id), managers, actor));
      print(`campaign ${result.id}: daily digest to ${result.digestTo.length} manager(s)`);
    });

  campaign
    .command('status <id>')
    .description('per-state counts; --watch redraws a live progress bar')
    .option('--watch', 'refresh every 2 seconds until the campaign completes or is cancelled')
    .action(async (id: string, opts: { watch?: boolean }) => {
      await withApp(async (get) => {
        const campaigns = get(await campaignsService());
        for (;;) {
          const progress = await campaigns.progressOf(campaignId(id));
          if (!opts.watch) return print({ ...progress, bar: progressBar(progress) });
          process.stdout.write(`\r${progressBar(progress)}\x1b[K`);
          if (progress.status === 'completed' || progress.status === 'cancelled') return process.stdout.write('\n');
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      });
    });

  const notices = program.command('notices').description('campaign notices');
  notices
    .command('failed <id>')
    .description('accounts whose notice failed, with the SMTP reply')
    .option('--limit <n>', 'how many', positiveInt, 1000)
    .action(async (id: string, opts: { limit: number }) => {
      const page = await withApp(async (get) => get(await campaignsService()).accountsPage(campaignId(id), { state: 'notice_failed', limit: Math.min(opts.limit, 1000) }));
      print(page.items.map((r) => `${r.username}\t${r.email ?? '-'}\tattempts ${r.noticeAttempts}\t${r.noticeError ?? ''}`).join('\n') || 'no failed notices');
    });
  notices
    .command('retry <id>')
    .description('send every failed notice again (within the campaign throttle)')
    .action(async (id: string) => print(await withApp(async (get, actor) => get(await campaignsService()).retryFailed(campaignId(id), actor))));

  const templates = program.command('templates').description('notice templates');
  templates
    .command('preview <name>')
    .description('render a sample notice and run the link check (exit code 2 when it fails)')
    .option('--locale <locale>', 'locale to render', 'en')
    .action(async (name: string, opts: { locale: string }) => {
      const result = await withApp(async (get) => get(await noticeRenderer()).previewTemplate(name, opts.locale));
      print(
        `Subject: ${result.sample.subject}\n\n${result.sample.text.trimEnd()}\n\n` +
          (result.problems.length ? `link check FAILED: ${describeProblems(result.problems)}` : 'link check passed: no link anywhere in the notice'),
      );
      if (result.problems.length) process.exitCode = 2;
    });
}
