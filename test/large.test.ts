import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { test } from 'node:test';
import { startCli, tempDir, writeConfig } from './helpers/cli.js';
import { daysAgo, firehoseKey, today } from './helpers/findings.js';
import { readSample } from './helpers/paths.js';
import { useFakeS3 } from './helpers/s3.js';

const fake = useFakeS3();

const GIB = 1024 ** 3;
const RSS_LIMIT_MB = 128;

/** A gzip Firehose object of `bytes` decompressed: EventBridge GuardDuty events with distinct ids, concatenated. */
async function bigObject(bytes: number): Promise<{ body: Buffer; events: number; bytes: number }> {
  const envelope = JSON.parse(readSample('JackPott__CredentialAccess-IAMUser-AnomalousBehavior.json')) as { detail: { id: string } };
  const gzip = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise((resolve) => gzip.on('end', resolve));
  let written = 0;
  let events = 0;
  // Documents are ASCII and about the same size: stop at the last one that still fits.
  const docBytes = JSON.stringify({ ...envelope, detail: { ...envelope.detail, id: 'big-0000000' } }).length;
  while (written + docBytes <= bytes) {
    let batch = '';
    for (let i = 0; i < 1000 && written + batch.length + docBytes <= bytes; i++) {
      envelope.detail.id = `big-${String(events++).padStart(7, '0')}`;
      batch += JSON.stringify(envelope);
    }
    written += batch.length;
    if (!gzip.write(batch)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await finished;
  return { body: Buffer.concat(chunks), events, bytes: written };
}

/** Peak resident set of a running process, from the kernel's high-water mark. */
function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

test(`a 1 GiB decompressed Firehose object is processed with peak RSS under ${RSS_LIMIT_MB} MB`, async () => {
  const dir = tempDir();
  const bucket = 'fh-one-gib';
  fake.s3.createBucket(bucket);
  const { body, events, bytes } = await bigObject(GIB);
  assert.ok(bytes > GIB - 10_000 && bytes <= GIB);
  await fake.s3.put(bucket, firehoseKey(today(), 12, '.gz'), body);
  const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: `<only_logs_after>${daysAgo(1)}</only_logs_after>` }]);
  const running = startCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'file:/dev/null']);
  let peak = 0;
  const pid = running.child.pid!;
  const watching = (async () => {
    while (running.child.exitCode === null) {
      peak = Math.max(peak, peakRssMb(pid));
      await sleep(50);
    }
  })();
  const result = await running.done;
  await watching;
  assert.equal(result.code, 0, result.stderr);
  const summary = result.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!;
  assert.equal(summary['events'], events, JSON.stringify(summary) + result.logs.filter((l) => (l['level'] as number) >= 40).map((l) => l['msg']).slice(0, 5).join('\n'));
  assert.ok(peak > 0, 'the peak was read');
  assert.ok(peak < RSS_LIMIT_MB, `peak RSS ${peak.toFixed(1)} MB`);
  process.stdout.write(`# 1 GiB object: ${events} events, peak RSS ${peak.toFixed(1)} MB, ${summary['durationMs']} ms\n`);
});
