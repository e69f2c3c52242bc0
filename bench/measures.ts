// The measures of `npm run bench`: the collector against the floor at each delay (datasets a, b, c), the
// ways it is started, dataset d's requests and times (issue 12), and what durable file: outputs cost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../support/paths.js';
import { collect, type Run } from './collector.js';
import { MANY_EXTRA_PAGES, type Dataset, type ManyPartitions } from './datasets.js';
import { floor, type FloorRun } from './floor-run.js';
import { median } from './report.js';
import { delayProxy, type RequestCounts } from './s3.js';
import { FLOOR_RATIO_BOUND, IDLE_BOUND_SECONDS, RSS_BOUND_MB, target, type Target } from './targets.js';

/** The delays the proxy adds to each request: none, and about what real S3 answers in. */
export const DELAYS = [0, 20];
/** What Wazuh's aws-s3 wodle reads at 20 ms a request, for the "x Wazuh" column. */
const WAZUH_OBJECTS_PER_SECOND_AT_20MS = 38;

/** Runs of each pass of dataset d; times are the median (this 2-core machine is shared with the S3 stand-in and the proxy). */
const MANY_REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);

/** Dataset d at each delay: a first pass on a fresh state, then an idle pass, repeated; requests by type; issue 12's targets. */
export async function manyPartitions(data: ManyPartitions, s3Endpoint: string) {
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
export async function fileOutputCost(data: Dataset, s3Endpoint: string) {
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

/** Runs of each dataset at each delay (BENCH_REPEATS, 3 by default); seconds are medians. */
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
/**
 * Datasets a, b and c: at each delay the floor and the collector take turns, REPEATS times (the single
 * Firehose object once, at 0 ms), so that drift of this shared machine spreads over both; then an idle
 * pass. Medians of seconds, CPU and RSS; issue 16's targets.
 */
export async function throughput(datasets: Array<Dataset & { decompressed?: number }>, s3Endpoint: string) {
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
export async function startModeRows(data: Dataset, s3Endpoint: string) {
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
