// The operator's subcommands: `status`, `explain` and `reset`, run as the built CLI on real state files
// (made by the real collector against the S3 emulator, or through StateStore's public methods).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { planReset } from '../src/commands/reset.js';
import { humanDuration } from '../src/commands/format.js';
import { StateStore, type ObjectRecord, type PartitionRef } from '../src/state/store.js';
import { dayOfKey } from '../src/walk/dates.js';
import { FAKE_AWS_ENV, runCli, startCli, writeConfig } from '../support/cli.js';
import { bucketOnDisk } from './helpers/collector-runs.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { daysAgo, firehoseKey, jsonlGz, makeFinding, nativeKey, today } from '../support/findings.js';
import { CLI } from '../support/paths.js';
import { useFakeS3 } from '../support/s3.js';
import { stateRows } from './helpers/state.js';
import { waitForProcess } from './helpers/wait.js';

const fake = useFakeS3();
const ACCOUNT = '565656565656';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

function partition(bucket: string, region: string, account = ACCOUNT): PartitionRef {
  return { bucket, account, region, prefix: `AWSLogs/${account}/GuardDuty/${region}/` };
}

function record(bucket: string, key: string, events = 1): ObjectRecord {
  const [, account = '', , region = ''] = key.split('/');
  return { bucket, path: '', account, region, key, etag: '"etag"', size: 100, events, malformed: 0 };
}

/** A gzip that is not: the collector records the object as failed. */
function corrupt(): Buffer {
  return Buffer.concat([jsonlGz([makeFinding(ACCOUNT, EAST, 'never')]).subarray(0, 10), Buffer.from('this is not deflate data at all')]);
}

interface Collected {
  dir: string;
  config: string;
  state: string;
  out: string;
  /** Runs one real collector pass (--once) and returns its exit status. */
  pass(extra?: string[]): Promise<number>;
}

/** A bucket on the S3 emulator, an ossec.conf naming it, and a state file the real collector fills. */
function collected(bucket: string, extra: string): Collected {
  const { once, ...files } = bucketOnDisk(fake.s3, bucket, extra);
  return {
    ...files,
    async pass(more = []) {
      const result = await once(more);
      if (result.code !== 0) process.stderr.write(`# collector pass exited ${result.code}:\n${result.stderr}`);
      return result.code ?? -1;
    },
  };
}

function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${stderr}`);
  assert.match(lines[0]!, /^guardduty-wodle: /);
  return lines[0]!;
}

describe('state store: partition passes', () => {
  test('recordPartitionPass keeps the newest object moving forward only, and always the last pass', () => {
    const store = StateStore.open(join(tempDir(), 'state.db'));
    const p = partition('b', EAST);
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
    const file = join(tempDir(), 'state.db');
    const again = StateStore.open(file);
    again.recordPartitionPass(p, { at: 10, ok: true, error: null, newest: { key: 'new', modified: 300 } });
    again.recordPartitionPass(p, { at: 11, ok: false, error: 'boom', newest: { key: 'old', modified: 20 } });
    again.close();
    return runCli(['status', '--state', file, '--json']).then((result) => {
      const part = JSON.parse(result.stdout).buckets[0].partitions[0];
      assert.deepEqual(part.newest, { key: 'new', lastModified: new Date(300).toISOString() });
      assert.deepEqual(part.lastPass, { at: new Date(11).toISOString(), ok: false, error: 'boom' });
    });
  });
});

describe('status', () => {
  test('after real collector passes: each partition with last pass, newest object, lag and where the next listing starts; failed objects with their errors', async () => {
    const bucket = 'cmd-status';
    const c = collected(bucket, `<only_logs_after>${daysAgo(2)}</only_logs_after><regions>${EAST},${WEST}</regions>`);
    const bad = nativeKey(ACCOUNT, EAST, today(), '0-bad.jsonl.gz');
    const east = [nativeKey(ACCOUNT, EAST, daysAgo(1)), nativeKey(ACCOUNT, EAST, today()), nativeKey(ACCOUNT, EAST, today())];
    const west = nativeKey(ACCOUNT, WEST, today());
    for (const [i, key] of east.entries()) await fake.s3.put(bucket, key, jsonlGz([makeFinding(ACCOUNT, EAST, `east-${i}`)]));
    await fake.s3.put(bucket, west, jsonlGz([makeFinding(ACCOUNT, WEST, 'west-0'), makeFinding(ACCOUNT, WEST, 'west-1')]));
    await fake.s3.put(bucket, bad, corrupt());
    assert.equal(await c.pass(), 0);

    const text = await runCli(['status', '--state', c.state]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    const out = text.stdout;
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

    const json = await runCli(['status', '--state', c.state, '--json']);
    assert.equal(json.code, 0);
    const report = JSON.parse(json.stdout);
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
    assert.equal(await c.pass(), 0);
    const again = JSON.parse((await runCli(['status', '--state', c.state, '--json'])).stdout);
    assert.equal(again.buckets[0].failedObjects[0].attempts, 2);
  });

  test('works while a collector holds the lock and writes through the WAL', async () => {
    const file = join(tempDir(), 'state.db');
    const held = StateStore.open(file);
    try {
      const p = partition('busy', EAST);
      held.markDone(record('busy', `${p.prefix}${today().replaceAll('-', '/')}/a.jsonl.gz`, 5), false);
      held.setWindowStart(p, today());
      held.recordPartitionPass(p, { at: Date.now(), ok: true, error: null, newest: { key: `${p.prefix}x`, modified: Date.now() - 3 * 3600_000 - 12 * 60_000 } });
      assert.ok(existsSync(`${file}-wal`), 'the collector side is in WAL mode');
      const result = await runCli(['status', '--state', file]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`${ACCOUNT} ${EAST} .* ok .* 3h 1[23]m +${today()} +1 +0`));
      // Still locked by this process: a collector would be refused, status was not.
      assert.throws(() => StateStore.open(file), /in use by another guardduty-wodle process/);
      held.markFailed(record('busy', `${p.prefix}${today().replaceAll('-', '/')}/b.jsonl.gz`), 'boom', { kind: 'content', countsAttempt: true });
      const later = JSON.parse((await runCli(['status', '--state', file, '--json'])).stdout);
      assert.equal(later.buckets[0].failed, 1, 'a later status sees the new commit');
    } finally {
      held.close();
    }
  });

  test('a missing state file: one line naming the path, exit 2, and no file is created', async () => {
    const file = join(tempDir(), 'nope', 'state.db');
    for (const args of [['status', '--state', file], ['status', '--state', file, '--json']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.ok(oneErrorLine(result.stderr).includes(file));
    }
    assert.equal(existsSync(file), false);
  });

  test('a file that is not a state database: one line, exit 2', async () => {
    const dir = tempDir();
    const file = join(dir, 'ossec.conf');
    writeConfig(dir, []);
    const result = await runCli(['status', '--state', file]);
    assert.equal(result.code, 2);
    assert.match(oneErrorLine(result.stderr), /is not a guardduty-wodle database/);
  });

  test('an empty state says nothing was collected yet, exit 0', async () => {
    const file = join(tempDir(), 'state.db');
    StateStore.open(file).close();
    const text = await runCli(['status', '--state', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /nothing collected yet/);
    const json = await runCli(['status', '--state', file, '--json']);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout).buckets, []);
    assert.equal(JSON.parse(json.stdout).empty, true);
  });

  test('many failed objects: the first 20 per bucket and "and N more"; --all and --json list them all', async () => {
    const file = join(tempDir(), 'state.db');
    const store = StateStore.open(file);
    const p = partition('many', EAST);
    for (let n = 0; n < 25; n++) store.markFailed(record('many', `${p.prefix}2026/11/01/${String(n).padStart(2, '0')}.gz`), `error ${n}`, { kind: 'content', countsAttempt: true });
    store.markFailed(record('other', `${p.prefix}2026/11/01/x.gz`), 'other error', { kind: 'content', countsAttempt: true });
    store.close();
    const text = await runCli(['status', '--state', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /failed objects \(25\):/);
    assert.equal((text.stdout.match(/error \d+$/gm) ?? []).length, 20);
    assert.match(text.stdout, /… and 5 more/);
    assert.match(text.stdout, /other error/, 'the other bucket has its own 20');
    const all = await runCli(['status', '--state', file, '--all']);
    assert.equal((all.stdout.match(/error \d+$/gm) ?? []).length, 25);
    assert.doesNotMatch(all.stdout, /more/);
    const json = JSON.parse((await runCli(['status', '--state', file, '--json'])).stdout);
    assert.equal(json.buckets.find((b: { bucket: string }) => b.bucket === 'many').failedObjects.length, 25);
    // Objects under no partition row are still counted, under their account and region.
    assert.match(text.stdout, new RegExp(`${ACCOUNT} ${EAST} \\(no partition row\\) .* 0 +25`));
  });
});

describe('explain', () => {
  const bucket = 'cmd-explain';
  const ONLY = daysAgo(10);
  const WINDOW = daysAgo(3);

  /** A state and configuration built by hand: the partition's listing starts three days ago. */
  function fixture(wodleOptions = '', disabled = false) {
    const dir = tempDir();
    const config = writeConfig(
      dir,
      [
        {
          name: bucket,
          endpoint: 'http://127.0.0.1:9',
          extra: `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${EAST},${WEST}</regions><only_logs_after>${ONLY}</only_logs_after>` +
            '<remove_from_bucket>yes</remove_from_bucket><discard_regex field="type">Recon</discard_regex>',
        },
      ],
      wodleOptions,
    );
    if (disabled) writeFileSync(config, readFileSync(config, 'utf8').replace('<disabled>no</disabled>', '<disabled>yes</disabled>'));
    const state = join(dir, 'state.db');
    const store = StateStore.open(state);
    const p = partition(bucket, EAST);
    const keys = {
      done: nativeKey(ACCOUNT, EAST, daysAgo(2), 'done.jsonl.gz'),
      pending: nativeKey(ACCOUNT, EAST, daysAgo(1), 'pending.jsonl.gz'),
      failed: nativeKey(ACCOUNT, EAST, daysAgo(1), 'failed.jsonl.gz'),
      exhausted: nativeKey(ACCOUNT, EAST, daysAgo(1), 'exhausted.jsonl.gz'),
      old: nativeKey(ACCOUNT, EAST, daysAgo(5), 'old.jsonl.gz'),
      oldFailed: nativeKey(ACCOUNT, EAST, daysAgo(5), 'old-failed.jsonl.gz'),
      fresh: nativeKey(ACCOUNT, EAST, today(), 'fresh.jsonl.gz'),
      westOld: nativeKey(ACCOUNT, WEST, daysAgo(5), 'west.jsonl.gz'),
      beforeOnly: nativeKey(ACCOUNT, EAST, daysAgo(20), 'ancient.jsonl.gz'),
      otherAccount: nativeKey('999999999999', EAST, today(), 'x.jsonl.gz'),
      otherRegion: nativeKey(ACCOUNT, 'ap-south-1', today(), 'x.jsonl.gz'),
      outside: `AWSLogs/${ACCOUNT}/GuardDuty/${EAST}/${today().replaceAll('-', '/')}/nested/x.jsonl.gz`,
      firehose: firehoseKey(today(), 10),
    };
    store.markDone(record(bucket, keys.done, 7), false);
    store.markDone(record(bucket, keys.pending, 2), true);
    store.markFailed(record(bucket, keys.failed, 0), `s3://${bucket}/${keys.failed}: access denied by KMS reading the object`, { kind: 'content', countsAttempt: true });
    for (let n = 0; n < 3; n++) store.markFailed(record(bucket, keys.exhausted, 0), `s3://${bucket}/${keys.exhausted}: not valid gzip`, { kind: 'content', countsAttempt: true });
    store.markFailed(record(bucket, keys.oldFailed, 0), 'stale failure', { kind: 'content', countsAttempt: true });
    store.setWindowStart(p, WINDOW);
    store.recordPartitionPass(p, { at: Date.now(), ok: true, error: null, newest: null });
    store.close();
    const explain = async (key: string, ...more: string[]) => {
      const args = ['explain', bucket, key, '--config', config, '--state', state, ...more];
      const [result, json] = await Promise.all([runCli(args), runCli([...args, '--json'])]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      return { text: result.stdout, decision: JSON.parse(json.stdout) as { decision: string; outcome: string; reason: string; facts: Record<string, any>; notes: string[] } };
    };
    return { config, state, keys, explain };
  }

  test('gives each reason, in the collector\'s order, with the facts it used', async () => {
    const f = fixture();
    const { keys } = f;
    const window = `from ${WINDOW} to the end of the listing`;

    let r = await f.explain(keys.outside);
    assert.equal(r.decision.decision, 'outside-layout');
    assert.match(r.text.split('\n')[1]!, /^NOT READ: the key is outside both layouts/);

    r = await f.explain(keys.firehose);
    assert.equal(r.decision.decision, 'outside-layout', 'a Firehose key in a bucket read as native exports');
    assert.match(r.text, /Firehose layout, but the bucket is read as native exports/);

    r = await f.explain(keys.otherAccount);
    assert.equal(r.decision.decision, 'account-not-configured');
    assert.match(r.text, /NOT READ: account 999999999999 is not among the configured aws_account_id \(565656565656\)/);

    r = await f.explain(keys.otherRegion);
    assert.equal(r.decision.decision, 'region-not-configured');
    assert.match(r.text, /NOT READ: region ap-south-1 is not among the configured regions \(us-east-1, eu-west-1\)/);

    r = await f.explain(keys.beforeOnly);
    assert.equal(r.decision.decision, 'before-only-logs-after');
    assert.match(r.text, new RegExp(`NOT READ: its day ${daysAgo(20)} is before only_logs_after ${ONLY}`));

    r = await f.explain(keys.done);
    assert.equal(r.decision.decision, 'done');
    assert.equal(r.decision.outcome, 'processed');
    assert.match(r.text, /PROCESSED: done at .* with 7 events\n/);

    r = await f.explain(keys.pending);
    assert.match(r.text, /PROCESSED: done at .* with 2 events; its delete \(remove_from_bucket\) is pending and is tried again on the next pass/);

    r = await f.explain(keys.failed);
    assert.equal(r.decision.decision, 'failed-retry');
    assert.match(r.text, /WILL BE READ: will be read again on the next pass \(attempt 2 of 10\): failed 1 time, last error: .*access denied by KMS/);

    r = await f.explain(keys.exhausted, '--max-attempts', '3');
    assert.equal(r.decision.decision, 'failed-final');
    assert.match(r.text, /NOT READ: failed 3 times, the most --max-attempts \(3\) allows under skip_on_error: it stays failed and is not read again; last error: .*not valid gzip/);
    r = await f.explain(keys.exhausted);
    assert.equal(r.decision.decision, 'failed-retry', 'with the default of 10 it gets a fourth attempt');
    assert.match(r.text, /attempt 4 of 10/);

    r = await f.explain(keys.old);
    assert.equal(r.decision.decision, 'before-window');
    assert.match(
      r.text,
      new RegExp(
        `NOT READ: its folder ${daysAgo(5)} is before where the partition's listing starts \\(${WINDOW}; the newest object settled there less 1 day of grace, or where it was first listed or imported from Wazuh if later\\): ` +
          `it will not be listed again unless a --rescan-since on or before ${daysAgo(5)} asks`,
      ),
    );
    assert.match(r.text, /note: the state has no row for this key: if it was read, its row was pruned since/);
    assert.deepEqual(r.decision.facts['window'], { first: WINDOW });

    r = await f.explain(keys.oldFailed);
    assert.equal(r.decision.decision, 'failed-retry', 'retryable, and read by key though no longer listed');
    assert.match(r.text, new RegExp(`WILL BE READ: will be read again on the next pass \\(attempt 2 of 10\\): failed 1 time, last error: stale failure; its folder ${daysAgo(5)} is before where the listing starts \\(${WINDOW}\\), so it is read by its key`));

    r = await f.explain(keys.fresh);
    assert.equal(r.decision.decision, 'will-read');
    assert.equal(r.decision.outcome, 'will-be-read');
    assert.match(r.text, new RegExp(`WILL BE READ: would be read on the next pass: its folder ${today()} is inside the listing window \\(${window}\\)`));

    // A rescan from before its day lists it again; one that starts later does not.
    r = await f.explain(keys.old, '--rescan-since', daysAgo(6));
    assert.equal(r.decision.decision, 'will-read');
    assert.deepEqual(r.decision.facts['window'], { first: daysAgo(6) });
    assert.match(r.text, new RegExp(`rescan since +${daysAgo(6)}`));
    r = await f.explain(keys.old, '--rescan-since', daysAgo(4));
    assert.equal(r.decision.decision, 'before-window');
    assert.match(r.text, new RegExp(`\\(${daysAgo(4)}; the rescan from ${daysAgo(4)}\\)`));
    // A rescan gives an object left failed for good one more read.
    r = await f.explain(keys.exhausted, '--max-attempts', '3', '--rescan-since', daysAgo(4));
    assert.equal(r.decision.decision, 'failed-retry');
    assert.match(r.text, /the rescan gives it one more read after 3 attempts/);

    // The west partition never completed a pass: its window starts at only_logs_after.
    r = await f.explain(keys.westOld);
    assert.equal(r.decision.decision, 'will-read');
    assert.match(r.text, new RegExp(`window +from ${ONLY} to the end of the listing`));
    assert.match(r.text, /listed from +none/);

    // The facts used, in plain text.
    r = await f.explain(keys.old);
    for (const fact of [
      /config +.*ossec\.conf:\d+ \(skip_on_error yes, --max-attempts 10\)/,
      /layout +native: the key is under AWSLogs\//,
      new RegExp(`account +${ACCOUNT} \\(aws_account_id: ${ACCOUNT}\\)`),
      new RegExp(`region +${EAST} \\(regions: ${EAST}, ${WEST}\\)`),
      new RegExp(`day +${daysAgo(5)}`),
      new RegExp(`only_logs_after +${ONLY}`),
      new RegExp(`partition +AWSLogs/${ACCOUNT}/GuardDuty/${EAST}/`),
      new RegExp(`listed from +${WINDOW}`),
      /state +no row for this key/,
      /note: discard_regex applies to each finding, not to the key: findings of this object matching type ~ Recon are dropped/,
    ]) {
      assert.match(r.text, fact);
    }
  });

  test('without skip_on_error a failed object is retried every pass; a disabled wodle reads nothing', async () => {
    const strict = fixture('<skip_on_error>no</skip_on_error>');
    const r = await strict.explain(strict.keys.exhausted, '--max-attempts', '3');
    assert.equal(r.decision.decision, 'failed-retry');
    assert.match(r.text, /every pass until it succeeds, since skip_on_error is no/);
    const off = fixture('', true);
    assert.equal((await off.explain(off.keys.fresh)).decision.decision, 'disabled');
  });

  test('a Firehose bucket: its keys by the Firehose layout, the partition being the path', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'hose', endpoint: 'http://127.0.0.1:9', extra: '<path>firehose</path>' }]);
    const state = join(dir, 'state.db');
    const store = StateStore.open(state);
    store.setWindowStart({ bucket: 'hose', prefix: 'firehose/', account: '', region: '' }, `${today()}T02`);
    store.close();
    const key = firehoseKey(today(), 3, '.gz', 'firehose/');
    const result = await runCli(['explain', 'hose', key, '--config', config, '--state', state, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(result.stdout);
    assert.equal(answer.decision, 'will-read');
    assert.equal(answer.facts.layout, 'firehose');
    assert.equal(answer.facts.partition, 'firehose/');
    assert.match(answer.facts.layoutBasis, /the state has the Firehose partition/);
    const outside = await runCli(['explain', 'hose', 'firehose/processing-failed/2026/11/29/10/x.gz', '--config', config, '--state', state]);
    assert.match(outside.stdout, /NOT READ: the key is outside both layouts/);
  });

  test('on a state the real collector made: done with its events, failed with its attempts', async () => {
    const bucket = 'cmd-explain-real';
    const c = collected(bucket, '');
    const good = nativeKey(ACCOUNT, EAST, today(), '1-good.jsonl.gz');
    const bad = nativeKey(ACCOUNT, EAST, today(), '0-bad.jsonl.gz');
    await fake.s3.put(bucket, good, jsonlGz([makeFinding(ACCOUNT, EAST, 'a'), makeFinding(ACCOUNT, EAST, 'b'), makeFinding(ACCOUNT, EAST, 'c')]));
    await fake.s3.put(bucket, bad, corrupt());
    assert.equal(await c.pass(), 0);
    const ask = (key: string, ...more: string[]) => runCli(['explain', bucket, key, '--config', c.config, '--state', c.state, ...more]);
    assert.match((await ask(good)).stdout, /PROCESSED: done at .* with 3 events/);
    assert.match((await ask(bad)).stdout, /WILL BE READ: will be read again on the next pass \(attempt 2 of 10\): failed 1 time, last error: .*not valid gzip/);
    assert.match((await ask(bad, '--max-attempts', '1')).stdout, /NOT READ: failed 1 time, the most --max-attempts \(1\) allows/);
    assert.match((await ask(nativeKey(ACCOUNT, EAST, daysAgo(2)))).stdout, /NOT READ: its folder .* is before where the partition's listing starts/);
  });

  test('a bucket not in the configuration, a missing state, bad arguments: one line, exit 2', async () => {
    const f = fixture();
    const notConfigured = await runCli(['explain', 'nobody', 'k', '--config', f.config, '--state', f.state]);
    assert.equal(notConfigured.code, 2);
    assert.match(oneErrorLine(notConfigured.stderr), new RegExp(`bucket nobody is not in .*ossec\\.conf \\(configured: ${bucket}\\)`));
    const missing = join(tempDir(), 'state.db');
    const noState = await runCli(['explain', bucket, f.keys.fresh, '--config', f.config, '--state', missing]);
    assert.equal(noState.code, 2);
    assert.ok(oneErrorLine(noState.stderr).includes(missing));
    assert.equal(existsSync(missing), false);
    const noKey = await runCli(['explain', bucket, '--config', f.config, '--state', f.state]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^guardduty-wodle: explain takes 2 arguments, got 1\nusage: guardduty-wodle explain/);
  });
});

describe('reset', () => {
  test('--since forgets exactly the rows on or after the day, moves window starts back, and the next pass reads exactly those objects again', async () => {
    const bucket = 'cmd-reset-since';
    const c = collected(bucket, `<only_logs_after>${daysAgo(3)}</only_logs_after>`);
    const days = [daysAgo(3), daysAgo(2), daysAgo(1), today()];
    const idsOn = new Map<string, string[]>();
    for (const region of [EAST, WEST]) {
      for (const day of days) {
        const ids = [`${region}-${day}-a`, `${region}-${day}-b`];
        idsOn.set(day, [...(idsOn.get(day) ?? []), ...ids]);
        await fake.s3.put(bucket, nativeKey(ACCOUNT, region, day), jsonlGz(ids.map((id) => makeFinding(ACCOUNT, region, id))));
      }
    }
    assert.equal(await c.pass(), 0);
    assert.equal(idsIn(c.out).length, 16);
    assert.equal(await c.pass(), 0);
    assert.equal(idsIn(c.out).length, 16, 'nothing new without a reset');
    const before = stateRows(c.state);
    assert.equal(before.length, 8);

    const since = daysAgo(2);
    const result = await runCli(['reset', bucket, '--since', since, '--state', c.state, '--yes']);
    assert.equal(result.code, 0, result.stderr);
    const windowMove = `${daysAgo(1)} → ${since}`;
    for (const region of [EAST, WEST]) assert.ok(result.stdout.includes(`${ACCOUNT} ${region}        3     3       0  ${windowMove}`), result.stdout);
    assert.match(result.stdout, /forgot 6 object rows of bucket cmd-reset-since and moved 2 partition windows back/);
    const keyDay = (key: string) => key.split('/').slice(4, 7).join('-');
    assert.deepEqual(
      stateRows(c.state).map((r) => r.key),
      before.map((r) => r.key).filter((key) => keyDay(key) < since),
      'exactly the rows before the day are kept',
    );
    const status = JSON.parse((await runCli(['status', '--state', c.state, '--json'])).stdout);
    assert.deepEqual(status.buckets[0].partitions.map((p: { windowStart: string }) => p.windowStart), [since, since]);
    // The state explains the rows forgotten as to be read again.
    const forgotten = before.find((r) => keyDay(r.key) === since)!.key;
    assert.match((await runCli(['explain', bucket, forgotten, '--config', c.config, '--state', c.state])).stdout, /WILL BE READ: would be read on the next pass/);

    assert.equal(await c.pass(), 0);
    const again = idsIn(c.out).slice(16);
    assert.deepEqual(again.sort(), [...idsOn.get(daysAgo(2))!, ...idsOn.get(daysAgo(1))!, ...idsOn.get(today())!].sort(), 'the next pass re-reads exactly those objects');
    assert.equal(await c.pass(), 0);
    assert.equal(idsIn(c.out).length, 16 + 12, 'and only once');
  });

  test('without --since: forgets the bucket (objects, partitions, passes), no other bucket; the next pass starts as on a new state', async () => {
    const dir = tempDir();
    const [one, two] = ['cmd-reset-all-1', 'cmd-reset-all-2'];
    const extra = `<only_logs_after>${daysAgo(2)}</only_logs_after>`;
    for (const name of [one, two]) {
      fake.s3.createBucket(name);
      for (const day of [daysAgo(2), today()]) await fake.s3.put(name, nativeKey(ACCOUNT, EAST, day), jsonlGz([makeFinding(ACCOUNT, EAST, `${name}-${day}`)]));
    }
    const config = writeConfig(dir, [one, two].map((name) => ({ name, endpoint: fake.s3.endpoint, extra })));
    const state = join(dir, 'state.db');
    const out = join(dir, 'events.jsonl');
    const pass = async () => (await runCli(['--config', config, '--once', '--state', state, '--output', `file:${out}`])).code;
    assert.equal(await pass(), 0);
    assert.equal(idsIn(out).length, 4);

    const result = await runCli(['reset', one, '--state', state, '--yes']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /forgetting everything about it/);
    assert.match(result.stdout, new RegExp(`${ACCOUNT} ${EAST} +2 +2 +0 +${daysAgo(1)} → forgotten`));
    assert.match(result.stdout, /forgot 2 object rows and 1 partition window of bucket cmd-reset-all-1/);
    const status = JSON.parse((await runCli(['status', '--state', state, '--json'])).stdout);
    assert.deepEqual(status.buckets.map((b: { bucket: string }) => b.bucket), [two], 'no partition, pass or object row of the bucket is left');
    const nothing = await runCli(['reset', one, '--state', state]);
    assert.equal(nothing.code, 0, 'nothing left to forget: exit 0 without asking');
    assert.match(nothing.stdout, /the state holds nothing about bucket cmd-reset-all-1; nothing to do/);

    assert.equal(await pass(), 0);
    assert.deepEqual(idsIn(out).slice(4).sort(), [`${one}-${daysAgo(2)}`, `${one}-${today()}`]);
  });

  test('refuses while a collector holds the lock: one line, exit 2, nothing changed', async () => {
    const file = join(tempDir(), 'state.db');
    const held = StateStore.open(file);
    try {
      held.markDone(record('locked', nativeKey(ACCOUNT, EAST, today())), false);
      const result = await runCli(['reset', 'locked', '--state', file, '--yes']);
      assert.equal(result.code, 2);
      assert.match(oneErrorLine(result.stderr), /in use by a running collector .*stop the service first/);
      assert.equal(result.stdout, '');
      assert.equal(held.countObjects(), 1);
    } finally {
      held.close();
    }
  });

  test('a running collector daemon makes reset refuse, and status still reads', async () => {
    const bucket = 'cmd-reset-daemon';
    const c = collected(bucket, '');
    await fake.s3.put(bucket, nativeKey(ACCOUNT, EAST, today()), jsonlGz([makeFinding(ACCOUNT, EAST, 'daemon')]));
    const daemon = startCli(['--config', c.config, '--state', c.state, '--output', `file:${c.out}`]);
    try {
      await waitForProcess(daemon, () => idsIn(c.out).length > 0, { what: 'the first event delivered', timeoutMs: 20_000, intervalMs: 100 });
      assert.equal(idsIn(c.out).length, 1, daemon.stderrSoFar());
      let status = await runCli(['status', '--state', c.state]);
      for (let n = 0; n < 50 && !/ok/.test(status.stdout); n++) status = await runCli(['status', '--state', c.state]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`${ACCOUNT} ${EAST} .* ok `));
      const reset = await runCli(['reset', bucket, '--state', c.state, '--yes']);
      assert.equal(reset.code, 2);
      assert.match(oneErrorLine(reset.stderr), /stop the service first/);
    } finally {
      daemon.child.kill('SIGTERM');
      assert.equal((await daemon.done).code, 0);
    }
    assert.equal(stateRows(c.state).length, 1);
  });

  test('without --yes when stdin is not a terminal: prints the plan, exit 2 saying so, nothing changed', async () => {
    const file = join(tempDir(), 'state.db');
    const store = StateStore.open(file);
    store.markDone(record('ask', nativeKey(ACCOUNT, EAST, today())), false);
    store.close();
    const result = await runCli(['reset', 'ask', '--state', file]);
    assert.equal(result.code, 2);
    assert.match(result.stdout, /reset bucket ask in .*: forgetting everything about it/);
    assert.match(oneErrorLine(result.stderr), /add --yes to confirm \(stdin is not a terminal/);
    assert.equal(stateRows(file).length, 1);
    const missing = join(tempDir(), 'state.db');
    const noState = await runCli(['reset', 'ask', '--state', missing, '--yes']);
    assert.equal(noState.code, 2);
    assert.ok(oneErrorLine(noState.stderr).includes(missing));
    assert.equal(existsSync(missing), false, 'reset does not create a state');
    const badDay = await runCli(['reset', 'ask', '--since', '2026-02-30', '--state', file, '--yes']);
    assert.equal(badDay.code, 2);
    assert.match(badDay.stderr, /^guardduty-wodle: --since 2026-02-30: use a day as YYYY-MM-DD\n/);
  });

  test('on a terminal it asks: "n" changes nothing (exit 1), "y" resets (exit 0)', { skip: spawnSync('script', ['--version']).status !== 0 && 'no script(1)' }, async () => {
    const original = join(tempDir(), 'state.db');
    const store = StateStore.open(original);
    store.markDone(record('tty', nativeKey(ACCOUNT, EAST, today())), false);
    store.close();
    for (const [answer, code, rows] of [['n', 1, 1], ['y', 0, 0]] as const) {
      const file = join(tempDir(), 'state.db');
      copyFileSync(original, file);
      // script(1) gives the command a terminal; the answer is typed once the question is shown.
      const child = spawn('script', ['-qec', `${CLI} reset tty --state ${file}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...FAKE_AWS_ENV } });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('[y/N]') && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
      });
      const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(exit, code, output);
      assert.equal(stateRows(file).length, rows, output);
    }
  });

  test('the plan: the window starts at since, never moved forward; rows kept before the day; keys under no partition by their own date folders', () => {
    const prefix = `AWSLogs/${ACCOUNT}/GuardDuty/${EAST}/`;
    const plan = planReset(
      'b',
      [
        { prefix, account: ACCOUNT, region: EAST, windowStart: '2026-11-29' },
        { prefix: `AWSLogs/${ACCOUNT}/GuardDuty/${WEST}/`, account: ACCOUNT, region: WEST, windowStart: '2026-11-10' },
        { prefix: `AWSLogs/${ACCOUNT}/GuardDuty/ap-south-1/`, account: ACCOUNT, region: 'ap-south-1', windowStart: null },
      ],
      [
        { key: `${prefix}2026/11/19/a.gz`, status: 'done' },
        { key: `${prefix}2026/11/20/b.gz`, status: 'done' },
        { key: `${prefix}2026/11/21/c.gz`, status: 'failed' },
        { key: `AWSLogs/${ACCOUNT}/GuardDuty/eu-north-1/2026/11/22/d.gz`, status: 'done' },
        { key: `AWSLogs/${ACCOUNT}/GuardDuty/eu-north-1/2026/11/02/e.gz`, status: 'done' },
      ],
      '2026-11-20',
    );
    const [south, west, east, loose] = plan.partitions;
    assert.deepEqual(east!.window, { from: '2026-11-29', to: '2026-11-20' });
    assert.deepEqual(east!.keys, [`${prefix}2026/11/20/b.gz`, `${prefix}2026/11/21/c.gz`]);
    assert.deepEqual([east!.done, east!.failed], [1, 1]);
    assert.deepEqual(west!.window, { from: '2026-11-10', to: '2026-11-10' }, 'never forward');
    assert.deepEqual(south!.window, { from: null, to: null });
    // Firehose partitions start at an hour folder: one after the day moves back to it, one before stays.
    const hose = (start: string) => planReset('h', [{ prefix: 'fh/', account: '', region: '', windowStart: start }], [], '2026-11-20').partitions[0]!.window;
    assert.deepEqual(hose('2026-11-20T05'), { from: '2026-11-20T05', to: '2026-11-20' });
    assert.deepEqual(hose('2026-11-19T23'), { from: '2026-11-19T23', to: '2026-11-19T23' });
    assert.deepEqual(loose!.keys, [`AWSLogs/${ACCOUNT}/GuardDuty/eu-north-1/2026/11/22/d.gz`]);
    assert.equal(plan.objects, 3);
    assert.equal(dayOfKey('p/2026/11/29/10/stream-1-2026-11-29-10-00-00-x.gz', 'p/'), '2026-11-29');
    assert.equal(dayOfKey('x/2026/11/29/10/stream-1.gz', null), '2026-11-29');
    assert.equal(dayOfKey('p/processing-failed/x.gz', 'p/'), null);
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
