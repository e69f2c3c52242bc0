#!/usr/bin/env -S node --max-semi-space-size=2 --optimize-for-size
// V8's defaults let the heap grow far past what the collector holds: dataset (a) of `npm run bench`
// peaks at 140-190 MB on Node 20 and 250-280 MB on Node 24 without these flags, 92-125 MB with them,
// for about 45 % more CPU (still within the floor's: README, Performance). They must be on this line
// (MEMORY_FLAGS, checked by test/packaging.test.ts); a start without them is warned about.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from './config/load.js';
import { Daemon, runOnce, runSubscribers, subscribersOf } from './daemon.js';
import { DEFAULT_LIMITS, type Limits, type RunContext } from './run.js';
import { createOutput, outputLabel, Outputs, parseOutputSpec, type OutputSpec } from './emit/index.js';
import { ConfigError, StateError, describe } from './errors.js';
import { createLogger, LOG_LEVELS, type LogLevel, type Logger } from './log.js';
import { StateStore } from './state/store.js';
import { parseInterval } from './config/values.js';
import type { MetricsServer } from './metrics.js';
import { fanOut, type Telemetry } from './telemetry.js';
import { wantsProgress } from './progress-choice.js';
import { DEFAULT_CONFIG, DEFAULT_STATE } from './defaults.js';
import { parseIsoDay } from './walk/dates.js';

// The SDK's multi-line Node-version notice would break the JSON log stream on stderr; the supported
// Node versions are stated in the README instead.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** The release, as `--version` and the start line say it. */
/** The Node flags of the shebang above: what bounds V8's heap (README, Memory). */
export const MEMORY_FLAGS = ['--max-semi-space-size=2', '--optimize-for-size'];

export const VERSION = '0.1.0';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const DEFAULT_CONCURRENCY = 32;
const DEFAULT_OUTPUT_TIMEOUT = 60;
const DEFAULT_S3_TIMEOUT = 60;
/** After a stop signal, objects in flight get this long to finish before they are abandoned. */
const STOP_GRACE_MS = 20_000;

const USAGE = `usage: guardduty-wodle [--config PATH] [--once] [--state PATH] [--output SPEC]... [--log-level LEVEL] [--concurrency N] [--max-attempts N]
       guardduty-wodle --once --rescan-since YYYY-MM-DD [the flags above]
       guardduty-wodle --check-config [--check-access] [--config PATH] [--output SPEC]... [--state PATH]
       guardduty-wodle status [--state PATH] [--json] [--all]
       guardduty-wodle explain BUCKET KEY [--config PATH] [--state PATH] [--max-attempts N] [--json]
       guardduty-wodle reset BUCKET [--since YYYY-MM-DD] [--state PATH] [--yes]
       guardduty-wodle import-wazuh [--config PATH] [--state PATH] [--wazuh-db PATH] [--dry-run]

  --config PATH      ossec.conf to read <wodle name="aws-s3"> blocks from (default ${DEFAULT_CONFIG})
  --once             one pass over every configured bucket, then exit
  --state PATH       SQLite state database (default ${DEFAULT_STATE})
  --output SPEC      wazuh | wazuh:PATH | unix:PATH | file:PATH | stdout; repeatable (default wazuh)
  --log-level LEVEL  ${LOG_LEVELS.join(' | ')} (default info)
  --concurrency N    objects fetched at once (default ${DEFAULT_CONCURRENCY})
  --output-timeout S seconds a unix: peer may take nothing before the output fails (default ${DEFAULT_OUTPUT_TIMEOUT})
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

export function parseCli(argv: string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        once: { type: 'boolean' },
        state: { type: 'string' },
        output: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        concurrency: { type: 'string' },
        'max-attempts': { type: 'string' },
        'output-timeout': { type: 'string' },
        's3-timeout': { type: 'string' },
        'max-object-bytes': { type: 'string' },
        'max-document-bytes': { type: 'string' },
        'metrics-port': { type: 'string' },
        'sqs-wait': { type: 'string' },
        'metrics-host': { type: 'string' },
        'max-lag': { type: 'string' },
        'max-empty-passes': { type: 'string' },
        'rescan-since': { type: 'string' },
        'check-config': { type: 'boolean' },
        'check-access': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const values = parsed.values;
  const logLevel = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`--log-level ${logLevel}: use one of ${LOG_LEVELS.join(', ')}`);
  }
  const whole = (flag: string, text: string | undefined, fallback: number, min: number, max: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) throw new ConfigError(`--${flag} ${text}: use a whole number from ${min} to ${max}`);
    return value;
  };
  const concurrency = whole('concurrency', values.concurrency, DEFAULT_CONCURRENCY, 1, 1024);
  const limits: Limits = {
    maxAttempts: whole('max-attempts', values['max-attempts'], DEFAULT_LIMITS.maxAttempts, 1, 1_000_000),
    maxObjectBytes: whole('max-object-bytes', values['max-object-bytes'], DEFAULT_LIMITS.maxObjectBytes, 1, Number.MAX_SAFE_INTEGER),
    maxDocumentBytes: whole('max-document-bytes', values['max-document-bytes'], DEFAULT_LIMITS.maxDocumentBytes, 1, 1024 * 1024 * 1024),
  };
  let maxLagSeconds: number | null = null;
  if (values['max-lag'] !== undefined) {
    const parsed = parseInterval(values['max-lag']);
    if (!parsed.ok) throw new ConfigError(`--max-lag ${values['max-lag']}: ${parsed.reason}`);
    maxLagSeconds = parsed.value;
  }
  const rescanSince = values['rescan-since'] === undefined ? null : parseIsoDay(values['rescan-since']);
  if (values['rescan-since'] !== undefined && rescanSince === null) throw new ConfigError(`--rescan-since ${values['rescan-since']}: use a day as YYYY-MM-DD`);
  if (values['check-access'] && !values['check-config']) throw new ConfigError('--check-access is given with --check-config (guardduty-wodle --check-config --check-access)');
  if (values['metrics-host'] === '') throw new ConfigError('--metrics-host needs an address');
  for (const [flag, value] of [['--config', values.config], ['--state', values.state]] as const) {
    if (value === '') throw new ConfigError(`${flag} needs a path`);
  }
  return {
    config: values.config ?? DEFAULT_CONFIG,
    once: values.once ?? false,
    state: values.state ?? DEFAULT_STATE,
    outputs: (values.output ?? ['wazuh']).map(parseOutputSpec),
    logLevel: logLevel as LogLevel,
    concurrency,
    limits,
    outputTimeoutMs: whole('output-timeout', values['output-timeout'], DEFAULT_OUTPUT_TIMEOUT, 1, 86_400) * 1000,
    s3TimeoutMs: whole('s3-timeout', values['s3-timeout'], DEFAULT_S3_TIMEOUT, 1, 86_400) * 1000,
    metricsPort: values['metrics-port'] === undefined ? null : whole('metrics-port', values['metrics-port'], 0, 0, 65_535),
    metricsHost: values['metrics-host'] ?? '127.0.0.1',
    sqsWaitSeconds: whole('sqs-wait', values['sqs-wait'], 20, 0, 20),
    maxLagSeconds,
    maxEmptyPasses: values['max-empty-passes'] === undefined ? null : whole('max-empty-passes', values['max-empty-passes'], 0, 1, 1_000_000),
    rescanSince,
    checkConfig: values['check-config'] ?? false,
    checkAccess: values['check-access'] ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
  };
}

function reportWarnings(config: Config, log: Logger): void {
  for (const warning of config.warnings) log.warn(warning);
}

async function collect(options: CliOptions, config: Config, log: Logger): Promise<number> {
  const outputs = new Outputs(options.outputs.map((spec) => createOutput(spec, log, { timeoutMs: options.outputTimeoutMs })));
  const state = StateStore.open(options.state, (message) => log.warn(message));
  const stop = new AbortController();
  const abandon = new AbortController();
  let stopSignals = 0;
  let receivedSignal: NodeJS.Signals | null = null;
  const onStop = (signal: NodeJS.Signals) => {
    receivedSignal ??= signal;
    stopSignals++;
    if (stopSignals === 1) {
      log.info({ signal }, 'stopping: no new objects; waiting for those in flight');
      stop.abort();
      setTimeout(() => abandon.abort(), STOP_GRACE_MS).unref();
    } else {
      log.warn({ signal }, 'stopping now: objects in flight are abandoned and will be read again');
      abandon.abort();
    }
  };
  let daemon: Daemon | null = null;
  const onHangup = () => {
    log.info('SIGHUP: reopening file outputs and reloading the configuration');
    outputs.reopen().catch((err: unknown) => log.error({ err: describe(err) }, `reopening outputs failed: ${describe(err)}`));
    if (!daemon) return;
    try {
      const fresh = loadConfig(options.config);
      reportWarnings(fresh, log);
      daemon.reload(fresh);
    } catch (err) {
      log.error({ err: describe(err) }, `configuration reload failed, the previous configuration stays in use: ${describe(err)}`);
    }
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHangup);
  const telemetry: Telemetry[] = [];
  let server: MetricsServer | null = null;
  // Metrics (prom-client) and the progress bar are loaded only when asked for.
  if (options.metricsPort !== null) {
    const { Metrics, serveMetrics } = await import('./metrics.js');
    const metrics = new Metrics({ partitions: () => state.partitionNewest(), maxLagSeconds: options.maxLagSeconds, maxEmptyPasses: options.maxEmptyPasses });
    try {
      server = await serveMetrics(metrics, options.metricsHost, options.metricsPort);
    } catch (err) {
      state.close();
      throw new ConfigError(`--metrics-port ${options.metricsPort}: cannot listen on ${options.metricsHost}:${options.metricsPort}: ${describe(err)}`);
    }
    telemetry.push(metrics);
    log.info({ host: options.metricsHost, port: server.port }, `metrics on http://${options.metricsHost}:${server.port}/metrics, health on /health`);
  }
  if (wantsProgress(options, process.stderr)) telemetry.push(new (await import('./progress.js')).ProgressBar(process.stderr, { log }));
  const ctx: RunContext = {
    telemetry: fanOut(telemetry),
    log,
    state,
    outputs,
    concurrency: options.concurrency,
    limits: options.limits,
    s3TimeoutMs: options.s3TimeoutMs,
    stop: stop.signal,
    abandon: abandon.signal,
    now: () => new Date(),
    rescanSince: options.rescanSince,
  };
  const memoryFlagsMissing = MEMORY_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  const started = {
    version: VERSION,
    config: config.file,
    outputs: options.outputs.map(outputLabel),
    state: options.state,
    // Since the process began: Node's own start, loading the command line, reading the configuration.
    startupMs: Math.round(performance.now()),
    memoryFlags: memoryFlagsMissing.length === 0,
  };
  if (memoryFlagsMissing.length > 0) {
    log.warn(
      { missing: memoryFlagsMissing },
      `started without the executable's V8 memory flags (${memoryFlagsMissing.join(' ')}), as \`node dist/src/cli.js\` does: ` +
        `memory may peak well above 128 MB; start dist/src/cli.js itself (its shebang gives them), or node ${MEMORY_FLAGS.join(' ')} dist/src/cli.js`,
    );
  }
  let stopReason = 'done';
  try {
    if (options.once) {
      const buckets = config.wodles.filter((w) => !w.disabled).flatMap((w) => w.buckets.map((b) => b.name));
      log.info({ ...started, mode: 'once', buckets }, `guardduty-wodle ${VERSION} started for one pass: ${buckets.length} bucket(s) of ${config.file}, outputs ${started.outputs.join(', ')}, state ${options.state}`);
      const ok = await runOnce(config, ctx, options.sqsWaitSeconds);
      stopReason = stop.signal.aborted ? `signal ${receivedSignal}` : ok ? 'the pass is done' : 'the pass is done, with failures';
      return ok || stop.signal.aborted ? EXIT_OK : EXIT_FAILED;
    }
    daemon = new Daemon(config, ctx);
    const schedule = daemon.describe();
    log.info(
      { ...started, mode: 'daemon', schedule },
      `guardduty-wodle ${VERSION} started: ${schedule.map((s) => `${s.buckets.join(', ')} ${s.schedule}, next pass ${s.next}`).join('; ') || 'no bucket scheduled'}; ` +
        `outputs ${started.outputs.join(', ')}, state ${options.state}`,
    );
    // Subscribers read their queues all along, beside the scheduled bucket passes.
    const subscribers = await subscribersOf(config, ctx, { once: false, sqsWaitSeconds: options.sqsWaitSeconds });
    await Promise.all([daemon.run(), runSubscribers(subscribers, ctx)]);
    stopReason = `signal ${receivedSignal}`;
    return EXIT_OK;
  } catch (err) {
    stopReason = `error: ${describe(err)}`;
    throw err;
  } finally {
    await server?.close();
    await outputs.close();
    try {
      if (daemon) state.forgetDaemon();
      state.close();
    } catch (err) {
      // Everything recorded was committed before: a WAL that cannot be folded back is replayed on the next open.
      log.error({ err: describe(err) }, describe(err));
      process.exitCode = EXIT_FAILED;
    }
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHangup);
    // What the whole run cost, for the operator and for `npm run bench`.
    const usage = process.resourceUsage();
    const cost = { cpuSeconds: +((usage.userCPUTime + usage.systemCPUTime) / 1e6).toFixed(3), peakRssMb: +(usage.maxRSS / 1024).toFixed(1) };
    log.info({ reason: stopReason, ...cost }, `guardduty-wodle stopped: ${stopReason}`);
  }
}

export async function main(argv: string[]): Promise<number> {
  // The operator's subcommands (status, explain, reset, import-wazuh) have their own flags: src/commands/.
  if (argv[0] === 'status' || argv[0] === 'explain' || argv[0] === 'reset' || argv[0] === 'import-wazuh') {
    return (await import('./commands/index.js')).runCommand(argv);
  }
  let options: CliOptions;
  try {
    options = parseCli(argv);
  } catch (err) {
    process.stderr.write(`guardduty-wodle: ${describe(err)}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (options.version) {
    process.stdout.write(`guardduty-wodle ${VERSION}\n`);
    return EXIT_OK;
  }
  const log = createLogger(options.logLevel);
  // Node's own warnings (deprecations, a library's emitWarning) become JSON lines too: its default
  // printer writes plain text to stderr, which would break the log stream.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => log.warn({ warning: warning.name, code: (warning as { code?: string }).code }, `${warning.name}: ${warning.message}`));
  // A failure no code path expected still becomes one JSON line, never a stack trace on stderr.
  process.on('unhandledRejection', (err) => {
    log.fatal({ err: describe(err), stack: (err as Error)?.stack }, `unexpected failure: ${describe(err)}`);
    process.exit(EXIT_FAILED);
  });
  try {
    const config = loadConfig(options.config);
    reportWarnings(config, log);
    if (options.checkConfig) {
      const { runCheck } = await import('./commands/check.js');
      return await runCheck(config, { outputs: options.outputs, state: options.state, access: options.checkAccess, s3TimeoutMs: options.s3TimeoutMs }, log);
    }
    return await collect(options, config, log);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StateError) {
      process.stderr.write(`guardduty-wodle: ${describe(err)}\n`);
      return EXIT_USAGE;
    }
    log.fatal({ err: describe(err), stack: (err as Error).stack }, `unexpected failure: ${describe(err)}`);
    return EXIT_FAILED;
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  return script !== undefined && import.meta.url === pathToFileURL(realpathSync(script)).href;
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(Math.max(code, Number(process.exitCode ?? 0))),
    (err: unknown) => {
      process.stderr.write(`guardduty-wodle: ${describe(err)}\n`);
      process.exit(EXIT_FAILED);
    },
  );
}
