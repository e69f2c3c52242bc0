// `explain` through the built CLI: asked on a state the collector made, with its flags (--max-attempts,
// --rescan-since, --json), and the errors that exit 2. Every reason explain gives, and the facts it
// names: explain.test.ts (in this process).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { StateStore } from '../../src/state/store.js';
import { runCli } from '../../support/cli.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { useFakeS3 } from '../../support/s3.js';
import { collected as collectedOn, oneErrorLine } from '../helpers/collector-runs.js';
import { tempDir } from '../helpers/files.js';
import { corruptGzip } from '../helpers/state-records.js';

const fake = useFakeS3();
const collected = (bucket: string, extra: string) => collectedOn(fake, bucket, extra);
const ACCOUNT = '565656565656';
const EAST = 'us-east-1';

describe('explain', () => {
  test('on a state the real collector made: done with its events, failed with its attempts', async () => {
    const bucket = 'cmd-explain-real';
    const c = collected(bucket, '');
    const good = nativeKey(ACCOUNT, EAST, today(), '1-good.jsonl.gz');
    const bad = nativeKey(ACCOUNT, EAST, today(), '0-bad.jsonl.gz');
    await fake.s3.put(bucket, good, jsonlGz([makeFinding(ACCOUNT, EAST, 'a'), makeFinding(ACCOUNT, EAST, 'b'), makeFinding(ACCOUNT, EAST, 'c')]));
    await fake.s3.put(bucket, bad, corruptGzip(ACCOUNT, EAST));
    assert.equal(await c.pass(), 0);
    const ask = (key: string, ...more: string[]) => runCli(['explain', bucket, key, '--config', c.config, '--state', c.state, ...more]);
    assert.match((await ask(good)).stdout, /PROCESSED: done at .* with 3 events/);
    assert.match((await ask(bad)).stdout, /WILL BE READ: will be read again on the next pass \(attempt 2 of 10\): failed 1 time, last error: .*not valid gzip/);
    assert.match((await ask(bad, '--max-attempts', '1')).stdout, /NOT READ: failed 1 time, the most --max-attempts \(1\) allows/);
    assert.match((await ask(nativeKey(ACCOUNT, EAST, daysAgo(2)))).stdout, /NOT READ: its folder .* is before where the partition's listing starts/);
    // --rescan-since reaches explain: a rescan gives the object left failed one more read.
    assert.match((await ask(bad, '--max-attempts', '1', '--rescan-since', daysAgo(1))).stdout, /WILL BE READ: .*the rescan gives it one more read after 1 attempt/);
    // --json prints the answer as one document, exit 0, nothing on stderr.
    const json = await ask(good, '--json');
    assert.deepEqual([json.code, json.stderr], [0, '']);
    const answer = JSON.parse(json.stdout) as { decision: string; outcome: string; facts: { state: { events: number } } };
    assert.deepEqual([answer.decision, answer.outcome, answer.facts.state.events], ['done', 'processed', 3]);
  });

  test('a bucket not in the configuration, a missing state, bad arguments: one line, exit 2', async () => {
    const bucket = 'cmd-explain-errors';
    const f = collected(bucket, '');
    StateStore.open(f.state).close();
    const fresh = nativeKey(ACCOUNT, EAST, today(), 'fresh.jsonl.gz');
    const notConfigured = await runCli(['explain', 'nobody', 'k', '--config', f.config, '--state', f.state]);
    assert.equal(notConfigured.code, 2);
    assert.match(oneErrorLine(notConfigured.stderr), new RegExp(`bucket nobody is not in .*ossec\\.conf \\(configured: ${bucket}\\)`));
    const missing = join(tempDir(), 'state.db');
    const noState = await runCli(['explain', bucket, fresh, '--config', f.config, '--state', missing]);
    assert.equal(noState.code, 2);
    assert.ok(oneErrorLine(noState.stderr).includes(missing));
    assert.equal(existsSync(missing), false);
    const noKey = await runCli(['explain', bucket, '--config', f.config, '--state', f.state]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /^guardduty-wodle: explain takes 2 arguments, got 1\nusage: guardduty-wodle explain/);
  });
});
