// `reset` through the built CLI on states the real collector made: what it forgets (with --since, from
// that day on), that the next passes read exactly those objects again, and only once; its refusals
// while a collector holds the state, without --yes off a terminal, and its question on a terminal. The
// plan alone: reset.test.ts (in this process).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { StateStore } from '../../src/state/store.js';
import { FAKE_AWS_ENV, runCli, startCli, writeConfig } from '../../support/cli.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { CLI } from '../../support/paths.js';
import { useFakeS3 } from '../../support/s3.js';
import { collected as collectedOn, oneErrorLine } from '../helpers/collector-runs.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { record } from '../helpers/state-records.js';
import { stateRows } from '../helpers/state.js';
import { waitForProcess } from '../helpers/wait.js';

const fake = useFakeS3();
const collected = (bucket: string, extra: string) => collectedOn(fake, bucket, extra);
const ACCOUNT = '565656565656';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

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
});
