// /metrics and /health of a running daemon: before, during and after a pass, and with an output down.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { startCli, tempDir, writeConfig, type Running } from './helpers/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from './helpers/findings.js';
import { S3Proxy } from './helpers/proxy.js';
import { useFakeS3 } from './helpers/s3.js';

const ACCOUNT = '666666666666';
const REGION = 'us-east-2';
const fake = useFakeS3();

function logs(running: Running): Array<Record<string, unknown>> {
  return running
    .stderrSoFar()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function eventually<T>(running: Running, what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(50);
  }
  running.child.kill('SIGKILL');
  return assert.fail(`${what} did not happen: ${(await running.done).stderr}`);
}

async function metricsPort(running: Running): Promise<number> {
  return eventually(running, 'the metrics server', () => {
    const line = logs(running).find((l) => String(l['msg']).startsWith('metrics on'));
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
});
