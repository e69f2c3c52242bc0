import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DatagramSink } from '../helpers/wazuh-queue.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { runCli, writeConfig } from '../../support/cli.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { stateRows } from '../helpers/state.js';

const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '222222222222';

const fake = useFakeS3();

/** Uploads objects of `perObject` findings; returns every finding id uploaded. */
async function upload(bucket: string, layout: Array<[account: string, region: string, day: string, objects: number]>, perObject = 3): Promise<string[]> {
  const ids: string[] = [];
  for (const [account, region, day, objects] of layout) {
    for (let o = 0; o < objects; o++) {
      const findings = Array.from({ length: perObject }, (_, f) => makeFinding(account, region, `${account}-${region}-${day}-${o}-${f}`));
      ids.push(...findings.map((f) => f.id));
      await fake.s3.put(bucket, nativeKey(account, region, day), jsonlGz(findings));
    }
  }
  return ids;
}


describe('one pass over native exports', () => {
  test('two accounts with different regions over several days: every event once to a file and the Wazuh socket; the second pass emits nothing', async () => {
    const dir = tempDir();
    const bucket = 'gd-two-accounts';
    fake.s3.createBucket(bucket);
    const expected = await upload(bucket, [
      [ACCOUNT_A, 'us-east-1', daysAgo(2), 2],
      [ACCOUNT_A, 'us-east-1', daysAgo(1), 1],
      [ACCOUNT_A, 'eu-west-1', daysAgo(1), 2],
      [ACCOUNT_A, 'eu-west-1', today(), 1],
      [ACCOUNT_B, 'ap-southeast-2', daysAgo(2), 1],
      [ACCOUNT_B, 'ap-southeast-2', today(), 2],
    ]);
    // Outside the window: must not be read.
    await upload(bucket, [[ACCOUNT_A, 'us-east-1', daysAgo(10), 1]]);
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: `<only_logs_after>${daysAgo(3)}</only_logs_after>` }]);
    const socketPath = join(dir, 'queue');
    const sink = new DatagramSink(socketPath);
    const eventsFile = join(dir, 'events.jsonl');
    const state = join(dir, 'state.db');
    const args = ['--config', config, '--once', '--state', state, '--output', `file:${eventsFile}`, '--output', `wazuh:${socketPath}`];
    try {
      const first = await runCli(args);
      assert.equal(first.code, 0, first.stderr);
      const fileEvents = eventsFromLines(readFileSync(eventsFile, 'utf8'));
      assert.deepEqual(fileEvents.map((e) => e['aws'].id).sort(), [...expected].sort());
      for (const message of sink.messages) assert.ok(message.startsWith('1:Wazuh-AWS:{'), message.slice(0, 40));
      const socketEvents = sink.messages.map((m) => JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as Record<string, any>);
      assert.deepEqual(socketEvents.map((e) => e['aws'].id).sort(), [...expected].sort());
      const event = fileEvents.find((e) => e['aws'].accountId === ACCOUNT_B)!;
      assert.equal(event['integration'], 'aws');
      assert.equal(event['aws'].source, 'guardduty');
      assert.equal(event['aws'].log_info.s3bucket, bucket);
      assert.match(event['aws'].log_info.log_file, new RegExp(`^AWSLogs/${ACCOUNT_B}/GuardDuty/ap-southeast-2/`));

      const summary = first.logs.find((l) => l['msg'] && String(l['msg']).startsWith('bucket pass'))!;
      assert.equal(summary['partitions'], 3);
      assert.equal(summary['done'], 9);
      assert.equal(summary['events'], expected.length);

      const second = await runCli(args);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(eventsFromLines(readFileSync(eventsFile, 'utf8')).length, expected.length);
      assert.equal(sink.messages.length, expected.length);
      assert.ok(stateRows(state).every((row) => row.status === 'done'));
    } finally {
      sink.close();
    }
  });

  test('an idle pass costs one request per partition, and fetches nothing', async () => {
    const dir = tempDir();
    const bucket = 'gd-idle';
    fake.s3.createBucket(bucket);
    await upload(bucket, [
      [ACCOUNT_A, 'us-east-1', daysAgo(5), 3],
      [ACCOUNT_A, 'eu-west-1', daysAgo(3), 3],
      [ACCOUNT_B, 'us-east-1', today(), 3],
    ]);
    const proxy = await S3Proxy.start(fake.s3.endpoint);
    try {
      const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint, extra: `<only_logs_after>${daysAgo(6)}</only_logs_after>` }]);
      const args = ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out.jsonl')}`];
      assert.equal((await runCli(args)).code, 0);
      proxy.reset();
      const idle = await runCli(args);
      assert.equal(idle.code, 0, idle.stderr);
      // 1 account listing + 2 region listings + one listing per partition; the layout comes from the state.
      assert.equal(proxy.requests.length, 1 + 2 + 3, JSON.stringify(proxy.requests));
      assert.ok(proxy.requests.every((r) => r.method === 'GET' && r.url.includes('list-type=2')));
    } finally {
      await proxy.stop();
    }
  });

  test('600 objects in one account, region and day: the second pass emits nothing', async () => {
    const dir = tempDir();
    const bucket = 'gd-six-hundred';
    fake.s3.createBucket(bucket);
    const expected = await upload(bucket, [[ACCOUNT_A, 'us-east-1', today(), 600]], 1);
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const out = join(dir, 'events.jsonl');
    const args = ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(eventsFromLines(readFileSync(out, 'utf8')).length, expected.length);
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(eventsFromLines(readFileSync(out, 'utf8')).length, expected.length);
    const summary = second.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!;
    assert.equal(summary['listed'], 600);
    assert.equal(summary['new'], 0);
  });

  test('a key sorting before processed ones in the newest day, and a new day folder, are both read next pass', async () => {
    const dir = tempDir();
    const bucket = 'gd-late-keys';
    fake.s3.createBucket(bucket);
    const day = daysAgo(1);
    for (const name of ['5000.jsonl.gz', '9000.jsonl.gz']) {
      await fake.s3.put(bucket, nativeKey(ACCOUNT_A, 'us-east-1', day, name), jsonlGz([makeFinding(ACCOUNT_A, 'us-east-1', `first-${name}`)]));
    }
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: `<only_logs_after>${day}</only_logs_after>` }]);
    const out = join(dir, 'events.jsonl');
    const args = ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`];
    assert.equal((await runCli(args)).code, 0);
    assert.equal(eventsFromLines(readFileSync(out, 'utf8')).length, 2);

    await fake.s3.put(bucket, nativeKey(ACCOUNT_A, 'us-east-1', day, '0001.jsonl.gz'), jsonlGz([makeFinding(ACCOUNT_A, 'us-east-1', 'late-early-key')]));
    await fake.s3.put(bucket, nativeKey(ACCOUNT_A, 'us-east-1', today(), '0002.jsonl.gz'), jsonlGz([makeFinding(ACCOUNT_A, 'us-east-1', 'new-day')]));
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    const ids = eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id);
    assert.deepEqual(ids.slice(2).sort(), ['late-early-key', 'new-day']);
  });

  test('the Wazuh socket absent: exit 1 naming it, nothing recorded; with the socket back every event arrives once', async () => {
    const dir = tempDir();
    const bucket = 'gd-socket-down';
    fake.s3.createBucket(bucket);
    const expected = await upload(bucket, [[ACCOUNT_A, 'eu-west-1', today(), 3]]);
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const socketPath = join(dir, 'queue');
    const state = join(dir, 'state.db');
    const args = ['--config', config, '--once', '--state', state, '--output', `wazuh:${socketPath}`];

    const down = await runCli(args);
    assert.equal(down.code, 1);
    assert.ok(down.stderr.includes(socketPath), down.stderr);
    assert.ok(existsSync(state));
    assert.equal(stateRows(state).length, 0);

    const sink = new DatagramSink(socketPath);
    try {
      const up = await runCli(args);
      assert.equal(up.code, 0, up.stderr);
      const ids = sink.messages.map((m) => (JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as Record<string, any>)['aws'].id);
      assert.deepEqual(ids.sort(), [...expected].sort());
      assert.equal(stateRows(state).length, 3);
    } finally {
      sink.close();
    }
  });
});
