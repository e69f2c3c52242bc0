#!/usr/bin/env -S node --max-semi-space-size=2 --optimize-for-size
// V8's defaults let the heap grow far past what the collector holds: dataset (a) of `npm run bench`
// peaks at 140-190 MB on Node 20 and 250-280 MB on Node 24 without these flags, 92-125 MB with them,
// for about 45 % more CPU (still within the floor's: docs/performance.md). They must be on this line
// (MEMORY_FLAGS, checked by test/dockerfile.test.ts and test/process/memory-flags.test.ts); a start
// without them is warned about.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseCli, USAGE, type CliOptions } from './cli-options.js';
import { loadConfig, type Config } from './config/load.js';
import { Daemon, runOnce, runSubscribers, subscribersOf } from './daemon.js';
import type { RunContext, Telemetry } from './vocabulary.js';
import { createOutput, outputLabel, Outputs } from './emit/index.js';
import { ConfigError, StateError, describe } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { StateStore } from './state/store.js';
import type { MetricsServer } from './metrics.js';
import { fanOut } from './telemetry.js';
import { wantsProgress } from './progress-choice.js';

export { parseCli, type CliOptions };

// The SDK's multi-line Node-version notice would break the JSON log stream on stderr; the supported
// Node versions are stated in docs/operations.md instead.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

/** The Node flags of the shebang above: what bounds V8's heap (docs/performance.md, Memory). */
export const MEMORY_FLAGS = ['--max-semi-space-size=2', '--optimize-for-size'];

/** The release, as `--version` and the start line say it. */
export const VERSION = '0.1.0';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** After a stop signal, objects in flight get this long to finish before they are abandoned. */
const STOP_GRACE_MS = 20_000;

function reportWarnings(config: Config, log: Logger): void {
  for (const warning of config.warnings) log.warn(warning);
}

interface Signals {
  stop: AbortSignal;
  abandon: AbortSignal;
  received: () => NodeJS.Signals | null;
  release: () => void;
}

/** SIGTERM and SIGINT stop the run, a second one at once; SIGHUP reopens outputs and reloads the daemon. */
function watchSignals(configFile: string, outputs: Outputs, log: Logger, daemon: () => Daemon | null): Signals {
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
  const onHangup = () => {
    log.info('SIGHUP: reopening file outputs and reloading the configuration');
    outputs.reopen().catch((err: unknown) => log.error({ err: describe(err) }, `reopening outputs failed: ${describe(err)}`));
    const running = daemon();
    if (!running) return;
    try {
      const fresh = loadConfig(configFile);
      reportWarnings(fresh, log);
      running.reload(fresh);
    } catch (err) {
      log.error({ err: describe(err) }, `configuration reload failed, the previous configuration stays in use: ${describe(err)}`);
    }
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHangup);
  const release = () => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHangup);
  };
  return { stop: stop.signal, abandon: abandon.signal, received: () => receivedSignal, release };
}

/** Metrics (prom-client) and the progress bar are loaded only when asked for. */
async function startTelemetry(options: CliOptions, state: StateStore, log: Logger): Promise<{ telemetry: Telemetry; server: MetricsServer | null }> {
  const telemetry: Telemetry[] = [];
  let server: MetricsServer | null = null;
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
  return { telemetry: fanOut(telemetry), server };
}

/** The start line's fields, shared by both modes; a start without the shebang's flags is warned about first. */
function startFields(options: CliOptions, config: Config, log: Logger) {
  const memoryFlagsMissing = MEMORY_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  const { home, kind, why } = options.installation;
  const started = {
    version: VERSION,
    installation: { home, kind, why },
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
  return started;
}

type StartFields = ReturnType<typeof startFields>;

/** The installation the defaults came from, for the start line's text (its fields always carry it). */
function wazuhFound(options: CliOptions): string {
  return options.installation.kind === 'none' ? '' : `; Wazuh: ${options.installation.why}`;
}

/** How a run ended: its exit status and the reason the stop line gives. */
interface RunEnd {
  code: number;
  reason: string;
}

async function collectOnce(options: CliOptions, config: Config, ctx: RunContext, started: StartFields, signals: Signals): Promise<RunEnd> {
  const buckets = config.wodles.filter((w) => !w.disabled).flatMap((w) => w.buckets.map((b) => b.name));
  ctx.log.info(
    { ...started, mode: 'once', buckets },
    `guardduty-wodle ${VERSION} started for one pass: ${buckets.length} bucket(s) of ${config.file}, outputs ${started.outputs.join(', ')}, state ${options.state}${wazuhFound(options)}`,
  );
  const ok = await runOnce(config, ctx, options.sqsWaitSeconds);
  // A pass cut short by a signal is a requested stop, not a failure.
  const stopped = signals.stop.aborted;
  return { code: ok || stopped ? EXIT_OK : EXIT_FAILED, reason: stopped ? `signal ${signals.received()}` : ok ? 'the pass is done' : 'the pass is done, with failures' };
}

async function collectAsDaemon(daemon: Daemon, options: CliOptions, config: Config, ctx: RunContext, started: StartFields, signals: Signals): Promise<RunEnd> {
  const schedule = daemon.describe();
  ctx.log.info(
    { ...started, mode: 'daemon', schedule },
    `guardduty-wodle ${VERSION} started: ${schedule.map((s) => `${s.buckets.join(', ')} ${s.schedule}, next pass ${s.next}`).join('; ') || 'no bucket scheduled'}; ` +
      `outputs ${started.outputs.join(', ')}, state ${options.state}${wazuhFound(options)}`,
  );
  // Subscribers read their queues all along, beside the scheduled bucket passes.
  const subscribers = await subscribersOf(config, ctx, { once: false, sqsWaitSeconds: options.sqsWaitSeconds });
  await Promise.all([daemon.run(), runSubscribers(subscribers, ctx)]);
  return { code: EXIT_OK, reason: `signal ${signals.received()}` };
}

/** What a run holds until it stops, released by shutdown. */
interface Held {
  server: MetricsServer | null;
  outputs: Outputs;
  state: StateStore;
  daemon: Daemon | null;
  signals: Signals;
}

/** However the run ended, normally or by an error. */
async function shutdown(held: Held, stopReason: string, log: Logger): Promise<void> {
  await held.server?.close();
  await held.outputs.close();
  try {
    if (held.daemon) held.state.forgetDaemon();
    held.state.close();
  } catch (err) {
    // Everything recorded was committed before: a WAL that cannot be folded back is replayed on the next open.
    log.error({ err: describe(err) }, describe(err));
    process.exitCode = EXIT_FAILED;
  }
  held.signals.release();
  // What the whole run cost, for the operator and for `npm run bench`.
  const usage = process.resourceUsage();
  const cost = { cpuSeconds: +((usage.userCPUTime + usage.systemCPUTime) / 1e6).toFixed(3), peakRssMb: +(usage.maxRSS / 1024).toFixed(1) };
  log.info({ reason: stopReason, ...cost }, `guardduty-wodle stopped: ${stopReason}`);
}

async function collect(options: CliOptions, config: Config, log: Logger): Promise<number> {
  const outputs = new Outputs(options.outputs.map((spec) => createOutput(spec, log, { timeoutMs: options.outputTimeoutMs, engineAgent: options.engineAgent })));
  const state = StateStore.open(options.state, (message) => log.warn(message));
  let daemon: Daemon | null = null;
  const signals = watchSignals(options.config, outputs, log, () => daemon);
  const { telemetry, server } = await startTelemetry(options, state, log);
  const ctx: RunContext = {
    telemetry,
    log,
    state,
    outputs,
    concurrency: options.concurrency,
    limits: options.limits,
    s3TimeoutMs: options.s3TimeoutMs,
    stop: signals.stop,
    abandon: signals.abandon,
    now: () => new Date(),
    rescanSince: options.rescanSince,
  };
  const started = startFields(options, config, log);
  let stopReason = 'done';
  try {
    let end: RunEnd;
    if (options.once) {
      end = await collectOnce(options, config, ctx, started, signals);
    } else {
      daemon = new Daemon(config, ctx);
      end = await collectAsDaemon(daemon, options, config, ctx, started, signals);
    }
    stopReason = end.reason;
    return end.code;
  } catch (err) {
    stopReason = `error: ${describe(err)}`;
    throw err;
  } finally {
    await shutdown({ server, outputs, state, daemon, signals }, stopReason, log);
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
      return await runCheck(
        config,
        { installation: options.installation, outputs: options.outputs, state: options.state, access: options.checkAccess, s3TimeoutMs: options.s3TimeoutMs },
        log,
      );
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

/** How long the process may stay after main returned before a handle left open is named and cut. */
const EXIT_GRACE_MS = 5_000;

/**
 * Ends the process by letting its event loop run dry, not with process.exit: process.exit shuts Node's
 * platform down while the isolate still lives, and a V8 background compile that waits for a garbage
 * collection then blocks the exit for ever (nodejs/node#64274; seen on Node 24 with this shebang's
 * small young generation). A natural exit tears the isolate down first, which releases such a job.
 * A handle left open would keep the process alive: after the grace it is named in a warning and the
 * process exits anyway.
 */
export function endProcess(code: number, graceMs = EXIT_GRACE_MS): void {
  process.exitCode = Math.max(code, Number(process.exitCode ?? 0));
  setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((resource) => resource !== 'Timeout');
    createLogger('warn').warn({ open }, `still running ${graceMs / 1000} s after its work ended (open: ${open.join(', ') || 'nothing'}); exiting`);
    process.exit();
  }, graceMs).unref();
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(endProcess, (err: unknown) => {
    process.stderr.write(`guardduty-wodle: ${describe(err)}\n`);
    endProcess(EXIT_FAILED);
  });
}
