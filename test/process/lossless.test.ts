// Nothing lost when things go wrong (issue 13): S3 outages are not bad objects, a full or read-only
// state disk stops the pass cleanly, an emptied bucket keeps its layout, pending deletes are carried
// out, and many reads in flight print no Node warning (how they share the run's abandon signal:
// child-aborts.test.ts). Against real fauxqs, a proxy that refuses or resets connections, and a small
// tmpfs for the state.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { runCli, startCli, writeConfig, type CliResult } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy, s3Error, type SeenRequest } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { waitForProcess } from '../helpers/wait.js';

const ACCOUNT = '131313131313';
const REGION = 'eu-west-3';
const fake = useFakeS3();

const isGet = (r: SeenRequest) => r.method === 'GET' && !r.url.includes('list-type=');

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

async function upload(bucket: string, ids: string[], day = today()): Promise<string[]> {
  const keys: string[] = [];
  for (const id of ids) {
    const key = nativeKey(ACCOUNT, REGION, day, `${id}.jsonl.gz`);
    keys.push(key);
    await fake.s3.put(bucket, key, jsonlGz([makeFinding(ACCOUNT, REGION, id)]));
  }
  return keys;
}

/** stderr is JSON lines only: no Node warning, no stack trace. */
function assertJsonOnly(result: CliResult): void {
  for (const line of result.stderr.split('\n').filter(Boolean)) assert.ok(line.startsWith('{'), `not a JSON line on stderr: ${line}`);
  assert.ok(!/MaxListenersExceeded|\n\s+at /.test(result.stderr), result.stderr);
}

function rows(state: string): Array<{ key: string; status: string; attempts: number; failure: string | null }> {
  const db = new Database(state, { readonly: true });
  try {
    return db.prepare('SELECT key, status, attempts, failure FROM objects ORDER BY key').all() as Array<{ key: string; status: string; attempts: number; failure: string | null }>;
  } finally {
    db.close();
  }
}

/** Runs a system command asynchronously; resolves with its exit code. */
function command(file: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code));
  });
}

describe('S3 outages are not bad objects', () => {
  test('with --max-attempts 2, three outages (resets, then 503 SlowDown) spend no attempt; each such pass exits 1; afterwards every finding is delivered once', async () => {
    const bucket = 'loss-outages';
    fake.s3.createBucket(bucket);
    const ids = Array.from({ length: 6 }, (_, i) => `outage-${i}`);
    const keys = await upload(bucket, ids);
    let outage: 'reset' | 'slowdown' | null = 'reset';
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept: (r) => {
        if (!isGet(r) || outage === null) return undefined;
        return outage === 'reset' ? { fault: 'reset' } : s3Error(503, 'SlowDown', 'Please reduce your request rate.');
      },
    });
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const state = join(dir, 'state.db');
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }]);
    const args = ['--config', config, '--once', '--state', state, '--output', `file:${out}`, '--max-attempts', '2', '--concurrency', '2'];
    try {
      for (const kind of ['reset', 'slowdown', 'reset'] as const) {
        outage = kind;
        const result = await runCli(args);
        assert.equal(result.code, 1, `an outage pass (${kind}) exits 1: ${result.stderr}`);
        assertJsonOnly(result);
        const failed = rows(state).filter((r) => r.status === 'failed');
        assert.ok(failed.length > 0, 'the objects read during the outage are recorded as failed');
        for (const row of failed) assert.deepEqual([row.attempts, row.failure], [0, 'transient'], row.key);
        const line = result.logs.find((l) => String(l['msg']).includes("not the object's fault (transient)"));
        assert.ok(line, result.stderr);
      }
      const explained = await runCli(['explain', bucket, rows(state).find((r) => r.status === 'failed')!.key, '--config', config, '--state', state, '--max-attempts', '2']);
      assert.match(explained.stdout, /WILL BE READ/);
      assert.match(explained.stdout, /last failure +transient/);
      outage = null;
      const healed = await runCli(args);
      assert.equal(healed.code, 0, healed.stderr);
      assert.deepEqual(idsIn(out).sort(), [...ids].sort(), 'every finding once');
      assert.ok(rows(state).every((r) => r.status === 'done'), JSON.stringify(rows(state)));
      assert.equal(keys.length, ids.length);
    } finally {
      await proxy.stop();
    }
  });

  test('an object refused by KMS does not stop the others, spends no attempt, and fails the pass', async () => {
    const bucket = 'loss-denied';
    fake.s3.createBucket(bucket);
    const [denied] = await upload(bucket, ['a-denied']);
    await upload(bucket, ['b-fine', 'c-fine']);
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept: (r) => (isGet(r) && r.url.includes('a-denied') ? s3Error(403, 'AccessDenied', 'The ciphertext refers to a customer master key that does not exist (KMS)') : undefined),
    });
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const state = join(dir, 'state.db');
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }]);
    try {
      for (let pass = 0; pass < 3; pass++) {
        const result = await runCli(['--config', config, '--once', '--state', state, '--output', `file:${out}`, '--max-attempts', '1']);
        assert.equal(result.code, 1, result.stderr);
      }
      assert.deepEqual(idsIn(out).sort(), ['b-fine', 'c-fine']);
      assert.deepEqual(rows(state).find((r) => r.key === denied), { key: denied, status: 'failed', attempts: 0, failure: 'denied' });
    } finally {
      await proxy.stop();
    }
  });
});

describe('the state disk', () => {
  const mounts: string[] = [];
  after(async () => {
    for (const dir of mounts) await command('umount', [dir]);
  });

  /** A small tmpfs for the state; null where the machine forbids mounting. */
  async function smallDisk(size: string): Promise<string | null> {
    const dir = tempDir();
    if ((await command('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])) !== 0) return null;
    mounts.push(dir);
    return dir;
  }

  /**
   * Fills the file system at `dir` but for `spare` bytes: room to open the database (its shared-memory
   * file) and record a few objects, then SQLITE_FULL in the middle of the pass.
   */
  function fill(dir: string, spare: number): string {
    const filler = join(dir, 'filler');
    const chunk = Buffer.alloc(4096, 1);
    let written = 0;
    try {
      for (;;) {
        writeFileSync(filler, chunk, { flag: 'a' });
        written += chunk.length;
      }
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'ENOSPC');
    }
    truncateSync(filler, Math.max(0, written - spare));
    return filler;
  }

  test('a full state disk: one JSON error line naming the state and the cause, exit 1, nothing recorded undelivered; after space is freed nothing is lost', async (t) => {
    const disk = await smallDisk('2m');
    if (disk === null) return t.skip('this machine does not allow mounting a tmpfs (not root, or no mount namespace)');
    const bucket = 'loss-full-disk';
    fake.s3.createBucket(bucket);
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const state = join(disk, 'state', 'state.db');
    mkdirSync(join(disk, 'state'), { mode: 0o700 });
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const args = ['--config', config, '--once', '--state', state, '--output', `file:${out}`];
    const first = await upload(bucket, ['full-0', 'full-1']);
    assert.equal((await runCli(args)).code, 0);
    const filler = fill(disk, 64 * 1024);
    const later = Array.from({ length: 40 }, (_, i) => `full-later-${String(i).padStart(2, '0')}`);
    await upload(bucket, later);
    const full = await runCli(args);
    assert.equal(full.code, 1, full.stderr);
    assertJsonOnly(full);
    const errors = full.logs.filter((l) => (l['level'] as number) >= 50);
    assert.ok(errors.some((l) => String(l['msg']).includes(`state ${state}: cannot record`) && /disk is full/.test(String(l['msg']))), full.stderr);
    assert.ok(!full.logs.some((l) => String(l['msg']).startsWith('unexpected failure')), full.stderr);
    rmSync(filler);
    const freed = await runCli(args);
    assert.equal(freed.code, 0, freed.stderr);
    const delivered = idsIn(out);
    for (const id of ['full-0', 'full-1', ...later]) assert.ok(delivered.includes(id), `${id} delivered`);
    assert.equal(rows(state).filter((r) => r.status === 'done').length, first.length + later.length);
  });

  test('a state directory removed mid-pass: the same clean stop, and the next run delivers what was not recorded', async () => {
    const bucket = 'loss-vanished';
    fake.s3.createBucket(bucket);
    const ids = Array.from({ length: 4 }, (_, i) => `gone-${i}`);
    await upload(bucket, ids);
    let gets = 0;
    const proxy = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (isGet(r) && ++gets === 1 ? 1500 : 0) });
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const stateDir = join(tempDir(), 'state');
    const state = join(stateDir, 'state.db');
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }]);
    const args = ['--config', config, '--once', '--state', state, '--output', `file:${out}`, '--concurrency', '1'];
    try {
      const running = startCli(args);
      // The first GET is held; meanwhile someone removes the state directory.
      await waitForProcess(running, () => gets > 0, { what: 'the first GET', timeoutMs: 5_000, intervalMs: 20 });
      assert.equal(gets, 1, 'the first read is in flight');
      rmSync(stateDir, { recursive: true, force: true });
      const result = await running.done;
      assert.equal(result.code, 1, result.stderr);
      assertJsonOnly(result);
      assert.ok(result.logs.some((l) => String(l['msg']).includes(`state ${state} was removed`)), result.stderr);
      const again = await runCli(args);
      assert.equal(again.code, 0, again.stderr);
      for (const id of ids) assert.ok(idsIn(out).includes(id), `${id} delivered`);
    } finally {
      await proxy.stop();
    }
  });
});

describe('remove_from_bucket', () => {
  test('an emptied bucket keeps its native layout: no phantom Firehose partition', async () => {
    const bucket = 'loss-emptied';
    fake.s3.createBucket(bucket);
    await upload(bucket, ['e-0', 'e-1']);
    const dir = tempDir();
    const state = join(dir, 'state.db');
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: '<remove_from_bucket>yes</remove_from_bucket>' }]);
    const args = ['--config', config, '--once', '--state', state, '--output', `file:${join(dir, 'out')}`];
    assert.equal((await runCli(args)).code, 0);
    assert.deepEqual(await fake.s3.keys(bucket), [], 'read and deleted');
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    const line = second.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!;
    assert.equal(line['layout'], 'native');
    const status = JSON.parse((await runCli(['status', '--state', state, '--json'])).stdout);
    assert.deepEqual(status.buckets[0].partitions.map((p: { layout: string }) => p.layout), ['native']);
  });

  test('deletes left pending by a kill are carried out on the next pass even though their keys are no longer listed', async () => {
    const bucket = 'loss-pending';
    fake.s3.createBucket(bucket);
    const keys = await upload(bucket, ['p-0', 'p-1', 'p-2']);
    let refuse = true;
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept: (r) => (r.method === 'DELETE' && refuse ? s3Error(403, 'AccessDenied', 'no delete for now') : undefined),
    });
    const dir = tempDir();
    const state = join(dir, 'state.db');
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint, extra: '<remove_from_bucket>yes</remove_from_bucket>' }]);
    const args = ['--config', config, '--once', '--state', state, '--output', `file:${join(dir, 'out')}`];
    try {
      assert.equal((await runCli(args)).code, 0);
      const pending = () => {
        const db = new Database(state, { readonly: true });
        try {
          return (db.prepare('SELECT count(*) AS n FROM objects WHERE delete_pending = 1').get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      assert.equal(pending(), 3);
      // As if the deletes had succeeded just before a kill -9: the keys are gone, the rows still pending.
      for (const key of keys.slice(0, 2)) await fake.s3.delete(bucket, key);
      refuse = false;
      proxy.reset();
      const next = await runCli(args);
      assert.equal(next.code, 0, next.stderr);
      assert.equal(pending(), 0, 'every pending delete done, listed or not');
      assert.equal(proxy.requests.filter((r) => r.method === 'DELETE').length, 3);
      assert.deepEqual(await fake.s3.keys(bucket), []);
      assert.ok(next.logs.some((l) => String(l['msg']).startsWith('carrying out 3 pending delete(s)')));
    } finally {
      await proxy.stop();
    }
  });
});

describe('many reads in flight', () => {
  test('40 objects read 32 at a time: stderr holds JSON lines only, no MaxListenersExceededWarning', async () => {
    const bucket = 'loss-listeners';
    fake.s3.createBucket(bucket);
    await upload(bucket, Array.from({ length: 40 }, (_, i) => `l-${i}`));
    const proxy = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (isGet(r) ? 300 : 0) });
    const dir = tempDir();
    const out = join(dir, 'events.jsonl');
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }]);
    try {
      const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`, '--concurrency', '32']);
      assert.equal(result.code, 0, result.stderr);
      assertJsonOnly(result);
      assert.equal(idsIn(out).length, 40);
    } finally {
      await proxy.stop();
    }
  });
});
