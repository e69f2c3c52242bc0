// A discard_regex that backtracking engines take hours over, in real runs of the built CLI: --once ends
// promptly with the right findings kept, and a daemon matching such titles still answers /health and
// stops at once on SIGTERM (the matcher itself: discard.test.ts).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startCli, writeConfig, type Running } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { useFakeS3 } from '../../support/s3.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { waitForValue } from '../helpers/wait.js';

const ACCOUNT = '424242424242';
const REGION = 'eu-west-3';
/** 41 'a' and a '!': `(a+)+$` fails on it only after trying every way of splitting the a's, 2^41 for a backtracker. */
const EVIL_TITLE = `${'a'.repeat(41)}!`;

describe('a pattern that backtracking engines never finish, in a real run', () => {
  const fake = useFakeS3();

  function idsIn(file: string): string[] {
    return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
  }

  test('--once completes promptly: 41 a and "!" is kept (re.match of (a+)+$ fails on it), 41 a alone is discarded', { timeout: 60_000 }, async () => {
    const bucket = 'gd-redos-once';
    fake.s3.createBucket(bucket);
    await fake.s3.put(
      bucket,
      nativeKey(ACCOUNT, REGION, today()),
      jsonlGz([
        { ...makeFinding(ACCOUNT, REGION, 'evil-kept'), title: EVIL_TITLE },
        { ...makeFinding(ACCOUNT, REGION, 'all-a-discarded'), title: 'a'.repeat(41) },
        { ...makeFinding(ACCOUNT, REGION, 'ordinary-kept') },
      ]),
    );
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: '<discard_regex field="title">(a+)+$</discard_regex>' }]);
    const out = join(dir, 'events.jsonl');
    const started = performance.now();
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`]);
    const elapsed = performance.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsIn(out).sort(), ['evil-kept', 'ordinary-kept']);
    const kept = eventsFromLines(readFileSync(out, 'utf8')).find((e) => e['aws'].id === 'evil-kept')!;
    assert.equal(kept['aws'].title, EVIL_TITLE);
    const summary = result.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!;
    assert.equal(summary['discarded'], 1);
    assert.equal(summary['events'], 2);
    assert.ok(elapsed < 30_000, `the run took ${elapsed.toFixed(0)} ms`);
  });

  const until = <T>(running: Running, what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> =>
    waitForValue(running, probe, { what, timeoutMs: 15_000, intervalMs: 50 });

  test('the daemon matching such titles answers /health and exits 0 on SIGTERM at once', { timeout: 60_000 }, async () => {
    const bucket = 'gd-redos-daemon';
    fake.s3.createBucket(bucket);
    const objects = 40;
    for (let o = 0; o < objects; o++) {
      const findings = Array.from({ length: 50 }, (_, f) => ({ ...makeFinding(ACCOUNT, REGION, `evil-${o}-${f}`), title: EVIL_TITLE }));
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz(findings));
    }
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: '<discard_regex field="title">(a+)+$</discard_regex>' }], '<interval>1h</interval>');
    const out = join(dir, 'events.jsonl');
    const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${out}`, '--metrics-port', '0', '--concurrency', '2']);
    let stopped: number;
    try {
      const port = await until(running, 'the metrics server', () => {
        const line = running
          .stderrSoFar()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => String(l['msg']).startsWith('metrics on'));
        return line ? (line['port'] as number) : undefined;
      });
      // Findings with that title have gone through the matcher and out.
      await until(running, 'the first events', () => (idsIn(out).length > 0 ? true : undefined));
      const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) });
      assert.ok(health.status === 200 || health.status === 503, `health ${health.status}`);
      const body = (await health.json()) as Record<string, unknown>;
      assert.ok(body['pass'] === 'running' || body['pass'] === 'idle', JSON.stringify(body));
    } finally {
      stopped = performance.now();
      running.child.kill('SIGTERM');
    }
    const result = await running.done;
    const exitMs = performance.now() - stopped;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.signal, null);
    assert.ok(exitMs < 10_000, `exit took ${exitMs.toFixed(0)} ms after SIGTERM`);
    const ids = idsIn(out);
    assert.ok(ids.length > 0 && ids.every((id) => id.startsWith('evil-')), 'nothing was discarded: the title does not match');
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
  });
});
