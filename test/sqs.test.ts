// S3 notifications through SQS: competing replicas, a replica killed mid-way, a poison message.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import Database from 'better-sqlite3';
import { eventsFromLines, runCli, startCli, tempDir } from './helpers/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from './helpers/findings.js';
import { S3Proxy } from './helpers/proxy.js';
import { useFakeS3 } from '../support/s3.js';
import { parseNotification } from '../src/sqs/notifications.js';
import { locateKey } from '../src/walk/locate.js';
import { waitForProcess } from './helpers/wait.js';

const ACCOUNT = '888888888888';
const REGION = 'ap-northeast-1';
const fake = useFakeS3();

function sqs(): SQSClient {
  return new SQSClient({ endpoint: fake.s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

async function queue(name: string, attributes: Record<string, string> = {}): Promise<{ url: string; arn: string }> {
  const client = sqs();
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return { url: QueueUrl!, arn: Attributes!['QueueArn']! };
}

async function depth(url: string): Promise<number> {
  const { Attributes } = await sqs().send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(Attributes!['ApproximateNumberOfMessages']) + Number(Attributes!['ApproximateNumberOfMessagesNotVisible']);
}

/** An S3 event notification as S3 sends it: keys URL-encoded, `+` for spaces. */
function s3Event(bucket: string, key: string, size: number): string {
  const encoded = encodeURIComponent(key).replaceAll('%2F', '/').replaceAll('%20', '+');
  return JSON.stringify({
    Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encoded, size, eTag: 'abc' } } }],
  });
}

async function send(url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs().send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((MessageBody, n) => ({ Id: String(n), MessageBody })) }));
  }
}

/** Puts `count` one-finding objects under a path with a space, and returns their notifications. */
async function objects(bucket: string, count: number, prefix: string): Promise<{ ids: string[]; bodies: string[] }> {
  fake.s3.createBucket(bucket);
  const ids: string[] = [];
  const bodies: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    const key = nativeKey(ACCOUNT, REGION, today(), `${id}.jsonl.gz`, 'guard duty/');
    const body = jsonlGz([makeFinding(ACCOUNT, REGION, id)]);
    await fake.s3.put(bucket, key, body);
    ids.push(id);
    bodies.push(s3Event(bucket, key, body.length));
  }
  return { ids, bodies };
}

function subscriberConfig(dir: string, queueName: string, endpoint = fake.s3.endpoint): string {
  const file = join(dir, 'ossec.conf');
  writeFileSync(
    file,
    `<ossec_config><wodle name="aws-s3"><subscriber type="buckets"><sqs_name>${queueName}</sqs_name><service_endpoint>${endpoint}</service_endpoint></subscriber></wodle></ossec_config>\n`,
  );
  return file;
}

function replica(queueName: string, extra: string[] = [], endpoint?: string) {
  const dir = tempDir();
  const out = join(dir, 'events.jsonl');
  const args = ['--config', subscriberConfig(dir, queueName, endpoint), '--state', join(dir, 'state.db'), '--output', `file:${out}`, '--sqs-wait', '1', ...extra];
  return { dir, out, args };
}

function ids(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

describe('notifications', () => {
  test('S3 event records, SNS-wrapped ones and the test event; keys URL-decoded; layouts found without configuration', () => {
    const key = 'guard duty/AWSLogs/888888888888/GuardDuty/ap-northeast-1/2026/11/29/a+b.jsonl.gz';
    const event = s3Event('b', key, 10);
    assert.deepEqual(parseNotification(event), { kind: 'objects', objects: [{ bucket: 'b', key, size: 10, etag: '"abc"' }] });
    assert.deepEqual(parseNotification(JSON.stringify({ Type: 'Notification', Message: event })), parseNotification(event));
    assert.deepEqual(parseNotification(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' })), { kind: 'test' });
    assert.equal(parseNotification('not json').kind, 'other');
    assert.deepEqual(locateKey(key), { layout: 'native', path: 'guard duty/', pathSuffix: '', account: '888888888888', region: 'ap-northeast-1', day: '2026-11-29' });
    assert.equal(locateKey('x/AWSLogs/o-abc123/888888888888/GuardDuty/us-east-1/2026/11/29/f.jsonl.gz')?.layout, 'native');
    assert.deepEqual(locateKey('fh/2026/11/29/13/stream-1-2026-11-29-13-00-00-00000000-0000-4000-8000-000000000000.gz'), { layout: 'firehose', path: 'fh/', day: '2026-11-29' });
    assert.equal(locateKey('AWSLogs/888888888888/CloudTrail/us-east-1/2026/11/29/x.json.gz'), null);
  });
});

describe('SQS subscriber', () => {
  test('two replicas drain one queue together: every event exactly once, both work, both exit 0, queue empty', async () => {
    const bucket = 'gd-sqs-replicas';
    const q = await queue('gd-replicas');
    const { ids: expected, bodies } = await objects(bucket, 300, 'r');
    await send(q.url, [...bodies, JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: bucket })]);
    const [a, b] = [replica('gd-replicas', ['--once']), replica('gd-replicas', ['--once'])];
    const [ra, rb] = await Promise.all([runCli(a.args), runCli(b.args)]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    const [fromA, fromB] = [ids(a.out), ids(b.out)];
    assert.ok(fromA.length > 0 && fromB.length > 0, `both replicas work: ${fromA.length} + ${fromB.length}`);
    assert.deepEqual([...fromA, ...fromB].sort(), [...expected].sort());
    assert.equal(await depth(q.url), 0);
  });

  test('a replica killed mid-way: its messages come back after the visibility timeout and the other reads them', async () => {
    const bucket = 'gd-sqs-killed';
    const q = await queue('gd-killed', { VisibilityTimeout: '2' });
    const { ids: expected, bodies } = await objects(bucket, 40, 'k');
    await send(q.url, bodies);
    let gets = 0;
    const slow = await S3Proxy.start(fake.s3.endpoint, {
      delayMs: (r) => (r.method === 'GET' && r.url.includes('/gd-sqs-killed/') && !r.url.includes('list-type=') ? (gets++, 1000) : 0),
    });
    const doomed = replica('gd-killed', [], slow.endpoint);
    const running = startCli(doomed.args);
    await waitForProcess(running, () => gets >= 5, { what: 'five objects in flight', timeoutMs: 5_000, intervalMs: 50 });
    running.child.kill('SIGKILL');
    await running.done;
    await slow.stop();
    assert.ok(gets >= 5, 'the first replica had objects in flight');
    const survivor = replica('gd-killed', ['--once', '--sqs-wait', '4']);
    const result = await runCli(survivor.args);
    assert.equal(result.code, 0, result.stderr);
    const seen = new Set([...ids(doomed.out), ...ids(survivor.out)]);
    assert.deepEqual([...seen].sort(), [...expected].sort(), 'nothing lost');
    assert.equal(await depth(q.url), 0);
  });

  test('the state of buckets read only through SQS stays bounded: done keys past any queue retention are forgotten', async () => {
    const bucket = 'gd-sqs-prune';
    await queue('gd-prune');
    const first = await objects(bucket, 1, 'old');
    const q = await queue('gd-prune');
    await send(q.url, first.bodies);
    const consumer = replica('gd-prune', ['--once']);
    assert.equal((await runCli(consumer.args)).code, 0);
    // Make the recorded key look 16 days old, then notify a new one.
    const db = new Database(join(consumer.dir, 'state.db'));
    db.prepare('UPDATE objects SET processed_at = ?').run(Date.now() - 16 * 86_400_000);
    db.close();
    const second = await objects(bucket, 1, 'new');
    await send(q.url, second.bodies);
    const result = await runCli(consumer.args);
    assert.equal(result.code, 0, result.stderr);
    const check = new Database(join(consumer.dir, 'state.db'), { readonly: true });
    const keys = (check.prepare('SELECT key FROM objects').all() as Array<{ key: string }>).map((row) => row.key);
    check.close();
    assert.deepEqual(keys.map((key) => key.split('/').at(-1)), ['new-0.jsonl.gz']);
    assert.deepEqual(ids(consumer.out), ['old-0', 'new-0']);
  });

  test('a poison message is retried, logged per attempt and left for the dead-letter queue, without blocking the rest', async () => {
    const bucket = 'gd-sqs-poison';
    const dlq = await queue('gd-poison-dlq');
    const q = await queue('gd-poison', { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }) });
    const { ids: expected, bodies } = await objects(bucket, 20, 'p');
    const poisonKey = nativeKey(ACCOUNT, REGION, today(), 'poison.jsonl.gz', 'guard duty/');
    await fake.s3.put(bucket, poisonKey, Buffer.from('\x1f\x8b\x08\x00garbage that is not gzip'));
    await send(q.url, [bodies[0]!, s3Event(bucket, poisonKey, 30), ...bodies.slice(1)]);
    const consumer = replica('gd-poison', ['--once', '--sqs-wait', '3']);
    const result = await runCli(consumer.args);
    assert.equal(result.code, 1, 'a message that failed makes the run fail');
    assert.deepEqual(ids(consumer.out).sort(), [...expected].sort(), 'every good object delivered once');
    const attempts = result.logs.filter((l) => /^SQS message .* not done; left on the queue/.test(String(l['msg'])));
    assert.equal(attempts.length, 2, 'logged once per attempt');
    assert.ok(attempts.every((l) => String(l['msg']).includes('poison.jsonl.gz')));
    assert.equal(await depth(q.url), 0);
    const dead = await sqs().send(new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    assert.equal(dead.Messages?.length, 1);
    assert.match(dead.Messages![0]!.Body!, /poison\.jsonl\.gz/);
  });
});
