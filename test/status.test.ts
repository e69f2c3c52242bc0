// `status`: per bucket and partition, the last pass, the newest object read and its lag, where the next
// listing starts, done and failed objects. Each report is read in this process as the command reads
// it (readStatus on a real state database, read-only; formatStatus for the text; the JSON is the
// report as --json prints it), from states a collector pass made or built through StateStore. The
// command line itself (a state locked by a running collector, exit status, errors):
// process/status-cli.test.ts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { humanDuration } from '../src/commands/format.js';
import { formatStatus, readStatus } from '../src/commands/status.js';
import { StateError } from '../src/errors.js';
import { StateStore } from '../src/state/store.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../support/findings.js';
import { useFakeS3 } from '../support/s3.js';
import { tempDir } from './helpers/files.js';
import { inProcessBucket } from './helpers/harness.js';
import { corruptGzip, partition, record } from './helpers/state-records.js';

const fake = useFakeS3();
const ACCOUNT = '565656565656';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';

/** What `status --state FILE` prints, and what `status --state FILE --json` prints, parsed. */
function status(file: string, options: { all?: boolean } = {}): { text: string; json: any } {
  const report = readStatus(file, Date.now());
  return { text: formatStatus(report, { all: options.all ?? false }), json: JSON.parse(JSON.stringify(report)) };
}

describe('status', () => {
  test('after collector passes: each partition with last pass, newest object, lag and where the next listing starts; failed objects with their errors', async () => {
    const bucket = 'cmd-status';
    const h = await inProcessBucket(fake, bucket, () => `<only_logs_after>${daysAgo(2)}</only_logs_after><regions>${EAST},${WEST}</regions>`);
    try {
      const bad = nativeKey(ACCOUNT, EAST, today(), '0-bad.jsonl.gz');
      const east = [nativeKey(ACCOUNT, EAST, daysAgo(1)), nativeKey(ACCOUNT, EAST, today()), nativeKey(ACCOUNT, EAST, today())];
      const west = nativeKey(ACCOUNT, WEST, today());
      for (const [i, key] of east.entries()) await fake.s3.put(bucket, key, jsonlGz([makeFinding(ACCOUNT, EAST, `east-${i}`)]));
      await fake.s3.put(bucket, west, jsonlGz([makeFinding(ACCOUNT, WEST, 'west-0'), makeFinding(ACCOUNT, WEST, 'west-1')]));
      await fake.s3.put(bucket, bad, corruptGzip(ACCOUNT, EAST));
      await h.pass(new Date().toISOString());

      const { text: out, json: report } = status(h.statePath);
      assert.match(out, new RegExp(`bucket ${bucket}: 2 partitions, 4 objects done, 1 failed`));
      const row = (region: string) => out.split('\n').find((line) => line.trimStart().startsWith(`${ACCOUNT} ${region}`))!;
      // The failed object makes the partition's pass not ok, and it says why; it does not hold the window,
      // which follows the newest object settled (today), less the grace day.
      assert.match(row(EAST), new RegExp(`FAILED .* (\\d+s|\\d+m \\d+s) +${daysAgo(1)} +3 +1$`), row(EAST));
      assert.ok(out.includes(`${row(EAST)}\n      last pass failed: 1 object(s) failed; read again by key next pass\n      newest: `), out);
      assert.match(row(WEST), new RegExp(`ok .* ${daysAgo(1)} +1 +0$`), row(WEST));
      assert.match(out, /failed objects \(1\):/);
      assert.ok(out.includes(`    ${bad}\n      1 attempt, last `), out);
      assert.match(out, /not valid gzip/);
      assert.ok(out.includes(`newest: ${west}`), out);

      assert.equal(report.empty, false);
      const [b] = report.buckets;
      assert.equal(b.bucket, bucket);
      assert.deepEqual([b.done, b.failed], [4, 1]);
      const byRegion = Object.fromEntries(b.partitions.map((p: { region: string }) => [p.region, p]));
      const e = byRegion[EAST];
      assert.equal(e.prefix, `AWSLogs/${ACCOUNT}/GuardDuty/${EAST}/`);
      assert.deepEqual([e.done, e.failed, e.windowStart, e.lastPass.ok, e.lastPass.error], [3, 1, daysAgo(1), false, '1 object(s) failed; read again by key next pass']);
      assert.deepEqual([byRegion[WEST].lastPass.ok, byRegion[WEST].lastPass.error], [true, null]);
      assert.ok(east.includes(e.newest.key), e.newest.key);
      assert.ok(e.lagSeconds >= 0 && e.lagSeconds < 600, `lag ${e.lagSeconds}`);
      assert.equal(e.lag, humanDuration(e.lagSeconds));
      assert.equal(byRegion[WEST].newest.key, west);
      assert.equal(b.failedObjects.length, 1);
      assert.equal(b.failedObjects[0].key, bad);
      assert.equal(b.failedObjects[0].attempts, 1);
      assert.match(b.failedObjects[0].error, /not valid gzip/);

      // A second pass fails the object again: two attempts.
      await h.pass(new Date().toISOString());
      assert.equal(status(h.statePath).json.buckets[0].failedObjects[0].attempts, 2);
    } finally {
      await h.stop();
    }
  });

  test('the newest object moves forward only and keeps its key; the last pass is always the latest one', () => {
    const file = join(tempDir(), 'state.db');
    const store = StateStore.open(file);
    const p = partition('b', EAST, ACCOUNT);
    const newest = () => store.partitionNewest()[0]!.newestModified;
    try {
      store.recordPartitionPass(p, { at: 1, ok: true, error: null, newest: null });
      assert.equal(newest(), null);
      store.recordPartitionPass(p, { at: 2, ok: true, error: null, newest: { key: 'k100', modified: 100 } });
      assert.equal(newest(), 100);
      store.recordPartitionPass(p, { at: 3, ok: false, error: 'listing failed', newest: null });
      assert.equal(newest(), 100, 'a pass that read nothing keeps the newest');
      store.recordPartitionPass(p, { at: 4, ok: true, error: null, newest: { key: 'k50', modified: 50 } });
      assert.equal(newest(), 100, 'an older object does not move it back');
      store.recordPartitionPass(p, { at: 5, ok: true, error: null, newest: { key: 'k200', modified: 200 } });
      assert.equal(newest(), 200);
    } finally {
      store.close();
    }
    // The key goes with its time, and the last pass is always the latest one.
    const again = StateStore.open(file);
    again.recordPartitionPass(p, { at: 10, ok: true, error: null, newest: { key: 'new', modified: 300 } });
    again.recordPartitionPass(p, { at: 11, ok: false, error: 'boom', newest: { key: 'old', modified: 20 } });
    again.close();
    const part = status(file).json.buckets[0].partitions[0];
    assert.deepEqual(part.newest, { key: 'new', lastModified: new Date(300).toISOString() });
    assert.deepEqual(part.lastPass, { at: new Date(11).toISOString(), ok: false, error: 'boom' });
  });

  test('an empty state says nothing was collected yet', () => {
    const file = join(tempDir(), 'state.db');
    StateStore.open(file).close();
    const { text, json } = status(file);
    assert.match(text, /nothing collected yet/);
    assert.deepEqual(json.buckets, []);
    assert.equal(json.empty, true);
  });

  test('many failed objects: the first 20 per bucket and "and N more"; all of them with --all and in the JSON', () => {
    const file = join(tempDir(), 'state.db');
    const store = StateStore.open(file);
    const p = partition('many', EAST, ACCOUNT);
    for (let n = 0; n < 25; n++) store.markFailed(record('many', `${p.prefix}2026/11/01/${String(n).padStart(2, '0')}.gz`), `error ${n}`, { kind: 'content', countsAttempt: true });
    store.markFailed(record('other', `${p.prefix}2026/11/01/x.gz`), 'other error', { kind: 'content', countsAttempt: true });
    store.close();
    const { text, json } = status(file);
    assert.match(text, /failed objects \(25\):/);
    assert.equal((text.match(/error \d+$/gm) ?? []).length, 20);
    assert.match(text, /… and 5 more/);
    assert.match(text, /other error/, 'the other bucket has its own 20');
    const all = status(file, { all: true }).text;
    assert.equal((all.match(/error \d+$/gm) ?? []).length, 25);
    assert.doesNotMatch(all, /more/);
    assert.equal(json.buckets.find((b: { bucket: string }) => b.bucket === 'many').failedObjects.length, 25);
    // Objects under no partition row are still counted, under their account and region.
    assert.match(text, new RegExp(`${ACCOUNT} ${EAST} \\(no partition row\\) .* 0 +25`));
  });

  test('a file that is not a state database is a state error naming it (the CLI: one line, exit 2)', () => {
    const file = join(tempDir(), 'ossec.conf');
    writeFileSync(file, '<ossec_config>\n  <wodle name="aws-s3"></wodle>\n</ossec_config>\n');
    assert.throws(() => readStatus(file, Date.now()), (err) => err instanceof StateError && err.message.includes(file) && /is not a guardduty-wodle database/.test(err.message));
  });
});

describe('lag format', () => {
  test('two units, largest first', () => {
    assert.equal(humanDuration(45), '45s');
    assert.equal(humanDuration(12 * 60 + 5), '12m 5s');
    assert.equal(humanDuration(3 * 3600 + 12 * 60 + 59), '3h 12m');
    assert.equal(humanDuration(2 * 86400 + 4 * 3600), '2d 4h');
    assert.equal(humanDuration(-5), '0s');
  });
});
