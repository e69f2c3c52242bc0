// /metrics and /health of a running daemon: before, during and after a pass, and with an output down
// (--max-empty-passes as a flag: cli-options.test.ts).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startCli, writeConfig, type Running } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { logsSoFar, waitForValue } from '../helpers/wait.js';

const ACCOUNT = '666666666666';
const REGION = 'us-east-2';
const fake = useFakeS3();

const eventually = <T>(running: Running, what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> =>
  waitForValue(running, probe, { what, timeoutMs: 7_500, intervalMs: 50 });

async function metricsPort(running: Running): Promise<number> {
  return eventually(running, 'the metrics server', () => {
    const line = logsSoFar(running).find((l) => String(l['msg']).startsWith('metrics on'));
    return line ? (line['port'] as number) : undefined;
  });
}

async function health(port: number): Promise<{ code: number; body: Record<string, any> }> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  return { code: response.status, body: (await response.json()) as Record<string, any> };
}

async function metric(port: number, name: string, labels = ''): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (labels === '' && l.startsWith(`${name}{`)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('metrics and health', () => {
  test('before, during and after a pass', async () => {
    const bucket = 'gd-metrics';
    fake.s3.createBucket(bucket);
    for (const id of ['m1', 'm2', 'm3']) await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, id)]));
    const proxy = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (r.method === 'GET' && !r.url.includes('list-type=') ? 1200 : 0) });
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }], '<interval>3s</interval><run_on_start>no</run_on_start>');
    const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`, '--metrics-port', '0']);
    try {
      const port = await metricsPort(running);
      const before = await health(port);
      assert.equal(before.code, 200);
      assert.deepEqual(before.body, { status: 'ok', reasons: [], pass: 'not started', lastPass: null });
      assert.equal(await metric(port, 'guardduty_wodle_pass_running'), 0);

      // The objects take 1.2 s each to arrive: listed, not yet done.
      const during = await eventually(running, 'a pass in progress with its objects listed', async () => {
        const answer = await health(port);
        const listed = await metric(port, 'guardduty_wodle_objects_listed_total', `bucket="${bucket}"`);
        return answer.body['pass'] === 'running' && listed === 3 ? answer : undefined;
      });
      assert.equal(during.code, 200);
      assert.equal(await metric(port, 'guardduty_wodle_pass_running'), 1);
      assert.equal(await metric(port, 'guardduty_wodle_objects_total', `bucket="${bucket}",outcome="done"`), undefined);

      const after = await eventually(running, 'the pass to end', async () => {
        const answer = await health(port);
        return answer.body['pass'] === 'idle' ? answer : undefined;
      });
      assert.equal(after.code, 200);
      assert.equal(after.body['status'], 'ok');
      assert.equal(after.body['lastPass'].ok, true);
      assert.equal(await metric(port, 'guardduty_wodle_objects_total', `bucket="${bucket}",outcome="done"`), 3);
      assert.equal(await metric(port, 'guardduty_wodle_events_total', `bucket="${bucket}"`), 3);
      assert.equal(await metric(port, 'guardduty_wodle_s3_requests_total', `bucket="${bucket}",operation="get"`), 3);
      assert.equal(await metric(port, 'guardduty_wodle_last_pass_success', `bucket="${bucket}"`), 1);
      const lag = await metric(port, 'guardduty_wodle_partition_lag_seconds', `bucket="${bucket}",account="${ACCOUNT}",region="${REGION}"`);
      assert.ok(lag !== undefined && lag >= 0 && lag < 120, `lag ${lag}`);
      assert.equal((await fetch(`http://127.0.0.1:${port}/nowhere`)).status, 404);
    } finally {
      running.child.kill('SIGTERM');
      await proxy.stop();
    }
    assert.equal((await running.done).code, 0);
  });

  test('degraded with reasons when the output is down or a partition lags', async () => {
    const bucket = 'gd-metrics-down';
    fake.s3.createBucket(bucket);
    // An object last modified long ago stands for a partition that stopped receiving findings.
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'd1')]));
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }], '<interval>1h</interval>');
    const state = join(dir, 'state.db');
    const down = startCli(['--config', config, '--state', state, '--output', `unix:${join(dir, 'nobody-listens.sock')}`, '--metrics-port', '0']);
    try {
      const port = await metricsPort(down);
      const answer = await eventually(down, 'a failed pass', async () => {
        const h = await health(port);
        return h.body['pass'] === 'idle' ? h : undefined;
      });
      assert.equal(answer.code, 503);
      assert.equal(answer.body['status'], 'degraded');
      assert.ok(answer.body['reasons'].some((r: string) => r.startsWith('output down: ') && r.includes('nobody-listens.sock')), JSON.stringify(answer.body));
      assert.equal(await metric(port, 'guardduty_wodle_output_errors_total'), 1);
    } finally {
      down.child.kill('SIGTERM');
    }
    await down.done;

    const lagging = startCli(['--config', config, '--state', state, '--output', `file:${join(dir, 'out')}`, '--metrics-port', '0', '--max-lag', '1s']);
    try {
      const port = await metricsPort(lagging);
      const answer = await eventually(lagging, 'a lagging partition', async () => {
        const h = await health(port);
        return h.body['pass'] === 'idle' && h.code === 503 ? h : undefined;
      });
      assert.ok(answer.body['reasons'].some((r: string) => r.startsWith('lag over 1 s: gd-metrics-down 666666666666 us-east-2')), JSON.stringify(answer.body));
    } finally {
      lagging.child.kill('SIGTERM');
    }
    assert.equal((await lagging.done).code, 0);
  });

  test('discarded findings, bad lines, output errors and when the last pass ended', async () => {
    const bucket = 'gd-metrics-counts';
    fake.s3.createBucket(bucket);
    const good = (id: string) => JSON.stringify(makeFinding(ACCOUNT, REGION, id));
    // One object with a finding discard_regex drops and a torn line between two good findings.
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), gzipSync([good('c1'), '{"torn": ', good('drop-c2'), good('c3')].join('\n') + '\n'));
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'drop-c4')]));
    // Reads held 1.5 s by the S3 in between, so that the metrics are looked at before the pass ends.
    const slow = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (r.method === 'GET' && !r.url.includes('list-type=') ? 1500 : 0) });
    const dir = tempDir();
    const config = writeConfig(
      dir,
      [{ name: bucket, endpoint: slow.endpoint, extra: '      <discard_regex field="id">drop-</discard_regex>' }],
      '<interval>1h</interval><skip_on_error>yes</skip_on_error>',
    );
    const started = Date.now() / 1000;
    const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`, '--metrics-port', '0']);
    try {
      const port = await metricsPort(running);
      assert.equal(await metric(port, 'guardduty_wodle_output_errors_total'), 0, 'there from the start, at 0');
      assert.equal(await metric(port, 'guardduty_wodle_last_pass_timestamp_seconds'), 0, 'no pass yet');
      await eventually(running, 'the pass to end', async () => ((await health(port)).body['pass'] === 'idle' ? true : undefined));
      const pass = logsSoFar(running).find((l) => String(l['msg']).startsWith('bucket pass'))!;
      assert.deepEqual([pass['discarded'], pass['malformed'], pass['events']], [2, 1, 2], JSON.stringify(pass));
      assert.equal(await metric(port, 'guardduty_wodle_findings_discarded_total', `bucket="${bucket}"`), 2);
      assert.equal(await metric(port, 'guardduty_wodle_lines_malformed_total', `bucket="${bucket}"`), 1);
      assert.equal(await metric(port, 'guardduty_wodle_events_total', `bucket="${bucket}"`), 2);
      assert.equal(await metric(port, 'guardduty_wodle_output_errors_total'), 0);
      const at = await metric(port, 'guardduty_wodle_last_pass_timestamp_seconds');
      assert.ok(at !== undefined && at >= started && at <= Date.now() / 1000, `last pass at ${at}, started ${started}`);
      assert.equal(Date.parse((await health(port)).body['lastPass'].at) / 1000, at);
    } finally {
      running.child.kill('SIGTERM');
    }
    assert.equal((await running.done).code, 0);
    await slow.stop();
  });

  test('--max-empty-passes: degraded after that many passes that found nothing in any bucket; off by default', async () => {
    const bucket = 'gd-metrics-empty';
    fake.s3.createBucket(bucket);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }], '<interval>1s</interval><run_on_start>yes</run_on_start>');
    const passes = (running: Running) => logsSoFar(running).filter((l) => String(l['msg']).startsWith('bucket pass')).length;
    const watched = startCli(['--config', config, '--state', join(dir, 'watched.db'), '--output', `file:${join(dir, 'out')}`, '--metrics-port', '0', '--max-empty-passes', '2']);
    try {
      const port = await metricsPort(watched);
      const first = await eventually(watched, 'a first pass', async () => {
        const h = await health(port);
        return h.body['lastPass'] !== null ? h : undefined;
      });
      if (passes(watched) === 1) assert.equal(first.code, 200, `one empty pass is not enough: ${JSON.stringify(first.body)}`);
      const degraded = await eventually(watched, 'health degraded by empty passes', async () => {
        const h = await health(port);
        return h.code === 503 ? h : undefined;
      });
      assert.ok(passes(watched) >= 2);
      assert.equal(degraded.body['status'], 'degraded');
      assert.equal(degraded.body['reasons'].length, 1, JSON.stringify(degraded.body));
      const [, n] = /^no objects found in the last (\d+) passes over s3:\/\/gd-metrics-empty \(check <path>, the bucket name, aws_account_id and regions\)$/.exec(degraded.body['reasons'][0]) ?? [];
      assert.ok(Number(n) >= 2 && Number(n) <= passes(watched), JSON.stringify(degraded.body));
    } finally {
      watched.child.kill('SIGTERM');
    }
    assert.equal((await watched.done).code, 0);

    const unwatched = startCli(['--config', config, '--state', join(dir, 'unwatched.db'), '--output', `file:${join(dir, 'out')}`, '--metrics-port', '0']);
    try {
      const port = await metricsPort(unwatched);
      await eventually(unwatched, 'three empty passes', () => (passes(unwatched) >= 3 ? true : undefined));
      const answer = await health(port);
      assert.equal(answer.code, 200, JSON.stringify(answer.body));
      assert.deepEqual(answer.body['reasons'], []);
    } finally {
      unwatched.child.kill('SIGTERM');
    }
    assert.equal((await unwatched.done).code, 0);
  });
});
