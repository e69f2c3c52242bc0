// Running the collector for `npm run bench`: one `--once` pass of the built CLI, started as the tests
// start it (support/cli.ts) — the executable with its shebang unless told otherwise — and what it says
// of itself on stderr: its pass line, and its stop line's CPU and peak RSS.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, writeConfig, type StartMode } from '../support/cli.js';

export type { StartMode } from '../support/cli.js';

export interface Run {
  seconds: number;
  /** The process's own peak RSS (getrusage maxrss, from the collector's stop line). */
  peakRssMb: number;
  /** User + system CPU of the whole process (from the stop line). */
  cpuSeconds: number;
  /** From the process's start to the configuration read (the start line's startupMs). */
  startupMs: number;
  /** The bucket pass itself (its line's durationMs). */
  passMs: number;
  events: number;
  exit: number | null;
}

let runs = 0;

/** A port for the entrypoint's metrics listener (it always adds one). */
const ENTRYPOINT_METRICS_PORT = '19464';

/**
 * One `--once` run of the CLI; `extra` is XML added to the `<bucket>` block (regions, only_logs_after…).
 * `output` defaults to BENCH_OUTPUT or file:/dev/null, `cli` to this build's executable, `mode` to the
 * executable itself (StartMode: also `node dist/src/cli.js`, or the Docker image's entrypoint).
 */
export async function collect(bucket: string, endpoint: string, state: string, extra = '', how: { output?: string; cli?: string; mode?: StartMode } = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'gdw-bench-'));
  const config = writeConfig(dir, [{ name: bucket, endpoint, extra }]);
  const started = process.hrtime.bigint();
  const args = ['--config', config, '--once', '--state', state, '--output', how.output ?? process.env['BENCH_OUTPUT'] ?? 'file:/dev/null', '--concurrency', '32'];
  // BENCH_LOG=path keeps each run's debug log (path.N) to see where time goes.
  const logTo = process.env['BENCH_LOG'] ? `${process.env['BENCH_LOG']}.${++runs}` : null;
  if (logTo) args.push('--log-level', 'debug');
  const result = await startCli(args, {
    mode: how.mode,
    cli: how.cli,
    // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the collector (flags NODE_OPTIONS refuses).
    nodeArgs: process.env['BENCH_NODE_ARGS']?.split(' '),
    env: { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1', GUARDDUTY_WODLE_METRICS_PORT: ENTRYPOINT_METRICS_PORT },
    stdout: 'ignore',
  }).done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const message = (start: string) => result.logs.find((line) => String(line['msg']).startsWith(start));
  const stopped = message('guardduty-wodle stopped');
  if (result.code !== 0) process.stderr.write(result.stderr);
  if (logTo) writeFileSync(logTo, result.stderr);
  return {
    seconds,
    peakRssMb: Number(stopped?.['peakRssMb'] ?? NaN),
    cpuSeconds: Number(stopped?.['cpuSeconds'] ?? NaN),
    startupMs: Number(message('guardduty-wodle ')?.['startupMs'] ?? NaN),
    events: Number(message('bucket pass')?.['events'] ?? 0),
    passMs: Number(message('bucket pass')?.['durationMs'] ?? NaN),
    exit: result.code,
  };
}
