// S3 notifications through SQS, read by collector processes: competing replicas, a replica killed
// mid-way, a poison message, messages that cannot be understood, EventBridge events, gone objects, a key
// notified several times. What a notification names: sqs-notifications.test.ts.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import Database from 'better-sqlite3';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { runCli, startCli } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { waitForProcess } from '../helpers/wait.js';
import { NOTIFIED_ACCOUNT, NOTIFIED_REGION, encodeKey, eventBridgeEvent, findingKey, s3Event, s3Record } from '../helpers/notifications.js';

const ACCOUNT = NOTIFIED_ACCOUNT;
const REGION = NOTIFIED_REGION;
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

async function send(url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs().send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((MessageBody, n) => ({ Id: String(n), MessageBody })) }));
  }
}

/** Puts `count` one-finding objects under a path with a space, and returns their notifications. */
async function objects(bucket: string, count: number, prefix: string): Promise<{ ids: string[]; bodies: string[]; stored: Array<{ key: string; size: number }> }> {
  fake.s3.createBucket(bucket);
  const ids: string[] = [];
  const bodies: string[] = [];
  const stored: Array<{ key: string; size: number }> = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    const key = findingKey(id);
    const body = jsonlGz([makeFinding(ACCOUNT, REGION, id)]);
    await fake.s3.put(bucket, key, body);
    ids.push(id);
    bodies.push(s3Event(bucket, key, body.length));
    stored.push({ key, size: body.length });
  }
  return { ids, bodies, stored };
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

  test('a message that cannot be understood (a malformed % escape) is warned about once per receive and left for its dead-letter queue; its batch is delivered and deleted', async () => {
    const bucket = 'gd-sqs-malformed';
    const dlq = await queue('gd-malformed-dlq');
    const q = await queue('gd-malformed', { VisibilityTimeout: '3', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }) });
    const { ids: expected, bodies, stored } = await objects(bucket, 5, 'm');
    const malformed = (name: string) => encodeKey(findingKey(name)).replace(name, `${name}%ZZ`);
    const bad = JSON.stringify({ Records: [s3Record(bucket, malformed('bad'), 10)] });
    // A malformed record among good ones: the good object is read, the message stays all the same.
    const mixed = JSON.stringify({ Records: [s3Record(bucket, encodeKey(stored[4]!.key), stored[4]!.size), s3Record(bucket, malformed('mixed'), 10)] });
    await send(q.url, [bodies[0]!, bad, bodies[1]!, mixed, bodies[2]!, bodies[3]!]);
    const consumer = replica('gd-malformed', ['--once']);
    const unreadable = (logs: Array<Record<string, unknown>>) => logs.filter((l) => l['level'] === 40 && /cannot be understood/.test(String(l['msg'])));

    const first = await runCli(consumer.args);
    assert.equal(first.code, 0, `a message that cannot be understood is not the run's failure:\n${first.stderr}`);
    assert.deepEqual(ids(consumer.out).sort(), [...expected].sort(), 'every good object delivered once');
    const warned = unreadable(first.logs);
    assert.equal(warned.length, 2, 'one warning per message that cannot be understood');
    assert.deepEqual(warned.map((l) => /(bad|mixed)%ZZ/.exec(String(l['msg']))?.[1]).sort(), ['bad', 'mixed']);
    for (const line of warned) {
      assert.match(String(line['msg']), new RegExp(`^SQS queue gd-malformed: message ${String(line['messageId'])} \\(received 1 times\\) cannot be understood: record \\d of \\d \\(ObjectCreated:Put\\): key ".*" is not valid URL encoding \\(URI malformed\\); left on the queue for its dead-letter queue$`));
    }
    assert.equal(first.logs.filter((l) => (l['level'] as number) >= 50).length, 0, 'no error');
    assert.equal(await depth(q.url), 2, 'the good messages deleted, the two others left');

    // They come back after the visibility timeout: the good object of the mixed one is not delivered
    // again, and the redrive policy then moves both to the dead-letter queue.
    const second = await runCli([...consumer.args, '--sqs-wait', '4']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(ids(consumer.out).sort(), [...expected].sort(), 'nothing delivered twice');
    assert.deepEqual(unreadable(second.logs).map((l) => l['receives']), [2, 2]);
    assert.equal(await depth(q.url), 0);
    assert.equal(await depth(dlq.url), 2);
  });

  test('S3 events through EventBridge are read like S3\'s own records; other detail-types are deleted unread', async () => {
    const bucket = 'gd-sqs-eventbridge';
    const q = await queue('gd-eventbridge');
    const { ids: expected, stored } = await objects(bucket, 4, 'eb');
    const created = stored.slice(0, 3).map(({ key, size }) => eventBridgeEvent(bucket, key, size));
    const deleted = eventBridgeEvent(bucket, stored[3]!.key, stored[3]!.size, 'Object Deleted');
    await send(q.url, [...created, deleted]);
    const consumer = replica('gd-eventbridge', ['--once']);
    const result = await runCli(consumer.args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(ids(consumer.out).sort(), expected.slice(0, 3).sort(), 'the created objects read (keys URL-decoded), the deleted one not');
    assert.equal(await depth(q.url), 0);
  });

  test('a notification for an object that is gone (NoSuchKey) is deleted with one warning naming bucket and key', async () => {
    const bucket = 'gd-sqs-gone';
    const q = await queue('gd-gone');
    const { ids: expected, bodies } = await objects(bucket, 2, 'g');
    const goneKey = findingKey('gone');
    await send(q.url, [bodies[0]!, s3Event(bucket, goneKey, 100), bodies[1]!]);
    const consumer = replica('gd-gone', ['--once']);
    const result = await runCli(consumer.args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(ids(consumer.out).sort(), [...expected].sort());
    const warnings = result.logs.filter((l) => l['level'] === 40).map((l) => String(l['msg']));
    assert.deepEqual(warnings, [`s3://${bucket}/${goneKey}: the object is gone (deleted since it was listed or notified); nothing to read`]);
    assert.equal(result.logs.filter((l) => (l['level'] as number) >= 50).length, 0, 'no error');
    assert.equal(await depth(q.url), 0, 'no message left to come back forever');
  });

  test('a key notified several times (two messages, two records of one message) is read once; every message naming it follows that one outcome', async () => {
    const bucket = 'gd-sqs-twice';
    const q = await queue('gd-twice');
    const { ids: expected, bodies, stored } = await objects(bucket, 2, 't');
    const goneKey = findingKey('gone');
    const gone = s3Event(bucket, goneKey, 100);
    const twoRecords = JSON.stringify({ Records: [s3Record(bucket, encodeKey(stored[1]!.key), stored[1]!.size), s3Record(bucket, encodeKey(stored[1]!.key), stored[1]!.size)] });
    await send(q.url, [bodies[0]!, bodies[0]!, twoRecords, gone, gone]);
    // GETs held a while, so that the reads of one key would overlap if they were not shared.
    const isGet = (r: { method: string; url: string }) => r.method === 'GET' && r.url.includes(`/${bucket}/`) && !r.url.includes('list-type=');
    const slow = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (isGet(r) ? 300 : 0) });
    try {
      const consumer = replica('gd-twice', ['--once'], slow.endpoint);
      const result = await runCli(consumer.args);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ids(consumer.out).sort(), [...expected].sort(), 'each event delivered once');
      const gets = slow.requests.filter(isGet).map((r) => decodeURIComponent(new URL(r.url, 'http://s3').pathname).slice(`/${bucket}/`.length));
      assert.deepEqual(gets.sort(), [stored[0]!.key, stored[1]!.key, goneKey].sort(), 'one GET per key');
      assert.equal(result.logs.filter((l) => l['level'] === 40 && /is gone/.test(String(l['msg']))).length, 1, 'one warning for the gone key');
      assert.equal(await depth(q.url), 0, 'every message deleted');
    } finally {
      await slow.stop();
    }
  });
});
