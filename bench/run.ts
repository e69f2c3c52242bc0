// `npm run bench`: the collector against a real S3 API (fauxqs in its own process, so its CPU is not
// counted as ours) behind a loopback proxy that adds a fixed delay per request (0 and 20 ms, about what
// real S3 answers in). Datasets are generated deterministically. For each: objects/s, events/s, MB/s,
// peak RSS, the ratio to a floor measured in the same run (list, then get + gunzip + JSON.parse with
// 16 in flight: no shaping, no output, no state), and an idle pass (nothing new). Writes
// bench/results.json and prints a table. Dataset d (many partitions, issue 12) is reported apart:
// requests by type (LIST, GET, other) for a first and an idle pass, against the targets.
// With dataset a, what fdatasync of file: outputs costs is measured apart too (fileOutputCost).
//
// The parts: datasets.ts (what is put in the bucket), s3.ts (fauxqs and the delaying proxy),
// collector.ts (one run of the CLI), floor-run.ts and floor.ts (the floor), measures.ts (what is
// measured), gunzip.ts (node:zlib against zlib-sync), targets.ts (the bounds), report.ts (tables, JSON).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { FakeS3 } from '../support/s3.js';
import { firehoseDataset, manyPartitionsDataset, nativeDataset, type Dataset } from './datasets.js';
import { gunzipPaths } from './gunzip.js';
import { fileOutputCost, manyPartitions, startModeRows, throughput } from './measures.js';
import { report } from './report.js';
import { startS3 } from './s3.js';
import { target } from './targets.js';

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
  const a = datasets.find((d) => d.name.startsWith('a:'));
  const startModes = a ? await startModeRows(a, server.endpoint) : [];
  for (const row of startModes) {
    target(targets, `peak RSS <= 128 MB, dataset a at 0 ms started as ${row['started as']}`, Number(row['peak RSS MB']), 128);
  }
  const manyResult = many ? await manyPartitions(many, server.endpoint) : null;
  const fileOutputs = a ? await fileOutputCost(a, server.endpoint) : null;
  const gunzip = await gunzipPaths();
  if (manyResult) {
    for (const row of manyResult.rows) target(targets, `peak RSS <= 128 MB, dataset d, ${row['pass']} pass at ${row['delay ms']} ms`, Number(row['peak RSS MB']), 128);
  }
  report({ rows, startModes, targets, manyPartitions: manyResult, fileOutputs, gunzip });
  await s3.stop();
  server.child.kill();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
