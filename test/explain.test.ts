// `explain BUCKET KEY`: whether the collector read a key or would read it, and if not, why — answered
// from the configuration and the state alone. Each answer is asked in this process, as the command
// asks it (readExplanation on a real ossec.conf and a real state database, formatExplanation for the
// text; the JSON is the answer as --json prints it). The command line itself (flags, exit status,
// errors): process/explain-cli.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { formatExplanation, readExplanation } from '../src/commands/explain.js';
import { loadConfig } from '../src/config/load.js';
import { StateStore } from '../src/state/store.js';
import { writeConfig } from '../support/cli.js';
import { daysAgo, firehoseKey, jsonlGz, makeFinding, nativeKey, today } from '../support/findings.js';
import { useFakeS3 } from '../support/s3.js';
import { tempDir } from './helpers/files.js';
import { inProcessBucket } from './helpers/harness.js';
import { corruptGzip, partition, record } from './helpers/state-records.js';

const fake = useFakeS3();
const ACCOUNT = '565656565656';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';
/** The collector's --max-attempts when none is given (DEFAULT_LIMITS), as the CLI passes it to explain. */
const DEFAULT_MAX_ATTEMPTS = 10;

interface Asked {
  text: string;
  /** The answer as `explain --json` prints it. */
  json: { decision: string; outcome: string; reason: string; facts: Record<string, any>; notes: string[] };
}

/** Asks about `key` as `explain BUCKET KEY --config FILE --state FILE [--max-attempts N] [--rescan-since DAY]` does. */
function ask(config: string, state: string, bucket: string, key: string, options: { maxAttempts?: number; rescanSince?: string } = {}): Asked {
  const answer = readExplanation(loadConfig(config), state, bucket, key, {
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    now: new Date(),
    rescanSince: options.rescanSince ?? null,
  });
  return { text: formatExplanation(answer), json: JSON.parse(JSON.stringify(answer)) as Asked['json'] };
}

describe('explain on a state built by hand', () => {
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
    const p = partition(bucket, EAST, ACCOUNT);
    const keys = {
      done: nativeKey(ACCOUNT, EAST, daysAgo(2), 'done.jsonl.gz'),
      pending: nativeKey(ACCOUNT, EAST, daysAgo(1), 'pending.jsonl.gz'),
      pendingOld: nativeKey(ACCOUNT, EAST, daysAgo(6), 'pending-old.jsonl.gz'),
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
    store.markDone(record(bucket, keys.pendingOld, 1), true);
    store.markFailed(record(bucket, keys.failed, 0), `s3://${bucket}/${keys.failed}: access denied by KMS reading the object`, { kind: 'content', countsAttempt: true });
    for (let n = 0; n < 3; n++) store.markFailed(record(bucket, keys.exhausted, 0), `s3://${bucket}/${keys.exhausted}: not valid gzip`, { kind: 'content', countsAttempt: true });
    store.markFailed(record(bucket, keys.oldFailed, 0), 'stale failure', { kind: 'content', countsAttempt: true });
    store.setWindowStart(p, WINDOW);
    store.recordPartitionPass(p, { at: Date.now(), ok: true, error: null, newest: null });
    store.close();
    return { keys, explain: (key: string, options?: { maxAttempts?: number; rescanSince?: string }) => ask(config, state, bucket, key, options) };
  }

  type Keys = ReturnType<typeof fixture>['keys'];
  interface Case {
    /** What the answer is about, in the test's name. */
    about: string;
    key: keyof Keys;
    maxAttempts?: number;
    rescanSince?: string;
    decision: string;
    outcome?: string;
    /** The answer's second line: PROCESSED, WILL BE READ or NOT READ, and why. */
    lead: RegExp;
    /** More the text says (facts, notes). */
    says?: RegExp[];
    window?: { first: string };
  }

  // Each reason, in the order the collector applies its checks (the first that stops a key is the answer).
  const window = `from ${WINDOW} to the end of the listing`;
  const cases: Case[] = [
    { about: 'a key outside both layouts', key: 'outside', decision: 'outside-layout', lead: /^NOT READ: the key is outside both layouts/ },
    { about: 'a Firehose key in a bucket read as native exports', key: 'firehose', decision: 'outside-layout', lead: /^NOT READ: .*Firehose layout, but the bucket is read as native exports/ },
    { about: 'an account not configured', key: 'otherAccount', decision: 'account-not-configured', lead: /^NOT READ: account 999999999999 is not among the configured aws_account_id \(565656565656\)/ },
    { about: 'a region not configured', key: 'otherRegion', decision: 'region-not-configured', lead: /^NOT READ: region ap-south-1 is not among the configured regions \(us-east-1, eu-west-1\)/ },
    { about: 'a day before only_logs_after', key: 'beforeOnly', decision: 'before-only-logs-after', lead: new RegExp(`^NOT READ: its day ${daysAgo(20)} is before only_logs_after ${ONLY}`) },
    { about: 'a key done', key: 'done', decision: 'done', outcome: 'processed', lead: /^PROCESSED: done at .* with 7 events$/ },
    {
      about: 'a key done whose delete is pending',
      key: 'pending',
      decision: 'done',
      lead: /^PROCESSED: done at .* with 2 events; its delete \(remove_from_bucket\) is pending and is carried out at the start of the next pass/,
    },
    {
      about: 'a failed key below --max-attempts',
      key: 'failed',
      decision: 'failed-retry',
      lead: /^WILL BE READ: will be read again on the next pass \(attempt 2 of 10\): failed 1 time, last error: .*access denied by KMS/,
    },
    {
      about: 'a failed key at --max-attempts 3',
      key: 'exhausted',
      maxAttempts: 3,
      decision: 'failed-final',
      lead: /^NOT READ: failed 3 times, the most --max-attempts \(3\) allows under skip_on_error: it stays failed and is not read again; last error: .*not valid gzip/,
    },
    { about: 'the same key with the default of 10: a fourth attempt', key: 'exhausted', decision: 'failed-retry', lead: /attempt 4 of 10/ },
    {
      about: 'a key before the window, with no row',
      key: 'old',
      decision: 'before-window',
      lead: new RegExp(
        `^NOT READ: its folder ${daysAgo(5)} is before where the partition's listing starts \\(${WINDOW}; the newest object settled there less 1 day of grace, or where it was first listed or imported from Wazuh if later\\): ` +
          `it will not be listed again unless a --rescan-since on or before ${daysAgo(5)} asks`,
      ),
      says: [/note: the state has no row for this key: if it was read, its row was pruned since/],
      window: { first: WINDOW },
    },
    {
      about: 'a key done whose delete is pending, behind the window: every pass carries out the deletes it owes, listed or not',
      key: 'pendingOld',
      decision: 'done',
      lead: /^PROCESSED: done at .* with 1 event; its delete \(remove_from_bucket\) is pending and is carried out at the start of the next pass/,
    },
    {
      about: 'a failed key before the window: retryable, read by key though no longer listed',
      key: 'oldFailed',
      decision: 'failed-retry',
      lead: new RegExp(
        `^WILL BE READ: will be read again on the next pass \\(attempt 2 of 10\\): failed 1 time, last error: stale failure; its folder ${daysAgo(5)} is before where the listing starts \\(${WINDOW}\\), so it is read by its key`,
      ),
    },
    {
      about: 'a new key inside the window',
      key: 'fresh',
      decision: 'will-read',
      outcome: 'will-be-read',
      lead: new RegExp(`^WILL BE READ: would be read on the next pass: its folder ${today()} is inside the listing window \\(${window}\\)`),
    },
    // A rescan from before its day lists it again; one that starts later does not.
    {
      about: 'a key before the window, rescanned from before its day',
      key: 'old',
      rescanSince: daysAgo(6),
      decision: 'will-read',
      lead: /^WILL BE READ: /,
      says: [new RegExp(`rescan since +${daysAgo(6)}`)],
      window: { first: daysAgo(6) },
    },
    { about: 'a key before the window, rescanned from after its day', key: 'old', rescanSince: daysAgo(4), decision: 'before-window', lead: new RegExp(`\\(${daysAgo(4)}; the rescan from ${daysAgo(4)}\\)`) },
    // A rescan gives an object left failed for good one more read.
    { about: 'a key failed for good, rescanned', key: 'exhausted', maxAttempts: 3, rescanSince: daysAgo(4), decision: 'failed-retry', lead: /the rescan gives it one more read after 3 attempts/ },
    // The west partition never completed a pass: its window starts at only_logs_after.
    {
      about: 'a key of a partition never listed to the end',
      key: 'westOld',
      decision: 'will-read',
      lead: /^WILL BE READ: /,
      says: [new RegExp(`window +from ${ONLY} to the end of the listing`), /listed from +none/],
    },
  ];

  let explain: ReturnType<typeof fixture>['explain'];
  let keys: Keys;
  before(() => ({ explain, keys } = fixture()));

  for (const c of cases) {
    test(`${c.about}: ${c.decision}`, () => {
      const r = explain(keys[c.key], { maxAttempts: c.maxAttempts, rescanSince: c.rescanSince });
      assert.equal(r.json.decision, c.decision, r.text);
      if (c.outcome) assert.equal(r.json.outcome, c.outcome);
      const [where, lead] = r.text.split('\n');
      assert.equal(where, `s3://${bucket}/${keys[c.key]}`);
      assert.match(lead!, c.lead);
      for (const more of c.says ?? []) assert.match(r.text, more);
      if (c.window) assert.deepEqual(r.json.facts['window'], c.window);
    });
  }

  test('the facts used, in plain text', () => {
    const r = explain(keys.old);
    for (const fact of [
      /config +.*ossec\.conf:\d+ \(skip_on_error yes, --max-attempts 10\)/,
      /layout +native: the state has native partitions under AWSLogs\/: the collector reads native exports/,
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

  test('without skip_on_error a failed object is retried every pass; a disabled wodle reads nothing', () => {
    const strict = fixture('<skip_on_error>no</skip_on_error>');
    const r = strict.explain(strict.keys.exhausted, { maxAttempts: 3 });
    assert.equal(r.json.decision, 'failed-retry');
    assert.match(r.text, /every pass until it succeeds, since skip_on_error is no/);
    const off = fixture('', true);
    assert.equal(off.explain(off.keys.fresh).json.decision, 'disabled');
  });
});

describe('explain on other states', () => {
  test('a Firehose bucket: its keys by the Firehose layout, the partition being the path', () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'hose', endpoint: 'http://127.0.0.1:9', extra: '<path>firehose</path>' }]);
    const state = join(dir, 'state.db');
    const store = StateStore.open(state);
    store.setWindowStart({ bucket: 'hose', prefix: 'firehose/', account: '', region: '' }, `${today()}T02`);
    store.close();
    const key = firehoseKey(today(), 3, '.gz', 'firehose/');
    const answer = ask(config, state, 'hose', key).json;
    assert.equal(answer.decision, 'will-read');
    assert.equal(answer.facts['layout'], 'firehose');
    assert.equal(answer.facts['partition'], 'firehose/');
    assert.match(answer.facts['layoutBasis'], /the state has the Firehose partition/);
    const outside = ask(config, state, 'hose', 'firehose/processing-failed/2026/11/29/10/x.gz');
    assert.match(outside.text, /NOT READ: the key is outside both layouts/);
  });

  test('on a state a collector pass made: done with its events, failed with its attempts, old folders before the window', async () => {
    const bucket = 'cmd-explain-real';
    const h = await inProcessBucket(fake, bucket, () => '');
    try {
      const good = nativeKey(ACCOUNT, EAST, today(), '1-good.jsonl.gz');
      const bad = nativeKey(ACCOUNT, EAST, today(), '0-bad.jsonl.gz');
      await fake.s3.put(bucket, good, jsonlGz([makeFinding(ACCOUNT, EAST, 'a'), makeFinding(ACCOUNT, EAST, 'b'), makeFinding(ACCOUNT, EAST, 'c')]));
      await fake.s3.put(bucket, bad, corruptGzip(ACCOUNT, EAST));
      await h.pass(new Date().toISOString());
      // The harness's configuration, as the pass read it: the same bucket block, behind its proxy.
      const config = writeConfig(tempDir(), [{ name: bucket, endpoint: h.proxy.endpoint }]);
      const at = (key: string, options?: { maxAttempts?: number }) => ask(config, h.statePath, bucket, key, options).text;
      assert.match(at(good), /PROCESSED: done at .* with 3 events/);
      assert.match(at(bad), /WILL BE READ: will be read again on the next pass \(attempt 2 of 10\): failed 1 time, last error: .*not valid gzip/);
      assert.match(at(bad, { maxAttempts: 1 }), /NOT READ: failed 1 time, the most --max-attempts \(1\) allows/);
      assert.match(at(nativeKey(ACCOUNT, EAST, daysAgo(2))), /NOT READ: its folder .* is before where the partition's listing starts/);
    } finally {
      await h.stop();
    }
  });
});

describe('explain takes the layout the collector reads by', () => {
  test('a native-shaped key of a bucket the state knows as Firehose is outside its layout, as the collector ignores it', () => {
    const dir = tempDir();
    const name = 'cmd-explain-firehose';
    const config = writeConfig(dir, [{ name, endpoint: 'http://127.0.0.1:9' }]);
    const state = join(dir, 'state.db');
    const store = StateStore.open(state);
    store.setWindowStart({ bucket: name, prefix: '', account: '', region: '' }, daysAgo(1));
    store.close();
    const r = ask(config, state, name, nativeKey(ACCOUNT, EAST, today(), 'native-shaped.jsonl.gz'));
    assert.equal(r.json.decision, 'outside-layout');
    assert.match(r.text, /NOT READ: the key is in the native layout, but the bucket is read as Firehose \(the state knows it so\); the collector ignores it/);
    assert.match(r.text, /layout +firehose: the state has the Firehose partition ""/);
  });
});
