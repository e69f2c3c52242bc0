// `npm run bench`: the collector against a real S3 API (fauxqs in its own process, so its CPU is not
// counted as ours) behind a loopback proxy that adds a fixed delay per request (0 and 20 ms, about what
// real S3 answers in). Datasets are generated deterministically. For each: objects/s, events/s, MB/s,
// peak RSS, the ratio to a floor measured in the same run (list, then get + gunzip + JSON.parse with
// 16 in flight: no shaping, no output, no state), and an idle pass (nothing new). Writes
// bench/results.json and prints a table. Dataset d (many partitions, issue 12) is reported apart:
// requests by type (LIST, GET, other) for a first and an idle pass, against the issue's targets.
// With dataset a, what fdatasync of file: outputs costs is measured apart too (fileOutputCost).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import zlibSync from 'zlib-sync';
import { DocumentSplitter } from '../src/decode/documents.js';
import { throughTransform } from '../src/decode/transform.js';
import { bigFirehoseObject } from '../support/big.js';
import { FakeS3 } from '../support/s3.js';
import { CLI, readSample } from '../support/paths.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DELAYS = [0, 20];
const WAZUH_OBJECTS_PER_SECOND_AT_20MS = 38;

const today = new Date().toISOString().slice(0, 10);
const dayPath = today.replaceAll('-', '/');

/** fauxqs in a child process; resolves with its endpoint. */
async function startS3(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', "const { startFauxqs } = await import('fauxqs'); const s = await startFauxqs({ port: 0, logger: false }); console.log(s.port);"],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
  return { endpoint: `http://127.0.0.1:${port}`, child };
}

type RequestType = 'LIST' | 'GET' | 'other';

/**
 * What an S3 request is, from its method and path-style URL (`/bucket/key?query`): LIST for
 * ListObjectsV2 (a GET with `list-type=2`), GET for GetObject (a GET of an object key), other for
 * the rest (HEAD, PUT, DELETE, a GET of the bucket itself…).
 */
function requestType(method: string | undefined, url: string | undefined): RequestType {
  if (method !== 'GET') return 'other';
  const parsed = new URL(url ?? '/', 'http://proxy');
  if (parsed.searchParams.get('list-type') === '2') return 'LIST';
  if (parsed.searchParams.has('list-type')) return 'other';
  const path = parsed.pathname.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  return slash > 0 && slash < path.length - 1 ? 'GET' : 'other';
}

type RequestCounts = Record<RequestType, number>;

/** A loopback HTTP proxy adding `delayMs` before each request is forwarded; counts requests, by type too. */
async function delayProxy(target: string, delayMs: number) {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let requests = 0;
  let byType: RequestCounts = { LIST: 0, GET: 0, other: 0 };
  const server = createServer((req, res) => {
    requests++;
    byType[requestType(req.method, req.url)]++;
    setTimeout(() => {
      const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    byType: (): RequestCounts => ({ ...byType }),
    reset: () => {
      requests = 0;
      byType = { LIST: 0, GET: 0, other: 0 };
    },
    stop: () => {
      agent.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const template = JSON.parse(readSample('SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json')) as Record<string, unknown>;

function finding(account: string, region: string, id: string) {
  return { ...template, accountId: account, region, id };
}

interface Dataset {
  name: string;
  bucket: string;
  objects: number;
  events: number;
  bytes: number;
}

async function nativeDataset(s3: FakeS3, name: string, objects: number, perObject: number): Promise<Dataset> {
  const bucket = `bench-${name.slice(0, 1)}`;
  await s3.createRemoteBucket(bucket);
  const partitions = [
    ['111111111111', 'us-east-1'],
    ['111111111111', 'eu-west-1'],
    ['222222222222', 'us-east-1'],
    ['222222222222', 'ap-southeast-2'],
  ] as const;
  let bytes = 0;
  for (let start = 0; start < objects; start += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, objects - start) }, async (_, i) => {
        const o = start + i;
        const [account, region] = partitions[o % partitions.length]!;
        const body = gzipSync(Array.from({ length: perObject }, (_, f) => JSON.stringify(finding(account, region, `${name}-${o}-${f}`))).join('\n') + '\n');
        bytes += body.length;
        const id = `${String(o).padStart(8, '0')}-0000-4000-8000-000000000000`;
        await s3.put(bucket, `AWSLogs/${account}/GuardDuty/${region}/${dayPath}/${id}.jsonl.gz`, body);
      }),
    );
  }
  return { name, bucket, objects, events: objects * perObject, bytes };
}

/** The regions of dataset d, all configured in its `<regions>`. */
const MANY_REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1',
  'eu-north-1', 'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-southeast-1', 'ap-southeast-2', 'sa-east-1', 'me-south-1',
];
const MANY_ACCOUNTS = 40;
/** One partition in this many holds objects. */
const MANY_EVERY = 10;
const MANY_OBJECTS_PER_PARTITION = 7;
const MANY_FINDINGS_PER_OBJECT = 5;
/** Days of the window ending today: only_logs_after is today less WINDOW_DAYS - 1. */
const MANY_WINDOW_DAYS = 31;
/** S3 pages the first pass may need beyond one per partition and one per account (issue 12's slack). */
const MANY_EXTRA_PAGES = 5;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** The UTC day `days` before today, as YYYY-MM-DD. */
function daysBeforeToday(days: number): string {
  return new Date(Date.parse(`${today}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

/** YYYY-MM-DD as Wazuh writes only_logs_after: YYYY-MMM-DD (2026-NOV-01). */
function wazuhDate(day: string): string {
  const [year, month, dayOfMonth] = day.split('-') as [string, string, string];
  return `${year}-${MONTHS[Number(month) - 1]!}-${dayOfMonth}`;
}

interface ManyPartitions extends Dataset {
  accounts: number;
  regions: string[];
  partitions: number;
  partitionsWithObjects: number;
  onlyLogsAfter: string;
  /** The `<bucket>` options it is collected with. */
  config: string;
}

/**
 * Dataset d: 40 accounts x 17 regions = 680 native partitions, of which every tenth in account-major
 * order (partition p = account * 17 + region, p = 0, 10, 20…) holds objects: 68 partitions, and every
 * account has one or two (17 consecutive partitions always hold a multiple of 10), over all regions
 * (10 and 17 are coprime). Each holds 7 objects of 5 findings on distinct days of the 31-day window
 * ending today; over the 68 partitions every day of the window, today and its first day included, has
 * objects. The other 612 partitions have no key at all (S3 has no folders).
 */
async function manyPartitionsDataset(s3: FakeS3): Promise<ManyPartitions> {
  const name = 'd: 680 partitions';
  const bucket = 'bench-d';
  await s3.createRemoteBucket(bucket);
  const accounts = Array.from({ length: MANY_ACCOUNTS }, (_, i) => String(100_000_000_000 + i));
  const partitions = accounts.length * MANY_REGIONS.length;
  const filled: Array<{ n: number; account: string; region: string }> = [];
  for (let p = 0; p < partitions; p += MANY_EVERY) {
    filled.push({ n: filled.length, account: accounts[Math.floor(p / MANY_REGIONS.length)]!, region: MANY_REGIONS[p % MANY_REGIONS.length]! });
  }
  const objects = filled.flatMap(({ n, account, region }) =>
    Array.from({ length: MANY_OBJECTS_PER_PARTITION }, (_, j) => {
      // Offsets 4 days apart (0…24) shifted by 3 days per partition: distinct days in a partition.
      const day = daysBeforeToday((n * 3 + j * 4) % MANY_WINDOW_DAYS);
      const id = `${String(n).padStart(8, '0')}-${String(j).padStart(4, '0')}-4000-8000-000000000000`;
      return { account, region, key: `AWSLogs/${account}/GuardDuty/${region}/${day.replaceAll('-', '/')}/${id}.jsonl.gz`, tag: `d-${n}-${j}` };
    }),
  );
  let bytes = 0;
  for (let start = 0; start < objects.length; start += 64) {
    await Promise.all(
      objects.slice(start, start + 64).map(async ({ account, region, key, tag }) => {
        const body = gzipSync(
          Array.from({ length: MANY_FINDINGS_PER_OBJECT }, (_, f) => JSON.stringify(finding(account, region, `${tag}-${f}`))).join('\n') + '\n',
        );
        bytes += body.length;
        await s3.put(bucket, key, body);
      }),
    );
  }
  const onlyLogsAfter = wazuhDate(daysBeforeToday(MANY_WINDOW_DAYS - 1));
  return {
    name,
    bucket,
    objects: objects.length,
    events: objects.length * MANY_FINDINGS_PER_OBJECT,
    bytes,
    accounts: accounts.length,
    regions: MANY_REGIONS,
    partitions,
    partitionsWithObjects: filled.length,
    onlyLogsAfter,
    config: `<regions>${MANY_REGIONS.join(',')}</regions><only_logs_after>${onlyLogsAfter}</only_logs_after>`,
  };
}

async function firehoseDataset(s3: FakeS3, decompressedBytes: number): Promise<Dataset & { decompressed: number }> {
  const bucket = 'bench-firehose';
  await s3.createRemoteBucket(bucket);
  const { body, events, bytes } = await bigFirehoseObject(decompressedBytes);
  await s3.put(bucket, `${dayPath}/12/guardduty-stream-1-${today}-12-00-00-00000000-0000-4000-8000-000000000000.gz`, body);
  return { name: 'c: 1 Firehose object', bucket, objects: 1, events, bytes: body.length, decompressed: bytes };
}

interface Run {
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

/**
 * How the collector is started: `bin` runs the executable (its shebang starts node with the memory
 * flags), `node` runs `node dist/src/cli.js` (without them), `entrypoint` runs the Docker image's
 * entrypoint script with sh, which adds its defaults and execs the executable.
 */
export type StartMode = 'bin' | 'node' | 'entrypoint';
const ENTRYPOINT = join(ROOT, 'config', 'docker-entrypoint.sh');
/** A port for the entrypoint's metrics listener (it always adds one). */
const ENTRYPOINT_METRICS_PORT = '19464';

/** The Node flags the executable's shebang gives, for runs that start node themselves. */
function shebangFlags(cli: string): string[] {
  return readFileSync(cli, 'utf8').split('\n', 1)[0]!.split(' ').slice(3);
}

function command(mode: StartMode, cli: string, args: string[]): { file: string; args: string[] } {
  // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the collector (flags NODE_OPTIONS refuses).
  const nodeArgs = process.env['BENCH_NODE_ARGS'];
  if (nodeArgs) return { file: process.execPath, args: [...nodeArgs.split(' '), ...shebangFlags(cli), cli, ...args] };
  if (mode === 'node') return { file: process.execPath, args: [cli, ...args] };
  if (mode === 'entrypoint') return { file: '/bin/sh', args: [ENTRYPOINT, ...args] };
  return { file: cli, args };
}

/**
 * One `--once` run of the CLI; `extra` is XML added to the `<bucket>` block (regions, only_logs_after…).
 * `output` defaults to BENCH_OUTPUT or file:/dev/null, `cli` to this build's executable.
 */
async function collect(bucket: string, endpoint: string, state: string, extra = '', how: { output?: string; cli?: string; mode?: StartMode } = {}): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'gdw-bench-'));
  const config = join(dir, 'ossec.conf');
  writeFileSync(
    config,
    `<ossec_config><wodle name="aws-s3"><bucket type="guardduty"><name>${bucket}</name><service_endpoint>${endpoint}</service_endpoint>${extra}</bucket></wodle></ossec_config>`,
  );
  const started = process.hrtime.bigint();
  const args = ['--config', config, '--once', '--state', state, '--output', how.output ?? process.env['BENCH_OUTPUT'] ?? 'file:/dev/null', '--concurrency', '32'];
  const cli = how.cli ?? CLI;
  // BENCH_LOG=path keeps each run's debug log (path.N) to see where time goes.
  const logTo = process.env['BENCH_LOG'] ? `${process.env['BENCH_LOG']}.${++runs}` : null;
  if (logTo) args.push('--log-level', 'debug');
  const run = command(how.mode ?? 'bin', cli, args);
  const child = spawn(run.file, run.args, {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', AWS_REGION: 'us-east-1', GUARDDUTY_WODLE_METRICS_PORT: ENTRYPOINT_METRICS_PORT },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const message = (start: string) => lines.find((line) => String(line['msg']).startsWith(start));
  const stopped = message('guardduty-wodle stopped');
  if (exit !== 0) process.stderr.write(stderr);
  if (logTo) writeFileSync(logTo, stderr);
  return {
    seconds,
    peakRssMb: Number(stopped?.['peakRssMb'] ?? NaN),
    cpuSeconds: Number(stopped?.['cpuSeconds'] ?? NaN),
    startupMs: Number(message('guardduty-wodle ')?.['startupMs'] ?? NaN),
    events: Number(message('bucket pass')?.['events'] ?? 0),
    passMs: Number(message('bucket pass')?.['durationMs'] ?? NaN),
    exit,
  };
}

interface Target {
  target: string;
  value: number;
  bound: number;
  met: boolean;
}

/** Runs of each pass of dataset d; times are the median (this 2-core machine is shared with the S3 stand-in and the proxy). */
const MANY_REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Dataset d at each delay: a first pass on a fresh state, then an idle pass, repeated; requests by type; issue 12's targets. */
async function manyPartitions(data: ManyPartitions, s3Endpoint: string) {
  const rows: Array<Record<string, string | number>> = [];
  const targets: Target[] = [];
  const target = (text: string, value: number, bound: number) => targets.push({ target: text, value, bound, met: value <= bound });
  // One ListObjectsV2 per partition and per account, a few extra pages, the layout probe and the account listing.
  const firstListBound = data.partitions + data.accounts + MANY_EXTRA_PAGES + 2;
  const idleBound = data.partitions + data.accounts + MANY_EXTRA_PAGES;
  for (const delay of DELAYS) {
    const proxy = await delayProxy(s3Endpoint, delay);
    process.stderr.write(`bench: ${data.name} at ${delay} ms…\n`);
    const passes: Array<{ pass: string; run: Run; counts: RequestCounts; total: number; seconds: number[] }> = [
      { pass: 'first', seconds: [] } as never,
      { pass: 'idle', seconds: [] } as never,
    ];
    for (let repeat = 0; repeat < MANY_REPEATS; repeat++) {
      const state = join(mkdtempSync(join(tmpdir(), 'gdw-bench-state-')), 'state.db');
      for (const entry of passes) {
        proxy.reset();
        const run = await collect(data.bucket, proxy.endpoint, state, data.config);
        // Counts and events of the last repeat (every repeat makes the same requests).
        Object.assign(entry, { run, counts: proxy.byType(), total: proxy.requests() });
        entry.seconds.push(run.seconds);
        if (repeat === 0 || run.exit !== 0) entry.run = run;
      }
    }
    await proxy.stop();
    for (const { pass, run, counts, total, seconds } of passes) {
      const expected = pass === 'first' ? data.events : 0;
      rows.push({
        dataset: data.name,
        'delay ms': delay,
        pass,
        seconds: +median(seconds).toFixed(2),
        runs: seconds.map((t) => t.toFixed(2)).join(' '),
        'peak RSS MB': +run.peakRssMb.toFixed(1),
        'CPU s': +run.cpuSeconds.toFixed(2),
        LIST: counts.LIST,
        GET: counts.GET,
        other: counts.other,
        requests: total,
        events: run.events,
        'events ok': run.events === expected && run.exit === 0 ? 'yes' : `NO (${run.events}/${expected}, exit ${run.exit})`,
      });
    }
    const [first, idle] = passes as [(typeof passes)[number], (typeof passes)[number]];
    target(
      `first-pass LIST requests at ${delay} ms <= partitions + accounts + ${MANY_EXTRA_PAGES} extra pages + 2 (layout probe, account listing) = ${data.partitions} + ${data.accounts} + ${MANY_EXTRA_PAGES} + 2`,
      first.counts.LIST,
      firstListBound,
    );
    target(
      `idle-pass requests at ${delay} ms <= partitions + accounts + ${MANY_EXTRA_PAGES} = ${data.partitions} + ${data.accounts} + ${MANY_EXTRA_PAGES}`,
      idle.total,
      idleBound,
    );
    if (delay === 20) {
      target(`idle pass at 20 ms <= 2 s (median of ${MANY_REPEATS})`, +median(idle.seconds).toFixed(2), 2);
      target(`first pass at 20 ms <= 3 s (median of ${MANY_REPEATS})`, +median(first.seconds).toFixed(2), 3);
    }
  }
  return {
    dataset: {
      name: data.name,
      bucket: data.bucket,
      accounts: data.accounts,
      regions: data.regions.length,
      partitions: data.partitions,
      'partitions with objects': data.partitionsWithObjects,
      objects: data.objects,
      events: data.events,
      bytes: data.bytes,
      only_logs_after: data.onlyLogsAfter,
    },
    rows,
    targets,
  };
}

/**
 * What making `file:` outputs durable costs (issue 13): dataset a collected into a regular file (in
 * the temporary directory, on the same file system as the state), which each write batch fdatasyncs,
 * against file:/dev/null (nothing to sync), and, when BENCH_BASELINE_CLI names the executable of an
 * earlier build (one without the fdatasync), into a regular file by that build. The variants take
 * turns within each repeat, so that drift of the shared machine spreads over all of them; seconds are
 * the median of BENCH_REPEATS runs. Each run starts from a fresh state and a fresh output file.
 */
async function fileOutputCost(data: Dataset, s3Endpoint: string) {
  const baseline = process.env['BENCH_BASELINE_CLI'];
  const variants = [
    { output: 'file:/dev/null', build: 'this', fdatasync: 'no (not a regular file)', cli: CLI },
    { output: 'file: regular file', build: 'this', fdatasync: 'yes, one per write batch', cli: CLI },
    ...(baseline ? [{ output: 'file: regular file', build: `baseline (${baseline})`, fdatasync: 'no', cli: baseline }] : []),
  ];
  const rows: Array<Record<string, string | number>> = [];
  for (const delay of DELAYS) {
    const proxy = await delayProxy(s3Endpoint, delay);
    process.stderr.write(`bench: ${data.name} at ${delay} ms into file: outputs…\n`);
    const seconds = variants.map(() => [] as number[]);
    const ok = variants.map(() => true);
    for (let repeat = 0; repeat < MANY_REPEATS; repeat++) {
      for (const [i, variant] of variants.entries()) {
        const dir = mkdtempSync(join(tmpdir(), 'gdw-bench-file-'));
        const output = variant.output === 'file:/dev/null' ? variant.output : `file:${join(dir, 'events.jsonl')}`;
        const run = await collect(data.bucket, proxy.endpoint, join(dir, 'state.db'), '', { output, cli: variant.cli });
        // Some 70 MB of events a run: not kept.
        rmSync(dir, { recursive: true, force: true });
        seconds[i]!.push(run.seconds);
        if (run.exit !== 0 || run.events !== data.events) ok[i] = false;
      }
    }
    await proxy.stop();
    for (const [i, variant] of variants.entries()) {
      rows.push({
        dataset: data.name,
        'delay ms': delay,
        output: variant.output,
        build: variant.build,
        fdatasync: variant.fdatasync,
        seconds: +median(seconds[i]!).toFixed(2),
        runs: seconds[i]!.map((t) => t.toFixed(2)).join(' '),
        'events ok': ok[i] ? 'yes' : 'NO',
      });
    }
  }
  return { directory: tmpdir(), repeats: MANY_REPEATS, rows };
}

interface FloorRun {
  /** The whole process, spawn to exit, as the collector's seconds are. */
  seconds: number;
  /** User + system CPU of the whole process. */
  cpuSeconds: number;
  peakRssMb: number;
  /** The work alone, from after its modules loaded. */
  workSeconds: number;
  workCpuSeconds: number;
}

/** The floor (bench/floor.ts), in a process of its own: list, GET 16 at a time, gunzip, frame, parse. */
async function floor(bucket: string, endpoint: string): Promise<FloorRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'floor.js'), endpoint, bucket], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (exit !== 0) throw new Error(`the floor failed (exit ${exit})`);
  const report = JSON.parse(stdout) as { seconds: number; cpuSeconds: number; processCpuSeconds: number; peakRssMb: number };
  return { seconds, cpuSeconds: report.processCpuSeconds, peakRssMb: report.peakRssMb, workSeconds: report.seconds, workCpuSeconds: report.cpuSeconds };
}

/**
 * node:zlib against zlib-sync on the gunzip path as the collector runs it: inflate, frame and parse,
 * for 1,200 small objects 16 at a time and for one 64 MiB stream, in 64 KiB input chunks. One-shot
 * inflate speed is reported too. node:zlib inflates on libuv's thread pool, so on two cores its work
 * overlaps the parsing on the main thread; zlib-sync inflates on the main thread.
 */
async function gunzipPaths(): Promise<Record<string, number>> {
  const lines = (count: number, tag: string) =>
    Buffer.from(Array.from({ length: count }, (_, i) => JSON.stringify(finding('111111111111', 'us-east-1', `${tag}${i}`))).join('\n') + '\n');
  const small = Array.from({ length: 1200 }, (_, i) => gzipSync(lines(20, `s${i}-`)));
  const bigText = lines(3000, 'b');
  const big = gzipSync(Buffer.concat(Array.from({ length: Math.ceil((64 * 1024 * 1024) / bigText.length) }, () => bigText)));
  const inChunks = function* (gz: Buffer) {
    for (let i = 0; i < gz.length; i += 65536) yield gz.subarray(i, i + 65536);
  };
  const arriving = async function* (gz: Buffer) {
    yield* inChunks(gz);
  };
  const parse = () => new DocumentSplitter({ value: () => {}, malformed: () => {} });
  const viaNodeZlib = async (gz: Buffer) => {
    const splitter = parse();
    for await (const chunk of throughTransform(createGunzip({ chunkSize: 64 * 1024 }), arriving(gz))) splitter.push(chunk);
    splitter.end();
  };
  const viaZlibSync = async (gz: Buffer) => {
    const splitter = parse();
    const inflate = new zlibSync.Inflate({ windowBits: 31, chunkSize: 64 * 1024 });
    for (const chunk of inChunks(gz)) {
      inflate.push(chunk, zlibSync.Z_SYNC_FLUSH);
      if (inflate.err < 0) throw new Error(inflate.msg ?? 'zlib-sync failed');
      splitter.push(inflate.result as Buffer);
      await Promise.resolve();
    }
    splitter.end();
  };
  const smallObjects = async (decode: (gz: Buffer) => Promise<void>) => {
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < small.length) await decode(small[next++]!);
    }));
    return Math.round(Number(process.hrtime.bigint() - started) / 1e6);
  };
  const oneStream = async (decode: (gz: Buffer) => Promise<void>) => {
    const started = process.hrtime.bigint();
    await decode(big);
    return Math.round((64 * 1024 * 1024) / 1e6 / (Number(process.hrtime.bigint() - started) / 1e9));
  };
  const oneShot = (run: () => void) => {
    const data = bigText;
    run();
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) run();
    return Math.round((data.length * 10) / 1e6 / (Number(process.hrtime.bigint() - started) / 1e9));
  };
  const gzText = gzipSync(bigText);
  await smallObjects(viaNodeZlib);
  await smallObjects(viaZlibSync);
  return {
    'node:zlib 1,200 small objects ms': await smallObjects(viaNodeZlib),
    'zlib-sync 1,200 small objects ms': await smallObjects(viaZlibSync),
    'node:zlib 64 MiB stream MB/s': await oneStream(viaNodeZlib),
    'zlib-sync 64 MiB stream MB/s': await oneStream(viaZlibSync),
    'node:zlib one-shot inflate MB/s': oneShot(() => gunzipSync(gzText)),
    'zlib-sync one-shot inflate MB/s': oneShot(() => {
      const inflate = new zlibSync.Inflate({ windowBits: 31, chunkSize: 64 * 1024 });
      inflate.push(gzText, zlibSync.Z_FINISH);
      if (inflate.err < 0) throw new Error(inflate.msg ?? 'zlib-sync failed');
    }),
  };
}

/** Runs of each dataset at each delay (BENCH_REPEATS, 3 by default); seconds are medians. */
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
/** Issue 16's bound on the collector against the floor, in time and in CPU. */
const FLOOR_RATIO_BOUND = 1.3;
const RSS_BOUND_MB = 128;
const IDLE_BOUND_SECONDS = 0.3;

function target(targets: Target[], text: string, value: number, bound: number): void {
  targets.push({ target: text, value: +value.toFixed(2), bound, met: value <= bound });
}

/**
 * Datasets a, b and c: at each delay the floor and the collector take turns, REPEATS times (the single
 * Firehose object once, at 0 ms), so that drift of this shared machine spreads over both; then an idle
 * pass. Medians of seconds, CPU and RSS; issue 16's targets.
 */
async function throughput(datasets: Array<Dataset & { decompressed?: number }>, s3Endpoint: string) {
  const rows: Array<Record<string, string | number>> = [];
  const targets: Target[] = [];
  for (const data of datasets) {
    const single = data.objects === 1;
    for (const delay of DELAYS) {
      if (single && delay > 0) continue;
      const proxy = await delayProxy(s3Endpoint, delay);
      process.stderr.write(`bench: ${data.name} at ${delay} ms…\n`);
      const floors: FloorRun[] = [];
      const collected: Run[] = [];
      const idles: Array<Run & { requests: number }> = [];
      for (let repeat = 0; repeat < (single ? 1 : REPEATS); repeat++) {
        floors.push(await floor(data.bucket, proxy.endpoint));
        const state = join(mkdtempSync(join(tmpdir(), 'gdw-bench-state-')), 'state.db');
        collected.push(await collect(data.bucket, proxy.endpoint, state));
        proxy.reset();
        idles.push({ ...(await collect(data.bucket, proxy.endpoint, state)), requests: proxy.requests() });
      }
      await proxy.stop();
      const m = (values: number[]) => median(values);
      const seconds = m(collected.map((r) => r.seconds));
      const cpu = m(collected.map((r) => r.cpuSeconds));
      const rss = Math.max(...collected.map((r) => r.peakRssMb));
      const floorSeconds = m(floors.map((f) => f.seconds));
      const floorCpu = m(floors.map((f) => f.cpuSeconds));
      const idle = m(idles.map((r) => r.seconds));
      const mb = (data.decompressed ?? data.bytes) / 1e6;
      const ok = collected.every((r) => r.events === data.events && r.exit === 0) && idles.every((r) => r.exit === 0 && r.events === 0);
      rows.push({
        dataset: data.name,
        'delay ms': delay,
        seconds: +seconds.toFixed(2),
        runs: collected.map((r) => r.seconds.toFixed(2)).join(' '),
        'objects/s': Math.round(data.objects / seconds),
        'events/s': Math.round(data.events / seconds),
        'MB/s': +(mb / seconds).toFixed(1),
        'CPU s': +cpu.toFixed(2),
        'peak RSS MB': +rss.toFixed(1),
        'floor s': +floorSeconds.toFixed(2),
        'floor CPU s': +floorCpu.toFixed(2),
        'floor RSS MB': +Math.max(...floors.map((f) => f.peakRssMb)).toFixed(1),
        'x floor': +(seconds / floorSeconds).toFixed(2),
        'CPU x floor': +(cpu / floorCpu).toFixed(2),
        'x Wazuh': delay === 20 ? +(data.objects / seconds / WAZUH_OBJECTS_PER_SECOND_AT_20MS).toFixed(1) : '',
        'idle s': +idle.toFixed(2),
        'idle: start + pass ms': `${m(idles.map((r) => r.startupMs))} + ${m(idles.map((r) => r.passMs))}`,
        'idle CPU s': +m(idles.map((r) => r.cpuSeconds)).toFixed(2),
        'idle RSS MB': +Math.max(...idles.map((r) => r.peakRssMb)).toFixed(1),
        'idle requests': idles.at(-1)!.requests,
        'startup ms': m(collected.map((r) => r.startupMs)),
        'floor work s': +m(floors.map((f) => f.workSeconds)).toFixed(2),
        'events ok': ok ? 'yes' : `NO (${collected.map((r) => `${r.events}/${data.events} exit ${r.exit}`).join(', ')})`,
      });
      const label = `dataset ${data.name.slice(0, 1)} at ${delay} ms`;
      if (data.name.startsWith('a:')) {
        target(targets, `${label}: seconds <= ${FLOOR_RATIO_BOUND} x the floor's (${floorSeconds.toFixed(2)} s)`, seconds / floorSeconds, FLOOR_RATIO_BOUND);
        target(targets, `${label}: CPU <= ${FLOOR_RATIO_BOUND} x the floor's (${floorCpu.toFixed(2)} s)`, cpu / floorCpu, FLOOR_RATIO_BOUND);
      }
      target(targets, `${label}: peak RSS <= ${RSS_BOUND_MB} MB`, rss, RSS_BOUND_MB);
      target(targets, `${label}: idle pass <= ${IDLE_BOUND_SECONDS} s`, idle, IDLE_BOUND_SECONDS);
    }
  }
  return { rows, targets };
}

/** Dataset a at 0 ms started each way the collector is started (StartMode): peak RSS and time. */
async function startModeRows(data: Dataset, s3Endpoint: string) {
  const rows: Array<Record<string, string | number>> = [];
  for (const mode of ['node', 'bin', 'entrypoint'] as const) {
    process.stderr.write(`bench: ${data.name} started as ${mode}…\n`);
    const state = join(mkdtempSync(join(tmpdir(), 'gdw-bench-state-')), 'state.db');
    const run = await collect(data.bucket, s3Endpoint, state, '', { mode });
    rows.push({
      'started as': mode === 'node' ? 'node dist/src/cli.js' : mode === 'bin' ? 'dist/src/cli.js (bin, shebang)' : 'sh config/docker-entrypoint.sh',
      seconds: +run.seconds.toFixed(2),
      'CPU s': +run.cpuSeconds.toFixed(2),
      'peak RSS MB': +run.peakRssMb.toFixed(1),
      'startup ms': run.startupMs,
      'events ok': run.events === data.events && run.exit === 0 ? 'yes' : `NO (${run.events}/${data.events}, exit ${run.exit})`,
    });
  }
  return rows;
}

async function main(): Promise<void> {
  const server = await startS3();
  const s3 = FakeS3.connect(server.endpoint);
  process.stderr.write('bench: generating datasets…\n');
  // BENCH_DATASETS=ab runs only datasets a and b (while working on one of them).
  const only = process.env['BENCH_DATASETS'] ?? 'abcd';
  const datasets: Array<Dataset & { decompressed?: number }> = [];
  if (only.includes('a')) datasets.push(await nativeDataset(s3, 'a: 1,200 objects x 20', 1200, 20));
  if (only.includes('b')) datasets.push(await nativeDataset(s3, 'b: 10,000 objects x 1', 10_000, 1));
  if (only.includes('c')) datasets.push(await firehoseDataset(s3, Number(process.env['BENCH_FIREHOSE_MB'] ?? 512) * 1024 * 1024));
  const many = only.includes('d') ? await manyPartitionsDataset(s3) : null;
  const { rows, targets } = await throughput(datasets, server.endpoint);
  const startModes = datasets.some((d) => d.name.startsWith('a:')) ? await startModeRows(datasets.find((d) => d.name.startsWith('a:'))!, server.endpoint) : [];
  for (const row of startModes) {
    target(targets, `peak RSS <= 128 MB, dataset a at 0 ms started as ${row['started as']}`, Number(row['peak RSS MB']), 128);
  }
  const manyResult = many ? await manyPartitions(many, server.endpoint) : null;
  const a = datasets.find((d) => d.name.startsWith('a:'));
  const fileResult = a ? await fileOutputCost(a, server.endpoint) : null;
  const codecs = await gunzipPaths();
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    machine: '2 cores',
    rows,
    startModes,
    targets,
    ...(manyResult ? { manyPartitions: manyResult } : {}),
    ...(fileResult ? { fileOutputs: fileResult } : {}),
    gunzip: codecs,
  };
  if (rows.length > 0) console.table(rows);
  if (startModes.length > 0) console.table(startModes);
  if (manyResult) {
    for (const row of manyResult.rows) target(targets, `peak RSS <= 128 MB, dataset d, ${row['pass']} pass at ${row['delay ms']} ms`, Number(row['peak RSS MB']), 128);
  }
  console.table(targets.map(({ target: text, value, bound, met }) => ({ target: text, value, bound, met: met ? 'met' : 'NOT MET' })));
  if (manyResult) {
    console.log(manyResult.dataset);
    console.table(manyResult.rows);
    console.table(manyResult.targets.map(({ target, value, bound, met }) => ({ target, value, bound, met: met ? 'met' : 'NOT MET' })));
  }
  if (fileResult) console.table(fileResult.rows);
  console.log(codecs);
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await s3.stop();
  server.child.kill();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

