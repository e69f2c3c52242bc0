// `npm run bench:heap`: which V8 heap settings the executable should start node with (issue 27). Dataset
// (a) of `npm run bench` (1,200 native objects x 20 findings) is collected once per setting at each
// delay, the floor beside it, taking turns (BENCH_REPEATS times, 2 by default); medians of wall time and
// CPU, the highest peak RSS. Run it under each Node the collector supports (the native modules must be
// built for that Node: for Node 24, from .ci-node24/main after `bash .ci/run`). Prints one table.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeS3 } from '../support/s3.js';
import { CLI } from '../support/paths.js';
import { parseLogs, writeConfig } from '../support/cli.js';
import { nativeDataset } from './datasets.js';
import { floor } from './floor-run.js';
import { delayProxy, startS3 } from './s3.js';

const SETTINGS: Array<{ name: string; flags: string[] }> = [
  { name: 'none (node defaults)', flags: [] },
  { name: 'semi 2, optimize-for-size (before)', flags: ['--max-semi-space-size=2', '--optimize-for-size'] },
  { name: 'semi 4', flags: ['--max-semi-space-size=4'] },
  { name: 'semi 4, optimize-for-size', flags: ['--max-semi-space-size=4', '--optimize-for-size'] },
  { name: 'semi 8', flags: ['--max-semi-space-size=8'] },
  { name: 'semi 8, optimize-for-size', flags: ['--max-semi-space-size=8', '--optimize-for-size'] },
  { name: 'semi 16', flags: ['--max-semi-space-size=16'] },
  { name: 'semi 16, old 96', flags: ['--max-semi-space-size=16', '--max-old-space-size=96'] },
  { name: 'semi 4, single-threaded gc', flags: ['--max-semi-space-size=4', '--single-threaded-gc'] },
  { name: 'semi 8, single-threaded gc', flags: ['--max-semi-space-size=8', '--single-threaded-gc'] },
];
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 2);
const DELAYS = (process.env['BENCH_DELAYS'] ?? '0,20').split(',').map(Number);

interface Run {
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  events: number;
}

/** One `--once` pass of the built CLI under node with exactly these flags. */
async function collectWith(flags: string[], bucket: string, endpoint: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'gdw-heap-'));
  const config = writeConfig(dir, [{ name: bucket, endpoint }]);
  const args = [...flags, CLI, '--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'file:/dev/null', '--concurrency', '32'];
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const logs = parseLogs(stderr);
  if (code !== 0) process.stderr.write(stderr);
  const stopped = logs.find((line) => String(line['msg']).startsWith('guardduty-wodle stopped'));
  const pass = logs.find((line) => String(line['msg']).startsWith('bucket pass'));
  return { seconds, cpuSeconds: Number(stopped?.['cpuSeconds']), peakRssMb: Number(stopped?.['peakRssMb']), events: Number(pass?.['events'] ?? 0) };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const server = await startS3();
  const s3 = FakeS3.connect(server.endpoint);
  process.stderr.write('bench: generating dataset a…\n');
  const data = await nativeDataset(s3, 'a: 1,200 objects x 20', 1200, 20);
  const rows: Array<Record<string, string | number>> = [];
  for (const delay of DELAYS) {
    const proxy = await delayProxy(server.endpoint, delay);
    for (const setting of SETTINGS) {
      process.stderr.write(`bench: ${setting.name} at ${delay} ms…\n`);
      const runs: Run[] = [];
      const floors: Array<{ seconds: number; cpuSeconds: number }> = [];
      for (let repeat = 0; repeat < REPEATS; repeat++) {
        floors.push(await floor(data.bucket, proxy.endpoint));
        runs.push(await collectWith(setting.flags, data.bucket, proxy.endpoint));
      }
      const seconds = median(runs.map((r) => r.seconds));
      const cpu = median(runs.map((r) => r.cpuSeconds));
      const floorSeconds = median(floors.map((f) => f.seconds));
      const floorCpu = median(floors.map((f) => f.cpuSeconds));
      rows.push({
        node: process.version,
        'delay ms': delay,
        setting: setting.name,
        seconds: +seconds.toFixed(2),
        'x floor': +(seconds / floorSeconds).toFixed(2),
        'CPU s': +cpu.toFixed(2),
        'CPU x floor': +(cpu / floorCpu).toFixed(2),
        'peak RSS MB': +Math.max(...runs.map((r) => r.peakRssMb)).toFixed(1),
        'events ok': runs.every((r) => r.events === data.events) ? 'yes' : 'NO',
      });
    }
    await proxy.stop();
  }
  server.child.kill();
  const columns = Object.keys(rows[0]!);
  process.stdout.write(`| ${columns.join(' | ')} |\n| ${columns.map(() => '---').join(' | ')} |\n`);
  for (const row of rows) process.stdout.write(`| ${columns.map((c) => row[c]).join(' | ')} |\n`);
}

await main();
