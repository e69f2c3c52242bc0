// Issue 25: an object of thirty ~400 KiB attack sequences, through the executable as installed (its
// shebang's memory flags), to the Wazuh socket (trimmed) and a file (whole): memory stays within the
// 128 MB target, every finding delivered.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ANALYSISD_MAX_BYTES } from '../../src/emit/analysisd.js';
import { ATTACK_SEQUENCE_TYPES, SEQUENCE_SIZES, attackSequence } from '../../support/guardduty-2024.js';
import { useFakeS3 } from '../../support/s3.js';
import { runCli, writeConfig } from '../../support/cli.js';
import { jsonlGz, nativeKey, today } from '../../support/findings.js';
import { tempDir } from '../helpers/files.js';
import { DatagramSink } from '../helpers/wazuh-queue.js';
import { waitFor } from '../helpers/wait.js';

const fake = useFakeS3();
const RSS_LIMIT_MB = 128;

test(`thirty 400 KiB attack sequences in one object: every one delivered, peak RSS under ${RSS_LIMIT_MB} MB`, async () => {
  const dir = tempDir();
  const bucket = 'gd-large-sequences';
  fake.s3.createBucket(bucket);
  const findings = Array.from({ length: 30 }, (_, i) => attackSequence(`seq-${i}`, SEQUENCE_SIZES.large, ATTACK_SEQUENCE_TYPES[i % ATTACK_SEQUENCE_TYPES.length]));
  await fake.s3.put(bucket, nativeKey('111122223333', 'us-east-1', today()), jsonlGz(findings));
  const sink = new DatagramSink(join(dir, 'queue'));
  const out = join(dir, 'events.jsonl');
  try {
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `wazuh:${sink.path}`, '--output', `file:${out}`]);
    assert.equal(result.code, 0, result.stderr);
    const stop = result.logs.find((l) => String(l['msg']).startsWith('guardduty-wodle stopped'))!;
    const pass = result.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!;
    assert.deepEqual([pass['events'], pass['critical']], [30, 30], 'severity 9: all critical');
    await waitFor(() => sink.messages.length >= 30, { what: 'thirty datagrams' });
    assert.ok(sink.messages.every((m) => Buffer.byteLength(m) <= ANALYSISD_MAX_BYTES));
    const peak = Number(stop['peakRssMb']);
    assert.ok(peak > 0 && peak < RSS_LIMIT_MB, `peak RSS ${peak} MB`);
    process.stdout.write(`# thirty 400 KiB attack sequences: peak RSS ${peak} MB, ${pass['durationMs']} ms\n`);
  } finally {
    sink.close();
  }
});
