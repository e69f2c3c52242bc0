// The collector's pass over a bucket, run in this process as the CLI's --once runs it (runPass through
// the run context, against fauxqs, with a real state and real outputs): native exports of several
// accounts, regions and days to a file and the Wazuh socket, idle passes, late keys; objects that are
// not plain findings, bad lines, corrupt objects under either skip_on_error; discard_regex and
// remove_from_bucket, path and path_suffix, paged listings, --concurrency, an empty bucket; an event too
// large for the Wazuh socket. A pass that is not ok is what makes the CLI exit 1. What only the process
// shows (exit status, stdout, stderr at trace, signals, a daemon): process/collector-end-to-end.test.ts;
// the Wazuh socket absent: process/faults.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createOutput } from '../src/emit/index.js';
import { FileOutput } from '../src/emit/file.js';
import { DEFAULT_LIMITS } from '../src/vocabulary.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../support/findings.js';
import type { SeenRequest } from '../support/proxy.js';
import { useFakeS3 } from '../support/s3.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { inProcessBucket } from './helpers/harness.js';
import { stateRows } from './helpers/state.js';
import { waitFor } from './helpers/wait.js';
import { DatagramSink } from './helpers/wazuh-queue.js';

const ACCOUNT = '444444444444';
const REGION = 'us-west-2';

const ACCOUNT_A = '111111111111';
const ACCOUNT_B = '222222222222';
const silent = pino({ level: 'silent' });

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

function finding(id: string) {
  return makeFinding(ACCOUNT, REGION, id);
}

/** Now, for passes over objects filed under today's folder. */
const now = () => new Date().toISOString();

function logsMatching(logs: Array<Record<string, unknown>>, pattern: RegExp) {
  return logs.filter((l) => pattern.test(String(l['msg'])));
}

const errorsOf = (logs: Array<Record<string, unknown>>) => logs.filter((l) => l['level'] === 50).map((l) => String(l['msg']));

describe('one pass over native exports', () => {
  test('two accounts with different regions over several days: every event once to a file and the Wazuh socket; the second pass emits nothing', async () => {
    const bucket = 'gd-two-accounts';
    const dir = tempDir();
    const file = join(dir, 'events.jsonl');
    const socketPath = join(dir, 'queue');
    const sink = new DatagramSink(socketPath);
    const h = await inProcessBucket(fake, bucket, () => `<only_logs_after>${daysAgo(3)}</only_logs_after>`, {
      outputs: () => [new FileOutput(file), createOutput({ kind: 'wazuh', path: socketPath }, silent, { timeoutMs: 5000, engineAgent: { id: '000', name: 'test' } })],
    });
    try {
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
      const first = await h.pass(now());
      // The datagrams were sent in this process; the sink reads them on later turns of its event loop.
      await waitFor(() => sink.messages.length >= expected.length, { what: `${expected.length} datagrams at the Wazuh socket`, timeoutMs: 5000 });
      const fileEvents = eventsFromLines(readFileSync(file, 'utf8'));
      assert.deepEqual(fileEvents.map((e) => e['aws'].id).sort(), [...expected].sort());
      for (const message of sink.messages) assert.ok(message.startsWith('1:Wazuh-AWS:{'), message.slice(0, 40));
      const socketEvents = sink.messages.map((m) => JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as Record<string, any>);
      assert.deepEqual(socketEvents.map((e) => e['aws'].id).sort(), [...expected].sort());
      const event = fileEvents.find((e) => e['aws'].accountId === ACCOUNT_B)!;
      assert.equal(event['integration'], 'aws');
      assert.equal(event['aws'].source, 'guardduty');
      assert.equal(event['aws'].log_info.s3bucket, bucket);
      assert.match(event['aws'].log_info.log_file, new RegExp(`^AWSLogs/${ACCOUNT_B}/GuardDuty/ap-southeast-2/`));
      assert.equal(first.summary.partitions, 3);
      assert.equal(first.summary.done, 9);
      assert.equal(first.summary.events, expected.length);

      await h.pass(now());
      assert.equal(eventsFromLines(readFileSync(file, 'utf8')).length, expected.length);
      assert.equal(sink.messages.length, expected.length);
      assert.ok(stateRows(h.statePath).every((row) => row.status === 'done'));
    } finally {
      sink.close();
      await h.stop();
    }
  });

  test('an idle pass costs one request per partition, and fetches nothing', async () => {
    const bucket = 'gd-idle';
    const h = await inProcessBucket(fake, bucket, () => `<only_logs_after>${daysAgo(6)}</only_logs_after>`);
    try {
      await upload(bucket, [
        [ACCOUNT_A, 'us-east-1', daysAgo(5), 3],
        [ACCOUNT_A, 'eu-west-1', daysAgo(3), 3],
        [ACCOUNT_B, 'us-east-1', today(), 3],
      ]);
      await h.pass(now());
      const idle = await h.pass(now());
      // 1 account listing + 2 region listings + one listing per partition; the layout comes from the state.
      assert.equal(idle.requests, 1 + 2 + 3, JSON.stringify(h.proxy.requests));
      assert.ok(h.proxy.requests.every((r) => r.method === 'GET' && r.url.includes('list-type=2')));
    } finally {
      await h.stop();
    }
  });

  test('600 objects in one account, region and day: the second pass emits nothing', async () => {
    const bucket = 'gd-six-hundred';
    const h = await inProcessBucket(fake, bucket, () => '');
    try {
      const expected = await upload(bucket, [[ACCOUNT_A, 'us-east-1', today(), 600]], 1);
      await h.pass(now());
      assert.equal(h.ids().length, expected.length);
      const second = await h.pass(now());
      assert.equal(h.ids().length, expected.length);
      assert.equal(second.summary.listed, 600);
      assert.equal(second.summary.new, 0);
    } finally {
      await h.stop();
    }
  });

  test('a key sorting before processed ones in the newest day, and a new day folder, are both read next pass', async () => {
    const bucket = 'gd-late-keys';
    const day = daysAgo(1);
    const h = await inProcessBucket(fake, bucket, () => `<only_logs_after>${day}</only_logs_after>`);
    try {
      for (const name of ['5000.jsonl.gz', '9000.jsonl.gz']) await h.put(nativeKey(ACCOUNT_A, 'us-east-1', day, name), [`first-${name}`]);
      await h.pass(now());
      assert.equal(h.ids().length, 2);
      await h.put(nativeKey(ACCOUNT_A, 'us-east-1', day, '0001.jsonl.gz'), ['late-early-key']);
      await h.put(nativeKey(ACCOUNT_A, 'us-east-1', today(), '0002.jsonl.gz'), ['new-day']);
      await h.pass(now());
      assert.deepEqual(h.ids().slice(2).sort(), ['late-early-key', 'new-day']);
    } finally {
      await h.stop();
    }
  });
});

describe('objects that are not plain findings', () => {
  test('zero-byte objects and folder keys count as nothing to read; keys outside the layout are ignored', async () => {
    const bucket = 'gd-odd-keys';
    const h = await inProcessBucket(fake, bucket, () => '');
    try {
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'empty.jsonl.gz'), Buffer.alloc(0));
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'folder/'), Buffer.alloc(0));
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'deeper/x.jsonl.gz'), jsonlGz([finding('outside')]));
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'real.jsonl.gz'), jsonlGz([finding('inside')]));
      await h.pass(now());
      assert.deepEqual(h.ids(), ['inside']);
      assert.deepEqual(
        stateRows(h.statePath).map((r) => [r.key.split('/').pop(), r.status, r.events]),
        [
          ['empty.jsonl.gz', 'done', 0],
          ['real.jsonl.gz', 'done', 1],
        ],
      );
      assert.equal(logsMatching(h.logs, /error|fail/i).filter((l) => (l['level'] as number) >= 50).length, 0);
    } finally {
      await h.stop();
    }
  });

  test('a bad line inside an object: the other findings are delivered, the line is reported with key and number', async () => {
    const bucket = 'gd-bad-line';
    const h = await inProcessBucket(fake, bucket, () => '');
    try {
      const key = nativeKey(ACCOUNT, REGION, today());
      const text = `${JSON.stringify(finding('one'))}\n{"id":"torn\n${JSON.stringify(finding('two'))}\n`;
      await fake.s3.put(bucket, key, gzipSync(text));
      await h.pass(now());
      assert.deepEqual(h.ids(), ['one', 'two']);
      const errors = errorsOf(h.logs);
      assert.equal(errors.length, 1);
      assert.ok(errors[0]!.includes(`${key} line 2`), errors[0]);
      assert.deepEqual(stateRows(h.statePath).map((r) => [r.status, r.events, r.malformed]), [['done', 2, 1]]);
    } finally {
      await h.stop();
    }
  });

  test('a corrupt object under skip_on_error: reported with its key, recorded as failed, retried up to --max-attempts, the rest delivered once', async () => {
    const bucket = 'gd-corrupt-skip';
    const h = await inProcessBucket(fake, bucket, () => '');
    const limits = { ...DEFAULT_LIMITS, maxAttempts: 2 };
    /** One pass; the error lines it logged. */
    const pass = async () => {
      const from = h.logs.length;
      await h.pass(now(), { limits });
      return errorsOf(h.logs.slice(from));
    };
    try {
      const bad = nativeKey(ACCOUNT, REGION, today(), '0-bad.jsonl.gz');
      const good = jsonlGz([finding('good')]);
      await fake.s3.put(bucket, bad, Buffer.concat([good.subarray(0, 10), Buffer.from('this is not deflate data at all')]));
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), '1-good.jsonl.gz'), good);

      const first = await pass();
      assert.deepEqual(h.ids(), ['good']);
      assert.equal(first.length, 1);
      assert.ok(first[0]!.includes(`s3://${bucket}/${bad}`), first[0]);
      assert.match(first[0]!, /not valid gzip.*skip_on_error.*attempt 1 of 2/);
      const failed = stateRows(h.statePath).find((r) => r.key === bad)!;
      assert.equal(failed.status, 'failed');
      assert.match(failed.error!, /gzip/);

      assert.match((await pass()).join('\n'), /left failed after 2 attempts/);
      assert.deepEqual(await pass(), []);
      assert.deepEqual(h.ids(), ['good']);
      assert.equal(stateRows(h.statePath).find((r) => r.key === bad)!.status, 'failed');
    } finally {
      await h.stop();
    }
  });

  test('a corrupt object without skip_on_error: the pass fails (the CLI\'s exit 1), never recorded done, and it is tried again next pass', async () => {
    const bucket = 'gd-corrupt-strict';
    const h = await inProcessBucket(fake, bucket, () => '', { wodleXml: '<skip_on_error>no</skip_on_error>', expectOk: false });
    try {
      const bad = nativeKey(ACCOUNT, REGION, today(), 'bad.jsonl.gz');
      await fake.s3.put(bucket, bad, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
      for (let n = 0; n < 3; n++) {
        const from = h.logs.length;
        const pass = await h.pass(now(), { limits: { ...DEFAULT_LIMITS, maxAttempts: 1 } });
        assert.equal(pass.ok, false);
        assert.ok(h.logs.slice(from).some((l) => (l['level'] as number) >= 50 && String(l['msg']).includes(bad)), JSON.stringify(h.logs.slice(from)));
        assert.deepEqual(stateRows(h.statePath).map((r) => r.status), ['failed']);
      }
    } finally {
      await h.stop();
    }
  });
});

describe('options', () => {
  test('discard_regex drops matching findings; remove_from_bucket deletes only what was recorded done', async () => {
    const bucket = 'gd-discard-remove';
    const h = await inProcessBucket(fake, bucket, () => '<discard_regex field="id">drop-</discard_regex>\n<remove_from_bucket>yes</remove_from_bucket>');
    try {
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('keep-1'), finding('drop-1')]));
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('keep-2')]));
      const corrupt = nativeKey(ACCOUNT, REGION, today(), 'corrupt.jsonl.gz');
      await fake.s3.put(bucket, corrupt, Buffer.from([0x1f, 0x8b, 0, 0]));
      const stray = `AWSLogs/${ACCOUNT}/GuardDuty/${REGION}/notes.txt`;
      await fake.s3.put(bucket, stray, 'not an export');
      const { summary } = await h.pass(now());
      assert.deepEqual(h.ids().sort(), ['keep-1', 'keep-2']);
      assert.equal(summary.discarded, 1);
      assert.equal(summary.deleted, 2);
      assert.deepEqual((await fake.s3.keys(bucket)).sort(), [corrupt, stray].sort());
    } finally {
      await h.stop();
    }
  });

  test('path, path_suffix and account discovery: folders that are not accounts or regions are ignored', async () => {
    const bucket = 'gd-org-path';
    const h = await inProcessBucket(fake, bucket, () => '<path>exports/guardduty</path>\n<path_suffix>o-abc123</path_suffix>');
    try {
      const prefix = 'exports/guardduty/AWSLogs/o-abc123/';
      const key = (account: string, region: string, id: string) => `${prefix}${account}/GuardDuty/${region}/${today().replaceAll('-', '/')}/${id}.jsonl.gz`;
      await fake.s3.put(bucket, key('555555555555', 'eu-north-1', 'a'), jsonlGz([finding('a')]));
      await fake.s3.put(bucket, key('666666666666', 'sa-east-1', 'b'), jsonlGz([finding('b')]));
      await fake.s3.put(bucket, key('not-an-account', 'sa-east-1', 'c'), jsonlGz([finding('c')]));
      await fake.s3.put(bucket, key('666666666666', 'NOT_A_REGION', 'd'), jsonlGz([finding('d')]));
      await fake.s3.put(bucket, `AWSLogs/777777777777/GuardDuty/us-east-1/${today().replaceAll('-', '/')}/e.jsonl.gz`, jsonlGz([finding('e')]));
      const { summary } = await h.pass(now());
      assert.deepEqual(h.ids().sort(), ['a', 'b']);
      assert.equal(summary.partitions, 2);
    } finally {
      await h.stop();
    }
  });

  test('listing pages past 1,000 keys in one day folder', async () => {
    const bucket = 'gd-pages';
    const h = await inProcessBucket(fake, bucket, () => '');
    try {
      const body = jsonlGz([finding('same')]);
      await Promise.all(Array.from({ length: 1010 }, (_, i) => fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), `${String(i).padStart(5, '0')}.jsonl.gz`), body)));
      await h.pass(now());
      assert.equal(h.ids().length, 1010);
    } finally {
      await h.stop();
    }
  });

  test('objects are fetched --concurrency at a time, even within one partition', async () => {
    const isGet = (r: SeenRequest) => r.method === 'GET' && !r.url.includes('list-type=');
    for (const concurrency of [1, 8]) {
      // A bucket of 30 objects for each, read on a state of its own.
      const bucket = `gd-concurrency-${concurrency}`;
      let inFlight = 0;
      let most = 0;
      const h = await inProcessBucket(fake, bucket, () => '', {
        proxy: {
          delayMs: (r) => {
            if (isGet(r)) most = Math.max(most, ++inFlight);
            // Deliberately slow reads (100 ms), so that reads overlap as far as --concurrency lets them.
            return isGet(r) ? 100 : 0;
          },
          answered: (r) => {
            if (isGet(r)) inFlight--;
          },
        },
      });
      try {
        await Promise.all(Array.from({ length: 30 }, (_, i) => fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), `${i}.jsonl.gz`), jsonlGz([finding(`c${i}`)]))));
        await h.pass(now(), { concurrency });
        assert.equal(most, concurrency, `at most ${concurrency} objects read at once, and that many when there is work`);
        assert.equal(h.ids().length, 30);
      } finally {
        await h.stop();
      }
    }
  });

  test('an empty bucket is read as an empty Firehose layout', async () => {
    const h = await inProcessBucket(fake, 'gd-empty', () => '');
    try {
      const { summary } = await h.pass(now());
      assert.equal(summary.layout, 'firehose');
      assert.equal(summary.listed, 0);
    } finally {
      await h.stop();
    }
  });
});

describe('outputs', () => {
  test('an event over what analysisd reads is trimmed for the Wazuh socket, keeping what the rules read, saying what was cut; the file gets it whole', async () => {
    const bucket = 'gd-big-event';
    const dir = tempDir();
    const file = join(dir, 'events.jsonl');
    const socketPath = join(dir, 'queue');
    const sink = new DatagramSink(socketPath);
    // The outputs as the CLI makes them for --output file:… --output wazuh:…, logging where the pass logs.
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    const h = await inProcessBucket(fake, bucket, () => '', {
      outputs: () => [new FileOutput(file), createOutput({ kind: 'wazuh', path: socketPath }, log, { timeoutMs: 5000, engineAgent: { id: '000', name: 'test' } })],
    });
    try {
      const base = finding('huge-one') as Record<string, unknown>;
      const big = {
        ...base,
        description: 'x'.repeat(40_000),
        resource: { ...(base['resource'] as object), notes: Array.from({ length: 500 }, (_, i) => `note number ${i} `.repeat(8)) },
      };
      const key = nativeKey(ACCOUNT, REGION, today());
      await fake.s3.put(bucket, key, jsonlGz([big, finding('small')]));
      await h.pass(now());
      // The datagrams were sent in this process; the sink reads them on later turns of its event loop.
      await waitFor(() => sink.messages.length >= 2, { what: 'both datagrams at the Wazuh socket', timeoutMs: 5000 });
      assert.equal(sink.messages.length, 2);
      const trimmed = sink.messages.map((m) => JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as Record<string, any>).find((e) => e['aws'].id === 'huge-one')!;
      assert.ok(Buffer.byteLength(sink.messages.find((m) => m.includes('"huge-one"'))!) <= 65_535);
      assert.equal(trimmed['aws'].truncated, true);
      for (const field of ['source', 'severity', 'title', 'type', 'description']) assert.deepEqual(trimmed['aws'][field], field === 'source' ? 'guardduty' : (big as any)[field]);
      assert.deepEqual(trimmed['aws'].service.action, JSON.parse(JSON.stringify((big as any).service.action)));
      assert.deepEqual(trimmed['aws'].truncation, [{ path: 'aws.resource', removed: Object.keys((big as any).resource).length, of: Object.keys((big as any).resource).length }], 'what was cut: the largest member outside what is kept');
      const whole = eventsFromLines(readFileSync(file, 'utf8')).find((e) => e['aws'].id === 'huge-one')!;
      assert.equal(whole['aws'].description.length, 40_000);
      assert.equal(whole['aws'].truncated, undefined);
      const line = logs.find((l) => l['level'] === 20 && String(l['msg']).includes('is more than analysisd reads whole'))!;
      assert.equal(line['key'], key);
      assert.equal(line['findingId'], 'huge-one');
      assert.ok((line['bytes'] as number) > 65_535);
      assert.match(String(line['msg']), /cut: aws\.resource \d+ of \d+/);
    } finally {
      sink.close();
      await h.stop();
    }
  });
});
