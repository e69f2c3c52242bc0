// A 1 GiB (decompressed) Firehose object through the built CLI, its peak RSS read from the kernel while
// it runs: the memory bound holds for the process as operators start it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { startCli, writeConfig } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { daysAgo, firehoseKey, today } from '../../support/findings.js';
import { bigFirehoseObject, peakRssMb } from '../../support/big.js';
import { useFakeS3 } from '../../support/s3.js';

const fake = useFakeS3();

const GIB = 1024 ** 3;
const RSS_LIMIT_MB = 128;

test(`a 1 GiB decompressed Firehose object is processed with peak RSS under ${RSS_LIMIT_MB} MB`, async () => {
  const dir = tempDir();
  const bucket = 'fh-one-gib';
  fake.s3.createBucket(bucket);
  const { body, events, bytes } = await bigFirehoseObject(GIB);
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
