// The collector's --once with a bucket and an SQS subscriber (issue 22): the bucket pass and the
// subscriber's drain open the outputs at the same moment, and the process holds its file output open
// once, counted in /proc/<pid>/fd. One output opened by several callers: output-open.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startCli, writeConfig } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { useFakeS3 } from '../../support/s3.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { waitForLog } from '../helpers/wait.js';
import { descriptors } from '../helpers/descriptors.js';

const fake = useFakeS3();


describe('the collector with a bucket and a subscriber', () => {
  // --once starts the bucket pass and the subscriber's drain together: both open the outputs at once.
  test('--once holds its file output open once', async () => {
    const bucket = 'gd-output-once';
    const queueName = 'output-once';
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey('676767676767', 'sa-east-1', today()), jsonlGz([makeFinding('676767676767', 'sa-east-1', 'via-bucket')]));
    const sqs = new SQSClient({ endpoint: fake.s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    const dir = tempDir();
    const config = writeConfig(
      dir,
      [{ name: bucket, endpoint: fake.s3.endpoint }],
      `<subscriber type="buckets"><sqs_name>${queueName}</sqs_name><service_endpoint>${fake.s3.endpoint}</service_endpoint></subscriber>`,
    );
    const out = join(dir, 'events.jsonl');
    // The empty queue's first long poll (20 s) keeps the process there once the pass is over.
    const running = startCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`, '--sqs-wait', '20']);
    try {
      await waitForLog(running, (l) => String(l['msg']).startsWith('bucket pass'), { what: 'the bucket pass', timeoutMs: 20_000 });
      assert.equal(descriptors((target) => target === out, running.child.pid!), 1);
    } finally {
      running.child.kill('SIGTERM');
    }
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    // A second handle, had one been opened, is either still open above or closed by the garbage
    // collector since, which Node says in a warning.
    assert.deepEqual(result.logs.filter((l) => /garbage collection/.test(String(l['msg']))), []);
    assert.deepEqual(eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id), ['via-bucket']);
  });
});
