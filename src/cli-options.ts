// The collector's command line: USAGE, and parseCli, which turns the flags into CliOptions or a
// ConfigError (exit 2) before anything is opened. src/cli.ts runs them and re-exports both.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parseInterval } from './config/values.js';
import type { EngineAgent } from './emit/engine.js';
import { parseOutputSpec, type OutputSpec } from './emit/index.js';
import { findInstallation, installationDefaults, type Installation } from './installation.js';
import { ConfigError } from './errors.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { DEFAULT_LIMITS, type Limits } from './vocabulary.js';
import { parseIsoDay } from './walk/dates.js';

const DEFAULT_CONCURRENCY = 32;
const DEFAULT_OUTPUT_TIMEOUT = 60;
const DEFAULT_S3_TIMEOUT = 60;

export const USAGE = `usage: guardduty-wodle [--config PATH] [--once] [--state PATH] [--output SPEC]... [--wazuh-home DIR] [--log-level LEVEL] [--concurrency N] [--max-attempts N]
       guardduty-wodle --once --rescan-since YYYY-MM-DD [the flags above]
       guardduty-wodle --check-config [--check-access] [--config PATH] [--output SPEC]... [--state PATH]
       guardduty-wodle status [--state PATH] [--json] [--all]
       guardduty-wodle explain BUCKET KEY [--config PATH] [--state PATH] [--max-attempts N] [--json]
       guardduty-wodle explain --finding ID [--state PATH] [--json]
       guardduty-wodle reset BUCKET [--since YYYY-MM-DD] [--state PATH] [--yes]
       guardduty-wodle import-wazuh [--config PATH] [--state PATH] [--wazuh-db PATH] [--dry-run]

  --wazuh-home DIR   the Wazuh installation that gives the defaults below (default: /var/ossec when its
                     etc/ossec.conf exists, else /var/wazuh-manager when its etc/wazuh-manager.conf does)
  --config PATH      ossec.conf (or wazuh-manager.conf) to read <wodle name="aws-s3"> blocks from
                     (default <home>/etc/ossec.conf, or <home>/etc/wazuh-manager.conf on a 5.x manager)
  --once             one pass over every configured bucket, then exit
  --state PATH       SQLite state database (default <home>/var/guardduty-wodle/state.db)
  --output SPEC      wazuh | wazuh:PATH | wazuh-engine | wazuh-engine:PATH | unix:PATH | file:PATH | stdout;
                     repeatable (default wazuh, or wazuh-engine on a 5.x manager)
  --engine-agent-id ID      wazuh.agent.id (digits) in the batches sent to wazuh-engine (default 000)
  --engine-agent-name NAME  wazuh.agent.name in those batches (default the host name)
  --log-level LEVEL  ${LOG_LEVELS.join(' | ')} (default info)
  --concurrency N    objects fetched at once (default ${DEFAULT_CONCURRENCY})
  --output-timeout S seconds a unix: peer may take nothing, or the engine give no answer, before the output fails (default ${DEFAULT_OUTPUT_TIMEOUT})
  --s3-timeout S     seconds an S3 connection may stay silent before the request fails (default ${DEFAULT_S3_TIMEOUT})
  --max-attempts N   passes that may fail on one object under skip_on_error before it is left failed (default ${DEFAULT_LIMITS.maxAttempts})
  --max-object-bytes N    decompressed bytes one object may hold (default ${DEFAULT_LIMITS.maxObjectBytes})
  --max-document-bytes N  bytes one JSON document may hold (default ${DEFAULT_LIMITS.maxDocumentBytes})
  --metrics-port N   serve Prometheus /metrics and /health on this port (0: any free port; default off)
  --metrics-host H   address the metrics server listens on (default 127.0.0.1)
  --max-lag D        /health is degraded when a partition's newest object read is older than D
                     (like interval: 6h, 2d; default off)
  --max-empty-passes N  /health is degraded after N passes in a row that found no object in any bucket
                     (a wrong path, bucket, aws_account_id or regions; default off)
  --rescan-since DAY list every partition from DAY (YYYY-MM-DD) in the next pass (with --once: this pass) and read
                     every object the state does not know as done; days older than the state keeps are read again
  --sqs-wait S       seconds each SQS long poll waits for messages (default 20; --once drains until one returns nothing)
  --check-config     validate the configuration, print it as JSON (secrets masked), exit; also checks that file:
                     output directories and the state directory are writable (else exit 2) and warns of absent sockets
  --check-access     with --check-config: list each bucket's prefix once (one ListObjectsV2, no object read) and
                     report OK or the precise failure per bucket (exit 1 when any failed)

exit status: 0 every bucket succeeded, 1 a bucket failed, 2 usage or configuration error`;

export interface CliOptions {
  /** The Wazuh installation the defaults came from. */
  installation: Installation;
  engineAgent: EngineAgent;
  config: string;
  once: boolean;
  state: string;
  outputs: OutputSpec[];
  logLevel: LogLevel;
  concurrency: number;
  limits: Limits;
  outputTimeoutMs: number;
  s3TimeoutMs: number;
  metricsPort: number | null;
  sqsWaitSeconds: number;
  metricsHost: string;
  maxLagSeconds: number | null;
  maxEmptyPasses: number | null;
  rescanSince: string | null;
  checkConfig: boolean;
  checkAccess: boolean;
  help: boolean;
  version: boolean;
}

/** Flags given once, each with a value (checked and converted after parsing). */
function takingValues<const Name extends string>(names: readonly Name[]): Record<Name, { type: 'string' }> {
  return Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<Name, { type: 'string' }>;
}

/** The flags as given, strings still; an unknown flag or a missing value is a usage error. */
function readFlags(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...takingValues([
          'config',
          'state',
          'log-level',
          'concurrency',
          'max-attempts',
          'output-timeout',
          's3-timeout',
          'max-object-bytes',
          'max-document-bytes',
          'metrics-port',
          'sqs-wait',
          'metrics-host',
          'max-lag',
          'max-empty-passes',
          'rescan-since',
          'wazuh-home',
          'engine-agent-id',
          'engine-agent-name',
        ]),
        output: { type: 'string', multiple: true },
        once: { type: 'boolean' },
        'check-config': { type: 'boolean' },
        'check-access': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

type Flags = ReturnType<typeof readFlags>;

function wholeNumber(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new ConfigError(`--${flag} ${text}: use a whole number from ${min} to ${max}`);
  return value;
}

function limitsOf(values: Flags): Limits {
  return {
    maxAttempts: wholeNumber('max-attempts', values['max-attempts'], DEFAULT_LIMITS.maxAttempts, 1, 1_000_000),
    maxObjectBytes: wholeNumber('max-object-bytes', values['max-object-bytes'], DEFAULT_LIMITS.maxObjectBytes, 1, Number.MAX_SAFE_INTEGER),
    maxDocumentBytes: wholeNumber('max-document-bytes', values['max-document-bytes'], DEFAULT_LIMITS.maxDocumentBytes, 1, 1024 * 1024 * 1024),
  };
}

function maxLagOf(values: Flags): number | null {
  if (values['max-lag'] === undefined) return null;
  const parsed = parseInterval(values['max-lag']);
  if (!parsed.ok) throw new ConfigError(`--max-lag ${values['max-lag']}: ${parsed.reason}`);
  return parsed.value;
}

/** Flags that only make sense together, and values that are given but empty. */
function checkCombinations(values: Flags): void {
  if (values['check-access'] && !values['check-config']) throw new ConfigError('--check-access is given with --check-config (guardduty-wodle --check-config --check-access)');
  if (values['metrics-host'] === '') throw new ConfigError('--metrics-host needs an address');
  for (const [flag, value] of [['--config', values.config], ['--state', values.state], ['--wazuh-home', values['wazuh-home']]] as const) {
    if (value === '') throw new ConfigError(`${flag} needs a path`);
  }
}

/** The agent named in the engine's batch header: the engine refuses an id that is not all ASCII digits. */
export function engineAgentOf(id: string | undefined, name: string | undefined): EngineAgent {
  if (id !== undefined && !/^[0-9]+$/.test(id)) throw new ConfigError(`--engine-agent-id ${id}: use ASCII digits, like 000 (the engine refuses anything else)`);
  if (name === '') throw new ConfigError('--engine-agent-name needs a name');
  return { id: id ?? '000', name: name ?? hostname() };
}

/**
 * The command line, with the defaults of the Wazuh installation `--wazuh-home` names or `find` finds
 * (findInstallation: a few stat calls).
 */
export function parseCli(argv: string[], find: (home: string | null) => Installation = findInstallation): CliOptions {
  const values = readFlags(argv);
  const logLevel = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level ${logLevel}: use one of ${LOG_LEVELS.join(', ')}`);
  }
  const concurrency = wholeNumber('concurrency', values.concurrency, DEFAULT_CONCURRENCY, 1, 1024);
  const limits = limitsOf(values);
  const maxLagSeconds = maxLagOf(values);
  const rescanSince = values['rescan-since'] === undefined ? null : parseIsoDay(values['rescan-since']);
  if (values['rescan-since'] !== undefined && rescanSince === null) throw new ConfigError(`--rescan-since ${values['rescan-since']}: use a day as YYYY-MM-DD`);
  checkCombinations(values);
  const installation = find(values['wazuh-home'] ?? null);
  const defaults = installationDefaults(installation);
  return {
    installation,
    engineAgent: engineAgentOf(values['engine-agent-id'], values['engine-agent-name']),
    config: values.config ?? defaults.config,
    once: values.once ?? false,
    state: values.state ?? defaults.state,
    outputs: (values.output ?? [defaults.output]).map((spec) => parseOutputSpec(spec, defaults)),
    logLevel: logLevel as LogLevel,
    concurrency,
    limits,
    outputTimeoutMs: wholeNumber('output-timeout', values['output-timeout'], DEFAULT_OUTPUT_TIMEOUT, 1, 86_400) * 1000,
    s3TimeoutMs: wholeNumber('s3-timeout', values['s3-timeout'], DEFAULT_S3_TIMEOUT, 1, 86_400) * 1000,
    metricsPort: values['metrics-port'] === undefined ? null : wholeNumber('metrics-port', values['metrics-port'], 0, 0, 65_535),
    metricsHost: values['metrics-host'] ?? '127.0.0.1',
    sqsWaitSeconds: wholeNumber('sqs-wait', values['sqs-wait'], 20, 0, 20),
    maxLagSeconds,
    maxEmptyPasses: values['max-empty-passes'] === undefined ? null : wholeNumber('max-empty-passes', values['max-empty-passes'], 0, 1, 1_000_000),
    rescanSince,
    checkConfig: values['check-config'] ?? false,
    checkAccess: values['check-access'] ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}
