// Firehose objects read by the built CLI: every container encoding, odd keys and encodings, bad objects
// under either skip_on_error (exit 1 without it), and the caps (--max-object-bytes, an impossible
// Snappy block).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { findingToEvents, type JsonObject } from '../../src/decode/finding.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { runCli, writeConfig } from '../../support/cli.js';
import { ENCODINGS, EXTENSIONS, encode, hadoopSnappy, snappyJava, zipOneEntry } from '../helpers/encodings.js';
import { daysAgo, firehoseKey, makeFinding, today } from '../../support/findings.js';
import { readSample, sampleNames } from '../../support/paths.js';
import { S3Proxy } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { stateRows } from '../helpers/state.js';

const fake = useFakeS3();

const ENVELOPES = sampleNames().filter((n) => n.startsWith('JackPott__') && !n.includes('sns-wrapped'));
const SNS_WRAPPED = 'JackPott__sns-wrapped-PrivilegeEscalation-Kubernetes-PrivilegedContainer.json';
const NOT_A_FINDING = 'SumoLogic__not-a-finding-AWS-API-Call-via-CloudTrail.json';

const MALWARE_SCAN_RESULT = JSON.stringify({
  version: '0',
  id: '0c6a5a5f-6f5e-4c2e-9e3b-9f2f1b0b7a11',
  'detail-type': 'GuardDuty Malware Protection Object Scan Result',
  source: 'aws.guardduty',
  account: '111122223333',
  time: '2026-11-29T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { schemaVersion: '1.0', scanStatus: 'COMPLETED', resourceType: 'S3_OBJECT', scanResultDetails: { scanResultStatus: 'NO_THREATS_FOUND' } },
});

interface Doc {
  text: string;
  /** The findings it holds, for the expected events. */
  findings: JsonObject[];
}

function docs(): Doc[] {
  const envelopes = ENVELOPES.map((name) => {
    const text = readSample(name).trim();
    return { text, findings: [(JSON.parse(text) as { detail: JsonObject }).detail] };
  });
  const sns = readSample(SNS_WRAPPED).trim();
  const snsDetail = (JSON.parse((JSON.parse(sns) as { Records: Array<{ Sns: { Message: string } }> }).Records[0]!.Sns.Message) as { detail: JsonObject }).detail;
  const wrapped = makeFinding('999999999999', 'eu-west-3', 'wrapped-finding') as unknown as JsonObject;
  return [
    ...envelopes,
    { text: sns, findings: [snsDetail] },
    { text: readSample(NOT_A_FINDING).trim(), findings: [] },
    { text: MALWARE_SCAN_RESULT, findings: [] },
    { text: '{"findings":[]}', findings: [] },
    { text: JSON.stringify({ Findings: [wrapped] }), findings: [wrapped] },
  ];
}

/** The events CONTRACT.md asks for, from the findings of the documents of one object. */
function expectedEvents(bucket: string, key: string, documents: Doc[]): string[] {
  return documents.flatMap((d) =>
    d.findings.flatMap((f) => findingToEvents(structuredClone(f), 'guardduty', { bucket, key, accountAlias: '' }).map((e) => e.json)),
  );
}

function run(dir: string, buckets: string[], extra = '', wodle = '', endpoint = fake.s3.endpoint) {
  const config = writeConfig(
    dir,
    buckets.map((name) => ({ name, endpoint, extra: `<only_logs_after>${daysAgo(2)}</only_logs_after>${extra}` })),
    wodle,
  );
  const out = join(dir, 'events.jsonl');
  return { out, args: ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`] };
}

describe('Firehose objects in every encoding', () => {
  test('gzip, zip, snappy-java, Hadoop-Snappy, framed Snappy and plain, with and without newlines: exactly the contract events', async () => {
    const dir = tempDir();
    const expected: string[] = [];
    const buckets: string[] = [];
    for (const encoding of ENCODINGS) {
      for (const separator of ['', '\n']) {
        const bucket = `fh-${encoding}-${separator ? 'lines' : 'concat'}`;
        buckets.push(bucket);
        fake.s3.createBucket(bucket);
        for (const [day, hour] of [[daysAgo(1), 3], [today(), 0], [today(), 23]] as const) {
          const documents = docs();
          const key = firehoseKey(day, hour, EXTENSIONS[encoding]);
          await fake.s3.put(bucket, key, await encode(encoding, Buffer.from(documents.map((d) => d.text).join(separator) + separator)));
          expected.push(...expectedEvents(bucket, key, documents));
        }
      }
    }
    const { out, args } = run(dir, buckets);
    const result = await runCli(args);
    assert.equal(result.code, 0, result.stderr);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, expected.length);
    assert.deepEqual([...lines].sort(), [...expected].sort());
    const summaries = result.logs.filter((l) => String(l['msg']).startsWith('bucket pass'));
    assert.equal(summaries.length, buckets.length);
    for (const summary of summaries) {
      assert.equal(summary['layout'], 'firehose');
      assert.equal(summary['done'], 3);
      assert.equal(summary['skipped'], 3 * 2, 'the CloudTrail event and the malware scan result of each object; an empty findings list holds nothing');
    }
    const events = eventsFromLines(lines.join('\n'));
    assert.ok(events.every((e) => e['aws'].source === 'guardduty'));
    assert.ok(events.some((e) => e['aws'].type === 'Stealth:IAMUser/CloudTrailLoggingDisabled'));
  });

  test('gzip under a .json key, gzip served with Content-Encoding: gzip, a folder marker and a zero-byte object', async () => {
    const dir = tempDir();
    const bucket = 'fh-odd-keys';
    // fauxqs does not keep Content-Encoding, so a proxy adds it to the answer as S3 would.
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      answerHeaders: (request, headers) => (request.method === 'GET' && request.url.includes('.gz') ? { ...headers, 'content-encoding': 'gzip' } : headers),
    });
    fake.s3.createBucket(bucket);
    const documents = docs();
    const data = Buffer.from(documents.map((d) => d.text).join(''));
    const jsonKey = firehoseKey(today(), 1, '.json');
    const encodedKey = firehoseKey(today(), 2, '.gz');
    await fake.s3.put(bucket, jsonKey, gzipSync(data));
    await fake.s3.put(bucket, encodedKey, gzipSync(data), 'gzip');
    await fake.s3.put(bucket, `${today().replaceAll('-', '/')}/04/`, Buffer.alloc(0));
    await fake.s3.put(bucket, firehoseKey(today(), 5, '.gz'), Buffer.alloc(0));
    await fake.s3.put(bucket, `processing-failed/${today().replaceAll('-', '/')}/06/x-1-2026-11-29-06-00-00-${'0'.repeat(36)}`, 'error record');
    const { out, args } = run(dir, [bucket], '', '', proxy.endpoint);
    const result = await runCli(args);
    await proxy.stop();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(proxy.requests.some((r) => r.method === 'GET' && r.url.includes(encodedKey.split('/').pop()!)));
    assert.deepEqual(
      readFileSync(out, 'utf8').trim().split('\n').sort(),
      [...expectedEvents(bucket, jsonKey, documents), ...expectedEvents(bucket, encodedKey, documents)].sort(),
    );
    assert.equal(result.logs.filter((l) => (l['level'] as number) >= 50).length, 0);
    const summary = result.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!;
    assert.equal(summary['listed'], 3, 'two objects and the zero-byte one; the folder marker and error prefix are outside');
  });
});

describe('bad Firehose objects', () => {
  async function mixedBucket(bucket: string) {
    fake.s3.createBucket(bucket);
    const good = (id: string) => JSON.stringify({ version: '0', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', detail: makeFinding('123456789012', 'us-east-1', id) });
    const goodKeys: string[] = [];
    for (const id of ['g1', 'g2', 'g3']) {
      const key = firehoseKey(today(), 1, '.gz');
      goodKeys.push(key);
      await fake.s3.put(bucket, key, gzipSync(good(id) + good(`${id}b`)));
    }
    const truncated = firehoseKey(today(), 2, '.gz');
    const whole = gzipSync(good('t1') + good('t2'));
    await fake.s3.put(bucket, truncated, whole.subarray(0, whole.length - 40));
    const notGzip = firehoseKey(today(), 2, '.gz');
    await fake.s3.put(bucket, notGzip, Buffer.from('PK\u0003\u0004 this is not a zip either, nor gzip'));
    const badZip = firehoseKey(today(), 2, '.zip');
    const zip = zipOneEntry(Buffer.from(good('z1')));
    zip[zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])) + 16]! ^= 0xff; // the central directory's CRC no longer matches
    await fake.s3.put(bucket, badZip, zip);
    const empty = firehoseKey(today(), 3, '.gz');
    await fake.s3.put(bucket, empty, gzipSync(''));
    const badLine = firehoseKey(today(), 3, '.gz');
    await fake.s3.put(bucket, badLine, gzipSync(`${good('l1')}\n{"detail-type":"GuardDuty Finding","detail":{"id":"broken"\n${good('l2')}\n`));
    return { goodKeys, bad: [truncated, notGzip, badZip], badLine, goodIds: ['g1', 'g1b', 'g2', 'g2b', 'g3', 'g3b', 'l1', 'l2'] };
  }

  const ids = (out: string) => eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id as string).sort();

  test('skip_on_error yes: every good finding once, each bad key named, a rerun adds nothing', async () => {
    const dir = tempDir();
    const bucket = 'fh-mixed-skip';
    const { bad, badLine, goodIds } = await mixedBucket(bucket);
    const { out, args } = run(dir, [bucket]);
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(ids(out), goodIds);
    const errors = first.logs.filter((l) => l['level'] === 50).map((l) => String(l['msg']));
    for (const key of bad) assert.equal(errors.filter((e) => e.includes(`s3://${bucket}/${key}:`)).length, 1, `${key} named once in ${errors.join('\n')}`);
    assert.ok(errors.some((e) => e.includes(`${badLine} line 2`)));
    assert.ok(errors.some((e) => /zip.*CRC|central directory/.test(e)), errors.join('\n'));
    assert.equal(errors.length, bad.length + 1);
    const states = new Map(stateRows(join(dir, 'state.db')).map((r) => [r.key, r.status]));
    for (const key of bad) assert.equal(states.get(key), 'failed');
    const again = await runCli(args);
    assert.equal(again.code, 0);
    assert.deepEqual(ids(out), goodIds);
  });

  test('skip_on_error no: exit 1 at the first failure; with the bad objects removed the rerun loses and repeats nothing', async () => {
    const dir = tempDir();
    const bucket = 'fh-mixed-strict';
    const { bad, badLine, goodIds } = await mixedBucket(bucket);
    const { out, args } = run(dir, [bucket], '', '<skip_on_error>no</skip_on_error>');
    const first = await runCli([...args, '--concurrency', '1']);
    assert.equal(first.code, 1);
    const states = stateRows(join(dir, 'state.db'));
    assert.ok(states.every((r) => r.status === 'done' || bad.includes(r.key)), 'only bad objects are not done');
    for (const key of [...bad, badLine]) await fake.s3.delete(bucket, key);
    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    const delivered = ids(out);
    const withoutBadLine = goodIds.filter((id) => !id.startsWith('l'));
    // The bad-line object's good findings were delivered once, if the first pass reached it.
    assert.deepEqual(delivered.filter((id) => !id.startsWith('l')), withoutBadLine);
    assert.ok(['', 'l1,l2'].includes(delivered.filter((id) => id.startsWith('l')).join(',')));
  });
});

describe('caps', () => {
  test('a small object that inflates past --max-object-bytes fails naming the cap', async () => {
    const dir = tempDir();
    const bucket = 'fh-bomb';
    fake.s3.createBucket(bucket);
    const key = firehoseKey(today(), 7, '.gz');
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    assert.ok(bomb.length < 100 * 1024);
    await fake.s3.put(bucket, key, bomb);
    const { args } = run(dir, [bucket]);
    const result = await runCli([...args, '--max-object-bytes', String(10 * 1024 * 1024)]);
    const error = result.logs.find((l) => l['level'] === 50)!;
    assert.ok(String(error['msg']).includes(key));
    assert.match(String(error['msg']), /exceeds the cap of 10485760 bytes \(--max-object-bytes\)/);
  });

  test('a Snappy container announcing an impossible block fails cleanly', async () => {
    const dir = tempDir();
    const bucket = 'fh-bad-snappy';
    fake.s3.createBucket(bucket);
    const javaKey = firehoseKey(today(), 8, '.snappy');
    const java = snappyJava(Buffer.from(readSample(ENVELOPES[0]!)));
    java.writeUInt32BE(0x7fffffff, 16);
    await fake.s3.put(bucket, javaKey, java);
    const hadoopKey = firehoseKey(today(), 8, '.snappy');
    const hadoop = hadoopSnappy(Buffer.from(readSample(ENVELOPES[0]!)));
    await fake.s3.put(bucket, hadoopKey, hadoop.subarray(0, hadoop.length - 5));
    const { args } = run(dir, [bucket]);
    const result = await runCli(args);
    assert.equal(result.code, 0);
    const errors = result.logs.filter((l) => l['level'] === 50).map((l) => String(l['msg']));
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.ok(errors.some((e) => e.includes(javaKey) && /beyond any real block/.test(e)));
    assert.ok(errors.some((e) => e.includes(hadoopKey) && /cut off/.test(e)));
  });
});
