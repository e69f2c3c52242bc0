// The daemon as operators run it: schedules per aws-s3 block, no overlapping passes, SIGHUP reload.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { startCli, writeConfig, type Running } from '../../support/cli.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { logsSoFar, waitForLog, waitForProcess, within } from '../helpers/wait.js';

const ACCOUNT = '555555555555';
const REGION = 'eu-central-1';
const fake = useFakeS3();

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

/** Waits (15 s at most) until `check` holds while the daemon runs; on failure it is killed and its stderr shown. */
function until(running: Running, what: string, check: () => boolean): Promise<void> {
  return waitForProcess(running, check, { what, timeoutMs: 15_000 });
}

function passes(logs: Array<Record<string, unknown>>) {
  return logs
    .filter((l) => String(l['msg']).startsWith('bucket pass'))
    .map((l) => ({ bucket: l['bucket'] as string, end: l['time'] as number, start: (l['time'] as number) - (l['durationMs'] as number) }));
}

describe('daemon scheduling', () => {
  test('a pass longer than the interval: "interval overtaken", the next starts at once, passes never overlap', async () => {
    const bucket = 'gd-overtaken';
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'slow')]));
    // A deliberately slow S3 (1.5 s per object read): what makes the pass outlast its 1 s interval.
    const proxy = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (r.method === 'GET' && !r.url.includes('list-type=') ? 1500 : 0) });
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }], '<interval>1s</interval>');
    const out = join(dir, 'events.jsonl');
    const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${out}`]);
    try {
      await until(running, 'three passes', () => passes(logsSoFar(running)).length >= 3);
    } finally {
      running.child.kill('SIGTERM');
    }
    const result = await running.done;
    await proxy.stop();
    assert.equal(result.code, 0, result.stderr);
    const seen = passes(result.logs);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.start >= seen[i - 1]!.end, `pass ${i} started before pass ${i - 1} ended`);
    const overtaken = result.logs.filter((l) => String(l['msg']).startsWith('interval overtaken'));
    assert.equal(overtaken.length, 1, 'only the slow first pass outlasts the interval');
    assert.ok(seen[1]!.start - seen[0]!.end < 500, 'the pass after an overtaken one starts at once');
    assert.ok(seen[2]!.start - seen[1]!.end >= 700, 'then the interval applies again');
    assert.deepEqual(idsIn(out), ['slow']);
  });

  test('several aws-s3 blocks keep their own schedules in one process', async () => {
    const [fast, slow] = ['gd-every-second', 'gd-every-hour'];
    for (const bucket of [fast, slow]) fake.s3.createBucket(bucket);
    const dir = tempDir();
    const config = join(dir, 'ossec.conf');
    const block = (bucket: string, interval: string) =>
      `<wodle name="aws-s3"><interval>${interval}</interval><run_on_start>yes</run_on_start>` +
      `<bucket type="guardduty"><name>${bucket}</name><service_endpoint>${fake.s3.endpoint}</service_endpoint></bucket></wodle>`;
    writeFileSync(config, `<ossec_config>${block(fast, '1s')}</ossec_config>\n<ossec_config>${block(slow, '1h')}</ossec_config>\n`);
    const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`]);
    await until(running, 'four passes of the fast block', () => passes(logsSoFar(running)).filter((p) => p.bucket === fast).length >= 4);
    running.child.kill('SIGTERM');
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(passes(result.logs).filter((p) => p.bucket === slow).length, 1);
  });

  test('SIGHUP reloads the configuration; an invalid one keeps the old in use and says why', async () => {
    const [first, added] = ['gd-reload-first', 'gd-reload-added'];
    for (const bucket of [first, added]) fake.s3.createBucket(bucket);
    await fake.s3.put(first, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'from-first')]));
    await fake.s3.put(added, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'from-added')]));
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const config = writeConfig(dir, [{ name: first, endpoint: fake.s3.endpoint }], '<interval>1s</interval>');
    const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${out}`]);
    await until(running, 'the first bucket read', () => idsIn(out).includes('from-first'));
    writeConfig(dir, [{ name: first, endpoint: fake.s3.endpoint }, { name: added, endpoint: fake.s3.endpoint }], '<interval>1s</interval>');
    running.child.kill('SIGHUP');
    await until(running, 'the added bucket read', () => idsIn(out).includes('from-added'));
    writeFileSync(config, '<ossec_config><wodle name="aws-s3"><interval>often</interval></wodle></ossec_config>');
    running.child.kill('SIGHUP');
    await fake.s3.put(added, nativeKey(ACCOUNT, REGION, today(), 'later.jsonl.gz'), jsonlGz([makeFinding(ACCOUNT, REGION, 'after-bad-reload')]));
    await until(running, 'collection going on with the old configuration', () => idsIn(out).includes('after-bad-reload'));
    running.child.kill('SIGTERM');
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    const failed = result.logs.filter((l) => String(l['msg']).startsWith('configuration reload failed'));
    assert.equal(failed.length, 1);
    assert.match(String(failed[0]!['msg']), /ossec\.conf:1: <interval> "often"/);
    assert.deepEqual(idsIn(out).sort(), ['after-bad-reload', 'from-added', 'from-first']);
  });
});

describe('rescan in the daemon', () => {
  test('--rescan-since applies to the daemon\'s next pass only', async () => {
    const bucket = 'gd-daemon-rescan';
    fake.s3.createBucket(bucket);
    const put = (day: string, id: string) => fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, day), jsonlGz([makeFinding(ACCOUNT, REGION, id)]));
    await put(daysAgo(1), 'recent');
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: `<only_logs_after>${daysAgo(20)}</only_logs_after>` }], '<interval>1s</interval>');
    const args = ['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${out}`];
    assert.equal((await runCliOnce(args)).code, 0);
    // Behind the window (which now starts two days ago): only a rescan lists it.
    await put(daysAgo(6), 'late');
    const running = startCli([...args, '--rescan-since', daysAgo(8)]);
    await until(running, 'three passes', () => passes(logsSoFar(running)).length >= 3);
    running.child.kill('SIGTERM');
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.logs.filter((l) => String(l['msg']).startsWith('rescan: listing every partition')).length, 1, 'the first pass only');
    assert.deepEqual(idsIn(out).sort(), ['late', 'recent']);
  });
});

describe('stopping', () => {
  test('SIGTERM drains the objects in flight and starts no more; a second signal abandons them unrecorded', async () => {
    const bucket = 'gd-drain';
    fake.s3.createBucket(bucket);
    for (let i = 0; i < 6; i++) await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), `${i}.jsonl.gz`), jsonlGz([makeFinding(ACCOUNT, REGION, `drain-${i}`)]));
    let gets = 0;
    const isGet = (r: { method: string; url: string }) => r.method === 'GET' && !r.url.includes('list-type=');
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      delayMs: (r) => {
        if (!isGet(r)) return 0;
        gets++;
        // Deliberately slow reads (1.5 s), so that the signals arrive while objects are in flight.
        return 1500;
      },
    });
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }], '<interval>1h</interval>');
    const out = join(dir, 'events.jsonl');
    const state = join(dir, 'state.db');
    const args = ['--config', config, '--state', state, '--output', `file:${out}`, '--concurrency', '2'];
    try {
      // Drain: the two objects in flight finish and are recorded; nothing else is started.
      const draining = startCli(args);
      await until(draining, 'two reads in flight', () => gets === 2);
      const signalled = Date.now();
      draining.child.kill('SIGTERM');
      const drained = await draining.done;
      assert.equal(drained.code, 0, drained.stderr);
      assert.ok(Date.now() - signalled < 5000, 'stopped within the reads in flight');
      assert.equal(gets, 2, 'no object started after the signal');
      assert.equal(idsIn(out).length, 2);

      // Abandon: a second signal ends the process at once; what was in flight is not recorded.
      gets = 0;
      const abandoning = startCli(args);
      await until(abandoning, 'two more reads in flight', () => gets === 2);
      abandoning.child.kill('SIGTERM');
      // The second signal must come after the first was taken (it is then a second one, not a first).
      await waitForLog(abandoning, (l) => String(l['msg']).startsWith('stopping: no new objects'), { what: 'the first signal to be taken ("stopping: …")', timeoutMs: 5000 });
      const second = Date.now();
      abandoning.child.kill('SIGINT');
      const abandoned = await abandoning.done;
      assert.equal(abandoned.code, 0, abandoned.stderr);
      assert.ok(Date.now() - second < 1000, 'a second signal does not wait for the reads');
      assert.ok(abandoned.logs.some((l) => String(l['msg']).startsWith('stopping now')));
      assert.equal(idsIn(out).length, 2, 'nothing of the abandoned objects was written or recorded');

      // A later run reads the rest, each object once.
      const rest = await runCliOnce(args);
      assert.equal(rest.code, 0, rest.stderr);
      assert.deepEqual(idsIn(out).sort(), ['drain-0', 'drain-1', 'drain-2', 'drain-3', 'drain-4', 'drain-5']);
    } finally {
      await proxy.stop();
    }
  });
});

describe('a stop while S3 does not answer a listing', () => {
  // Folder discovery (the delimiter listing under AWSLogs/), then a partition's listing, each held
  // unanswered by the proxy: SIGTERM ends the pass at once, with nothing recorded for the partition.
  const cases = [
    { name: 'account discovery', extra: '', stalls: (q: URLSearchParams) => q.get('delimiter') === '/' },
    { name: 'a partition\'s listing', extra: `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions>`, stalls: (q: URLSearchParams) => q.has('start-after') },
  ];
  for (const c of cases) {
    test(`SIGTERM ends ${c.name} that S3 leaves unanswered`, async () => {
      const bucket = `gd-stalled-${cases.indexOf(c)}`;
      fake.s3.createBucket(bucket);
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'never-listed')]));
      let stalled = 0;
      const proxy = await S3Proxy.start(fake.s3.endpoint, {
        intercept: (r) => {
          const query = new URL(r.url, 'http://x').searchParams;
          if (!query.has('list-type') || !c.stalls(query)) return undefined;
          stalled++;
          return { fault: 'stall' };
        },
      });
      const dir = tempDir();
      const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint, extra: c.extra }]);
      const out = join(dir, 'events.jsonl');
      try {
        const running = startCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`, '--s3-timeout', '120']);
        await until(running, 'the stalled listing', () => stalled > 0);
        const signalled = Date.now();
        running.child.kill('SIGTERM');
        const result = await within(running.done, 5000, 'the process to end after SIGTERM');
        assert.ok(Date.now() - signalled < 5000);
        assert.ok(result.logs.some((l) => String(l['msg']).startsWith('bucket pass') && l['interrupted'] === 'stopped by a signal'), result.stderr);
        assert.deepEqual(idsIn(out), []);
      } finally {
        await proxy.stop();
      }
    });
  }
});

function runCliOnce(args: string[]) {
  return startCli([...args, '--once']).done;
}
