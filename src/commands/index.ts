import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_LIMITS } from '../vocabulary.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, StateError, describe } from '../errors.js';
import { StateStore } from '../state/store.js';
import { parseIsoDay } from '../walk/dates.js';
import { formatExplanation, readExplanation } from './explain.js';
import { formatFindingExplanation, readFindingExplanation } from './explain-finding.js';
import { applyImport, formatImport, openForImport, planImport, readOnlyView, readWazuhDatabase, storeView } from './import-wazuh.js';
import { applyPlan, formatPlan, openForReset, planIsEmpty, planReset } from './reset.js';
import { plural } from './format.js';
import { formatStatus, readStatus } from './status.js';
import { findInstallation, installationDefaults } from '../installation.js';

// The operator's subcommands: `status`, `explain`, `reset` and `import-wazuh`. Results go to stdout;
// an error is one line on stderr starting with `guardduty-wodle: `.

export const COMMANDS = ['status', 'explain', 'reset', 'import-wazuh'] as const;

// The same defaults as the collector's command line: those of the Wazuh installation --wazuh-home
// names or findInstallation finds (<home> below).
const HOME_LINE = '  --wazuh-home DIR  the Wazuh installation whose paths are the defaults (default: found, /var/ossec first)';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const USAGE: Record<(typeof COMMANDS)[number], string> = {
  status: `usage: guardduty-wodle status [--state PATH] [--json] [--all]
  per bucket and partition: last pass, newest object read and its lag, where the next listing starts, done and failed objects
  --state PATH  the state database (default <home>/var/guardduty-wodle/state.db); opened read-only, works while a collector runs
  --json        one JSON document (every failed object)
  --all         list every failed object (default: the first 20 per bucket)
${HOME_LINE}
exit status: 0 report printed (also for an empty state), 2 the state is missing or unreadable`,
  explain: `usage: guardduty-wodle explain BUCKET KEY [--config PATH] [--state PATH] [--max-attempts N] [--rescan-since DAY] [--json]
       guardduty-wodle explain --finding ID [--state PATH] [--json]
  whether the collector read KEY of BUCKET or would read it, and if not, why (configuration and state only, never S3);
  with --finding, the versions of finding ID seen under <finding_updates> changed or first, which were sent and why
  --config PATH     ossec.conf (default <home>/etc/ossec.conf, or etc/wazuh-manager.conf)
  --state PATH      the state database (default <home>/var/guardduty-wodle/state.db); opened read-only
  --max-attempts N  as given to the collector (default ${DEFAULT_LIMITS.maxAttempts})
  --rescan-since DAY  as given to the collector: would a rescan from DAY (YYYY-MM-DD) read the key
  --json            one JSON document
${HOME_LINE}
exit status: 0 answered (whatever the answer), 2 usage error, bad configuration, BUCKET not in it, state missing or unreadable`,
  reset: `usage: guardduty-wodle reset BUCKET [--since YYYY-MM-DD] [--state PATH] [--yes]
  forget what the state knows about BUCKET (or, with --since, its objects from that day on) so that it is read again
  --since DAY   forget only object rows whose day folder is DAY or later, and move window starts back so the next pass lists from DAY
  --state PATH  the state database (default <home>/var/guardduty-wodle/state.db); the collector must be stopped
  --yes         do not ask (required when stdin is not a terminal)
${HOME_LINE}
exit status: 0 done (or nothing to do), 1 not confirmed, 2 usage error, state missing, collector running, no --yes without a terminal`,
  'import-wazuh': `usage: guardduty-wodle import-wazuh [--config PATH] [--state PATH] [--wazuh-db PATH] [--dry-run]
  switch over from Wazuh's aws-s3 wodle: record as done every GuardDuty key Wazuh recorded, and start each partition's listing
  window at the day of the newest key Wazuh read there, so the first pass sends exactly what Wazuh had not sent
  --config PATH    ossec.conf with the <bucket type="guardduty"> blocks to import (default <home>/etc/ossec.conf, or etc/wazuh-manager.conf)
  --state PATH     the state database (default <home>/var/guardduty-wodle/state.db); created if missing; the collector must be stopped
  --wazuh-db PATH  Wazuh's database, opened read-only (default <home>/wodles/aws/s3_cloudtrail.db, table guardduty)
  --dry-run        print what would be imported and where each window would start; write nothing
${HOME_LINE}
exit status: 0 imported (or nothing to import), 2 usage error, bad configuration, not a Wazuh database, collector running`,
};

/** A bad command line: the message is followed by the subcommand's usage. */
class UsageError extends ConfigError {}

function fail(message: string): number {
  process.stderr.write(`guardduty-wodle: ${message}\n`);
  return EXIT_USAGE;
}

function parse(command: (typeof COMMANDS)[number], args: string[], options: NonNullable<ParseArgsConfig['options']>, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, 'wazuh-home': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (!values['help'] && parsed.positionals.length !== positionals) {
    throw new UsageError(`${command} takes ${positionals === 0 ? 'no arguments' : `${positionals} argument${positionals > 1 ? 's' : ''}`}, got ${parsed.positionals.length}`);
  }
  for (const flag of ['state', 'config', 'wazuh-home']) {
    if (values[flag] === '') throw new UsageError(`--${flag} needs a path`);
  }
  const defaults = installationDefaults(findInstallation((values['wazuh-home'] as string | undefined) ?? null));
  const path = (flag: 'config' | 'state' | 'wazuh-db') =>
    (values[flag] as string | undefined) ?? (flag === 'config' ? defaults.config : flag === 'state' ? defaults.state : defaults.wazuhDb);
  return { values, positionals: parsed.positionals, path };
}

async function status(args: string[]): Promise<number> {
  const { values, path } = parse('status', args, { state: { type: 'string' }, json: { type: 'boolean' }, all: { type: 'boolean' } }, 0);
  if (values['help']) return help('status');
  const report = readStatus(path('state'), Date.now());
  process.stdout.write(values['json'] ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report, { all: values['all'] === true }));
  return EXIT_OK;
}

async function explain(args: string[]): Promise<number> {
  // `explain --finding ID` asks about a finding, `explain BUCKET KEY` about an object.
  const forFinding = args.some((arg) => arg === '--finding' || arg.startsWith('--finding='));
  const { values, positionals, path } = parse(
    'explain',
    args,
    {
      config: { type: 'string' },
      state: { type: 'string' },
      json: { type: 'boolean' },
      'max-attempts': { type: 'string' },
      'rescan-since': { type: 'string' },
      finding: { type: 'string' },
    },
    forFinding ? 0 : 2,
  );
  if (values['help']) return help('explain');
  if (forFinding) {
    const id = values['finding'] as string;
    if (id === '') throw new UsageError('--finding needs a finding id');
    const answer = readFindingExplanation(path('state'), id);
    process.stdout.write(values['json'] ? `${JSON.stringify(answer, null, 2)}
` : formatFindingExplanation(answer));
    return EXIT_OK;
  }
  const attemptsText = values['max-attempts'] as string | undefined;
  let maxAttempts = DEFAULT_LIMITS.maxAttempts;
  if (attemptsText !== undefined) {
    maxAttempts = Number(attemptsText);
    if (!/^\d+$/.test(attemptsText) || maxAttempts < 1 || maxAttempts > 1_000_000) throw new UsageError(`--max-attempts ${attemptsText}: use a whole number from 1 to 1000000`);
  }
  const config = loadConfig(path('config'));
  const [bucket, key] = positionals as [string, string];
  const rescanText = values['rescan-since'] as string | undefined;
  const rescanSince = rescanText === undefined ? null : parseIsoDay(rescanText);
  if (rescanText !== undefined && rescanSince === null) throw new UsageError(`--rescan-since ${rescanText}: use a day as YYYY-MM-DD`);
  const answer = readExplanation(config, path('state'), bucket, key, { maxAttempts, now: new Date(), rescanSince });
  process.stdout.write(values['json'] ? `${JSON.stringify(answer, null, 2)}\n` : formatExplanation(answer));
  return EXIT_OK;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function reset(args: string[]): Promise<number> {
  const { values, positionals, path } = parse('reset', args, { since: { type: 'string' }, state: { type: 'string' }, yes: { type: 'boolean' } }, 1);
  if (values['help']) return help('reset');
  const sinceText = values['since'] as string | undefined;
  let since: string | null = null;
  if (sinceText !== undefined) {
    since = parseIsoDay(sinceText);
    if (since === null) throw new UsageError(`--since ${sinceText}: use a day as YYYY-MM-DD`);
  }
  const statePath = path('state');
  const bucket = positionals[0]!;
  const store = openForReset(statePath, (path) => StateStore.open(path, (warning) => process.stderr.write(`guardduty-wodle: warning: ${warning}\n`)));
  try {
    const plan = planReset(bucket, store.bucketPartitions(bucket), store.bucketObjects(bucket), since);
    process.stdout.write(formatPlan(plan, statePath));
    if (planIsEmpty(plan)) return EXIT_OK;
    if (values['yes'] !== true) {
      if (!process.stdin.isTTY) return fail('reset changes the state: add --yes to confirm (stdin is not a terminal, so it cannot ask); nothing changed');
      if (!(await confirm('Forget these rows? [y/N] '))) {
        process.stdout.write('nothing changed\n');
        return EXIT_FAILED;
      }
    }
    const done = applyPlan(store, plan);
    process.stdout.write(
      since === null
        ? `forgot ${plural(done.objects, 'object row')} and ${plural(done.windows, 'partition window')} of bucket ${bucket}\n`
        : `forgot ${plural(done.objects, 'object row')} of bucket ${bucket} and moved ${plural(done.windows, 'partition window')} back\n`,
    );
    return EXIT_OK;
  } finally {
    store.close();
  }
}

async function importWazuh(args: string[]): Promise<number> {
  const { values, path } = parse(
    'import-wazuh',
    args,
    { config: { type: 'string' }, state: { type: 'string' }, 'wazuh-db': { type: 'string' }, 'dry-run': { type: 'boolean' } },
    0,
  );
  if (values['help']) return help('import-wazuh');
  if (values['wazuh-db'] === '') throw new UsageError('--wazuh-db needs a path');
  const config = loadConfig(path('config'));
  const wazuh = readWazuhDatabase(path('wazuh-db'));
  const statePath = path('state');
  const dryRun = values['dry-run'] === true;
  if (dryRun) {
    const state = readOnlyView(statePath);
    try {
      process.stdout.write(formatImport(planImport(config, wazuh, state.view, new Date()), statePath, true));
    } finally {
      state.close();
    }
    return EXIT_OK;
  }
  const store = openForImport(statePath, (path) => StateStore.open(path, (warning) => process.stderr.write(`guardduty-wodle: warning: ${warning}\n`)));
  try {
    const plan = planImport(config, wazuh, storeView(store), new Date());
    applyImport(store, plan);
    process.stdout.write(formatImport(plan, statePath, false));
    return EXIT_OK;
  } finally {
    store.close();
  }
}

function help(command: (typeof COMMANDS)[number]): number {
  process.stdout.write(`${USAGE[command]}\n`);
  return EXIT_OK;
}

export function isCommand(name: string | undefined): name is (typeof COMMANDS)[number] {
  return (COMMANDS as readonly string[]).includes(name ?? '');
}

/** Runs `status`, `explain`, `reset` or `import-wazuh` (argv[0]) and returns the exit status. */
export async function runCommand(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!isCommand(command)) return fail(`unknown command ${command ?? ''}; use one of ${COMMANDS.join(', ')}`);
  try {
    if (command === 'status') return await status(args);
    if (command === 'explain') return await explain(args);
    if (command === 'import-wazuh') return await importWazuh(args);
    return await reset(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`guardduty-wodle: ${describe(err)}\n${USAGE[command]}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError || err instanceof StateError) return fail(describe(err));
    process.stderr.write(`guardduty-wodle: ${command} failed unexpectedly: ${describe(err)}\n`);
    return EXIT_FAILED;
  }
}
