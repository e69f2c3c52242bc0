// Issue 26: a kill -9 in the middle of a pass never leaves a finding held back that was never sent.
// The versions of findings are recorded with their object, in one transaction: after the kill, every
// version recorded belongs to an object recorded done, and the next run sends what was not.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { useFakeS3 } from '../../support/s3.js';
import { runCli, startCli, writeConfig } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { waitForProcess } from '../helpers/wait.js';

const fake = useFakeS3();
const ACCOUNT = '454545454545';
const REGION = 'eu-south-1';

test('kill -9 mid-pass with finding_updates changed: versions only with recorded objects; afterwards every finding sent at least once', async () => {
  const bucket = 'gd-updates-kill';
  fake.s3.createBucket(bucket);
  const day = today();
  const start = Date.parse(`${day}T00:00:00Z`);
  for (let i = 0; i < 15; i++) {
    const recurring = { ...makeFinding(ACCOUNT, REGION, 'kx'), updatedAt: new Date(start + i * 60_000).toISOString() } as Record<string, unknown>;
    recurring['service'] = { ...(recurring['service'] as object), count: i + 1 };
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, day, `${String(i).padStart(2, '0')}.jsonl.gz`), jsonlGz([recurring, makeFinding(ACCOUNT, REGION, `u-${i}`)]));
  }
  let gets = 0;
  const proxy = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (r.method === 'GET' && !r.url.includes('list-type=') ? (gets++, 150) : 0) });
  const dir = tempDir();
  const out = join(dir, 'events.jsonl');
  const state = join(dir, 'state.db');
  const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint, extra: '<finding_updates>changed</finding_updates>' }]);
  const args = ['--config', config, '--once', '--state', state, '--output', `file:${out}`, '--concurrency', '1'];
  try {
    const running = startCli(args);
    await waitForProcess(running, () => gets >= 6, { what: 'six objects read', timeoutMs: 15_000 });
    running.child.kill('SIGKILL');
    await running.done;
    const db = new Database(state, { readonly: true });
    try {
      const orphans = db
        .prepare("SELECT DISTINCT v.key FROM finding_versions v LEFT JOIN objects o ON o.bucket = v.bucket AND o.key = v.key WHERE o.status IS NOT 'done'")
        .all();
      assert.deepEqual(orphans, [], 'no version recorded without its object');
    } finally {
      db.close();
    }
    const rest = await runCli(args);
    assert.equal(rest.code, 0, rest.stderr);
    const ids = existsSync(out) ? eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id as string) : [];
    for (let i = 0; i < 15; i++) assert.ok(ids.includes(`u-${i}`), `u-${i} sent`);
    const recurring = ids.filter((id) => id === 'kx').length;
    assert.ok(recurring >= 1 && recurring <= 2, `kx sent ${recurring} time(s): once, or again if the kill came between its delivery and its record`);
  } finally {
    await proxy.stop();
  }
});
