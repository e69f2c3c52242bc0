// The state store (src/state/): what it records and keeps, its migrations, its lock within one process,
// how a new state comes to be, and the native keys it files objects under. A state held by another
// process: process/faults.test.ts; what else may stand at the state path: process/state-path.test.ts.
import assert from 'node:assert/strict';
import { lstatSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { StateError } from '../src/errors.js';
import Database from 'better-sqlite3';
import { SCHEMA_VERSION } from '../src/state/migrations.js';
import { StateStore, type ObjectRecord } from '../src/state/store.js';
import { parseNativeKey } from '../src/walk/native.js';
import { tempDir } from './helpers/files.js';

const PARTITION = { bucket: 'b', prefix: 'AWSLogs/111111111111/GuardDuty/us-east-1/', account: '111111111111', region: 'us-east-1' };

function record(key: string): ObjectRecord {
  return { bucket: 'b', path: '', account: '111111111111', region: 'us-east-1', key: PARTITION.prefix + key, etag: '"e"', size: 10, events: 1, malformed: 0 };
}

describe('state store', () => {
  test('created with mode 0600, records done and failed objects, keeps window starts', () => {
    const file = join(tempDir(), 'sub', 'state.db');
    const store = StateStore.open(file);
    try {
      assert.equal(statSync(file).mode & 0o777, 0o600);
      store.markDone(record('2026/11/28/a.jsonl.gz'), false);
      store.markFailed(record('2026/11/28/b.jsonl.gz'), 'incorrect header check', { kind: 'content', countsAttempt: true });
      assert.deepEqual(store.lookup('b', PARTITION.prefix + '2026/11/28/a.jsonl.gz'), { status: 'done', deletePending: false, etag: '"e"', attempts: 0, delivered: 0 });
      assert.deepEqual(store.lookup('b', PARTITION.prefix + '2026/11/28/b.jsonl.gz'), { status: 'failed', deletePending: false, etag: '"e"', attempts: 1, delivered: 1 });
      store.markFailed(record('2026/11/28/b.jsonl.gz'), 'again', { kind: 'content', countsAttempt: true });
      assert.equal(store.lookup('b', PARTITION.prefix + '2026/11/28/b.jsonl.gz')!.attempts, 2);
      store.markDone(record('2026/11/28/b.jsonl.gz'), true);
      assert.deepEqual(store.lookup('b', PARTITION.prefix + '2026/11/28/b.jsonl.gz'), { status: 'done', deletePending: true, etag: '"e"', attempts: 2, delivered: 0 });
      assert.equal(store.lookup('b', PARTITION.prefix + '2026/11/28/c.jsonl.gz'), undefined);
      assert.equal(store.windowStart(PARTITION), null);
      store.setWindowStart(PARTITION, '2026-11-28');
      assert.equal(store.windowStart(PARTITION), '2026-11-28');
    } finally {
      store.close();
    }
    const again = StateStore.open(file);
    assert.equal(again.windowStart(PARTITION), '2026-11-28');
    again.close();
  });

  test('pruning forgets only days before the given folder, of that partition only', () => {
    const store = StateStore.open(join(tempDir(), 'state.db'));
    try {
      for (const day of ['2026/11/01', '2026/11/02', '2026/11/03']) for (const n of [1, 2, 3]) store.markDone(record(`${day}/${n}.jsonl.gz`), false);
      store.markDone({ ...record('x'), key: 'AWSLogs/111111111111/GuardDuty/eu-west-1/2026/11/01/z.jsonl.gz' }, false);
      assert.equal(store.prune(PARTITION, '2026/11/03/'), 6);
      assert.equal(store.countObjects(), 4);
      assert.ok(store.lookup('b', PARTITION.prefix + '2026/11/03/1.jsonl.gz'));
    } finally {
      store.close();
    }
  });

  test('a second collector on the same state file fails at once with a clear error', () => {
    const file = join(tempDir(), 'state.db');
    const first = StateStore.open(file);
    try {
      assert.throws(() => StateStore.open(file), (err: unknown) => err instanceof StateError && /in use by another guardduty-wodle process/.test(err.message));
    } finally {
      first.close();
    }
    StateStore.open(file).close();
  });
});

describe('state migrations', () => {
  test('a database of schema version 1 is upgraded in place, keeping its rows', () => {
    const file = join(tempDir(), 'state.db');
    const v1 = new Database(file);
    v1.exec(`CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, path TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
      etag TEXT NOT NULL, size INTEGER NOT NULL, events INTEGER NOT NULL, malformed INTEGER NOT NULL DEFAULT 0,
      status TEXT NOT NULL CHECK (status IN ('done', 'failed')), error TEXT, delete_pending INTEGER NOT NULL DEFAULT 0,
      processed_at INTEGER NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
      CREATE TABLE partitions (bucket TEXT NOT NULL, prefix TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,
      cursor_day TEXT NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (bucket, prefix)) WITHOUT ROWID;
      INSERT INTO objects VALUES ('b', 'k', '', '1', 'r', '"e"', 1, 1, 0, 'done', NULL, 0, 0);
      PRAGMA user_version = 1;`);
    v1.close();
    const store = StateStore.open(file);
    try {
      assert.deepEqual(store.lookup('b', 'k'), { status: 'done', deletePending: false, etag: '"e"', attempts: 0, delivered: 0 });
    } finally {
      store.close();
    }
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    check.close();
  });

  test('a database from a newer guardduty-wodle is refused, not damaged', () => {
    const file = join(tempDir(), 'state.db');
    const future = new Database(file);
    future.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    future.close();
    assert.throws(() => StateStore.open(file), /newer than this guardduty-wodle knows/);
  });
});

describe('native layout', () => {
  const bucket = { path: 'gd/', pathSuffix: '' };
  test('keys inside the layout give account, region and day', () => {
    assert.deepEqual(parseNativeKey(bucket, 'gd/AWSLogs/123456789012/GuardDuty/us-gov-west-1/2026/02/28/u.jsonl.gz'), {
      account: '123456789012',
      region: 'us-gov-west-1',
      day: '2026-02-28',
    });
  });
  test('keys outside it do not', () => {
    for (const key of [
      'AWSLogs/123456789012/GuardDuty/us-east-1/2026/02/28/u.jsonl.gz',
      'gd/AWSLogs/123456789012/GuardDuty/us-east-1/2026/02/30/u.jsonl.gz',
      'gd/AWSLogs/123456789012/GuardDuty/us-east-1/2026/02/28/',
      'gd/AWSLogs/123456789012/GuardDuty/us-east-1/2026/02/28/sub/u.jsonl.gz',
      'gd/AWSLogs/12345/GuardDuty/us-east-1/2026/02/28/u.jsonl.gz',
      'gd/AWSLogs/123456789012/CloudTrail/us-east-1/2026/02/28/u.json.gz',
    ]) {
      assert.equal(parseNativeKey(bucket, key), null, key);
    }
  });
});

describe('a new state', () => {
  test('the state file is 0600 and the directory created for it 0700', () => {
    const dir = join(tempDir(), 'var', 'guardduty-wodle');
    const store = StateStore.open(join(dir, 'state.db'));
    store.close();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'state.db')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'state.db.lock')).mode & 0o777, 0o600);
  });

  test('is never an empty file at its path: built beside it and renamed in, 0600, with no leftover', () => {
    const dir = tempDir();
    const state = join(dir, 'sub', 'state.db');
    StateStore.open(state).close();
    assert.ok(statSync(state).size > 0, 'the file at the path holds the schema from the start');
    assert.equal(statSync(state).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'sub')).sort(), ['state.db', 'state.db.lock']);
    // Opened again: the same state, not refused, not rebuilt.
    const inode = statSync(state).ino;
    StateStore.open(state).close();
    assert.equal(statSync(state).ino, inode);
  });

  test('a creation killed half-way (its <state>.new left behind) is built again', () => {
    const dir = tempDir();
    const state = join(dir, 'state.db');
    writeFileSync(`${state}.new`, '');
    writeFileSync(`${state}.new-wal`, 'half a WAL');
    const store = StateStore.open(state);
    assert.equal(store.countObjects(), 0);
    store.close();
    assert.deepEqual(readdirSync(dir).sort(), ['state.db', 'state.db.lock']);
  });

  test('at a symlink whose target does not exist yet: created at the target, the symlink kept', () => {
    const dir = tempDir();
    const target = join(dir, 'real.db');
    const state = join(dir, 'state.db');
    symlinkSync('real.db', state);
    StateStore.open(state).close();
    assert.ok(lstatSync(state).isSymbolicLink());
    assert.ok(statSync(target).size > 0);
  });
});
