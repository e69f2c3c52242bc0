// `status` through the built CLI: the report printed (text and --json) while another process, a
// collector, holds the state's lock and writes through the WAL; a missing state refused in one line with
// exit 2. What each report says: status.test.ts (in this process).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { StateStore } from '../../src/state/store.js';
import { runCli } from '../../support/cli.js';
import { today } from '../../support/findings.js';
import { tempDir } from '../helpers/files.js';
import { partition, record } from '../helpers/state-records.js';
import { oneErrorLine } from '../helpers/collector-runs.js';

const ACCOUNT = '565656565656';
const EAST = 'us-east-1';


describe('status', () => {
  test('works while a collector holds the lock and writes through the WAL', async () => {
    const file = join(tempDir(), 'state.db');
    const held = StateStore.open(file);
    try {
      const p = partition('busy', EAST, ACCOUNT);
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
});
