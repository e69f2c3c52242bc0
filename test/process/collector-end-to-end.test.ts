import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { DatagramSink } from '../helpers/wazuh-queue.js';
import { FAKE_AWS_ENV, runCli, startCli, writeConfig } from '../../support/cli.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy, type SeenRequest } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { stateRows } from '../helpers/state.js';
import { waitFor, waitForLog, waitForProcess, within } from '../helpers/wait.js';

const ACCOUNT = '444444444444';
const REGION = 'us-west-2';

const fake = useFakeS3();

function finding(id: string) {
  return makeFinding(ACCOUNT, REGION, id);
}

interface Setup {
  dir: string;
  out: string;
  state: string;
  args: string[];
}

function setup(bucket: string, extra = '', wodleOptions = ''): Setup {
  const dir = tempDir();
  fake.s3.createBucket(bucket);
  const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra }], wodleOptions);
  const out = join(dir, 'events.jsonl');
  const state = join(dir, 'state.db');
  return { dir, out, state, args: ['--config', config, '--once', '--state', state, '--output', `file:${out}`] };
}

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}


function logsMatching(logs: Array<Record<string, unknown>>, pattern: RegExp) {
  return logs.filter((l) => pattern.test(String(l['msg'])));
}

describe('objects that are not plain findings', () => {
  test('zero-byte objects and folder keys count as nothing to read; keys outside the layout are ignored', async () => {
    const bucket = 'gd-odd-keys';
    const s = setup(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'empty.jsonl.gz'), Buffer.alloc(0));
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'folder/'), Buffer.alloc(0));
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'deeper/x.jsonl.gz'), jsonlGz([finding('outside')]));
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'real.jsonl.gz'), jsonlGz([finding('inside')]));
    const result = await runCli(s.args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsIn(s.out), ['inside']);
    assert.deepEqual(
      stateRows(s.state).map((r) => [r.key.split('/').pop(), r.status, r.events]),
      [
        ['empty.jsonl.gz', 'done', 0],
        ['real.jsonl.gz', 'done', 1],
      ],
    );
    assert.equal(logsMatching(result.logs, /error|fail/i).filter((l) => l['level'] as number >= 50).length, 0);
  });

  test('a bad line inside an object: the other findings are delivered, the line is reported with key and number', async () => {
    const bucket = 'gd-bad-line';
    const s = setup(bucket);
    const key = nativeKey(ACCOUNT, REGION, today());
    const text = `${JSON.stringify(finding('one'))}\n{"id":"torn\n${JSON.stringify(finding('two'))}\n`;
    await fake.s3.put(bucket, key, gzipSync(text));
    const result = await runCli(s.args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsIn(s.out), ['one', 'two']);
    const errors = result.logs.filter((l) => l['level'] === 50);
    assert.equal(errors.length, 1);
    assert.ok(String(errors[0]!['msg']).includes(`${key} line 2`), String(errors[0]!['msg']));
    assert.deepEqual(stateRows(s.state).map((r) => [r.status, r.events, r.malformed]), [['done', 2, 1]]);
  });

  test('a corrupt object under skip_on_error: reported with its key, recorded as failed, retried up to --max-attempts, the rest delivered once', async () => {
    const bucket = 'gd-corrupt-skip';
    const s = setup(bucket);
    const args = [...s.args, '--max-attempts', '2'];
    const bad = nativeKey(ACCOUNT, REGION, today(), '0-bad.jsonl.gz');
    const good = jsonlGz([finding('good')]);
    await fake.s3.put(bucket, bad, Buffer.concat([good.subarray(0, 10), Buffer.from('this is not deflate data at all')]));
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), '1-good.jsonl.gz'), good);
    const errorsOf = (logs: Array<Record<string, unknown>>) => logs.filter((l) => l['level'] === 50).map((l) => String(l['msg']));

    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(idsIn(s.out), ['good']);
    const [error] = errorsOf(first.logs);
    assert.equal(errorsOf(first.logs).length, 1);
    assert.ok(error!.includes(`s3://${bucket}/${bad}`), error);
    assert.match(error!, /not valid gzip.*skip_on_error.*attempt 1 of 2/);
    const failed = stateRows(s.state).find((r) => r.key === bad)!;
    assert.equal(failed.status, 'failed');
    assert.match(failed.error!, /gzip/);

    const second = await runCli(args);
    assert.equal(second.code, 0);
    assert.match(errorsOf(second.logs).join('\n'), /left failed after 2 attempts/);
    const third = await runCli(args);
    assert.equal(third.code, 0);
    assert.deepEqual(errorsOf(third.logs), []);
    assert.deepEqual(idsIn(s.out), ['good']);
    assert.equal(stateRows(s.state).find((r) => r.key === bad)!.status, 'failed');
  });

  test('a corrupt object without skip_on_error: exit 1, never recorded done, and it is tried again next pass', async () => {
    const bucket = 'gd-corrupt-strict';
    const s = setup(bucket, '', '<skip_on_error>no</skip_on_error>');
    const bad = nativeKey(ACCOUNT, REGION, today(), 'bad.jsonl.gz');
    await fake.s3.put(bucket, bad, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]));
    for (let pass = 0; pass < 3; pass++) {
      const result = await runCli([...s.args, '--max-attempts', '1']);
      assert.equal(result.code, 1);
      assert.ok(result.stderr.includes(bad));
      assert.deepEqual(stateRows(s.state).map((r) => r.status), ['failed']);
    }
  });
});

describe('options', () => {
  test('discard_regex drops matching findings; remove_from_bucket deletes only what was recorded done', async () => {
    const bucket = 'gd-discard-remove';
    const s = setup(bucket, '<discard_regex field="id">drop-</discard_regex>\n<remove_from_bucket>yes</remove_from_bucket>');
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('keep-1'), finding('drop-1')]));
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('keep-2')]));
    const corrupt = nativeKey(ACCOUNT, REGION, today(), 'corrupt.jsonl.gz');
    await fake.s3.put(bucket, corrupt, Buffer.from([0x1f, 0x8b, 0, 0]));
    const stray = `AWSLogs/${ACCOUNT}/GuardDuty/${REGION}/notes.txt`;
    await fake.s3.put(bucket, stray, 'not an export');
    const result = await runCli(s.args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsIn(s.out).sort(), ['keep-1', 'keep-2']);
    const summary = logsMatching(result.logs, /^bucket pass/)[0]!;
    assert.equal(summary['discarded'], 1);
    assert.equal(summary['deleted'], 2);
    assert.deepEqual((await fake.s3.keys(bucket)).sort(), [corrupt, stray].sort());
  });

  test('path, path_suffix and account discovery: folders that are not accounts or regions are ignored', async () => {
    const bucket = 'gd-org-path';
    const s = setup(bucket, '<path>exports/guardduty</path>\n<path_suffix>o-abc123</path_suffix>');
    const prefix = 'exports/guardduty/AWSLogs/o-abc123/';
    const key = (account: string, region: string, id: string) =>
      `${prefix}${account}/GuardDuty/${region}/${today().replaceAll('-', '/')}/${id}.jsonl.gz`;
    await fake.s3.put(bucket, key('555555555555', 'eu-north-1', 'a'), jsonlGz([finding('a')]));
    await fake.s3.put(bucket, key('666666666666', 'sa-east-1', 'b'), jsonlGz([finding('b')]));
    await fake.s3.put(bucket, key('not-an-account', 'sa-east-1', 'c'), jsonlGz([finding('c')]));
    await fake.s3.put(bucket, key('666666666666', 'NOT_A_REGION', 'd'), jsonlGz([finding('d')]));
    await fake.s3.put(bucket, `AWSLogs/777777777777/GuardDuty/us-east-1/${today().replaceAll('-', '/')}/e.jsonl.gz`, jsonlGz([finding('e')]));
    const result = await runCli(s.args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsIn(s.out).sort(), ['a', 'b']);
    assert.equal(logsMatching(result.logs, /^bucket pass/)[0]!['partitions'], 2);
  });

  test('listing pages past 1,000 keys in one day folder', async () => {
    const bucket = 'gd-pages';
    const s = setup(bucket);
    const body = jsonlGz([finding('same')]);
    await Promise.all(Array.from({ length: 1010 }, (_, i) => fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), `${String(i).padStart(5, '0')}.jsonl.gz`), body)));
    const result = await runCli(s.args);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(idsIn(s.out).length, 1010);
  });

  test('objects are fetched --concurrency at a time, even within one partition', async () => {
    const bucket = 'gd-concurrency';
    const s = setup(bucket);
    await Promise.all(Array.from({ length: 30 }, (_, i) => fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), `${i}.jsonl.gz`), jsonlGz([finding(`c${i}`)]))));
    let inFlight = 0;
    let most = 0;
    const isGet = (r: SeenRequest) => r.method === 'GET' && !r.url.includes('list-type=');
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      delayMs: (r) => {
        if (isGet(r)) most = Math.max(most, ++inFlight);
        // Deliberately slow reads (100 ms), so that reads overlap as far as --concurrency lets them.
        return isGet(r) ? 100 : 0;
      },
      answered: (r) => {
        if (isGet(r)) inFlight--;
      },
    });
    try {
      const config = writeConfig(s.dir, [{ name: bucket, endpoint: proxy.endpoint }]);
      for (const concurrency of [1, 8]) {
        most = 0;
        const state = join(s.dir, `state-${concurrency}.db`);
        const result = await runCli(['--config', config, '--once', '--state', state, '--output', `file:${s.out}`, '--concurrency', String(concurrency)]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(most, concurrency, `at most ${concurrency} objects read at once, and that many when there is work`);
      }
      assert.equal(idsIn(s.out).length, 60);
    } finally {
      await proxy.stop();
    }
  });

  test('an empty bucket is read as an empty Firehose layout', async () => {
    const bucket = 'gd-empty';
    const s = setup(bucket);
    const result = await runCli(s.args);
    assert.equal(result.code, 0, result.stderr);
    const summary = logsMatching(result.logs, /^bucket pass/)[0]!;
    assert.equal(summary['layout'], 'firehose');
    assert.equal(summary['listed'], 0);
  });

  test('a bucket that does not exist fails the pass with exit 1 naming it', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-no-such-bucket', endpoint: fake.s3.endpoint }]);
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'stdout']);
    assert.equal(result.code, 1);
    assert.ok(result.logs.some((l) => l['level'] === 50 && String(l['msg']).includes('s3://gd-no-such-bucket')), result.stderr);
  });
});

describe('outputs', () => {
  test('an event over 64 KiB is trimmed for the Wazuh socket, keeping what the rules read; the file gets it whole', async () => {
    const bucket = 'gd-big-event';
    const s = setup(bucket);
    const base = finding('huge-one') as Record<string, unknown>;
    const big = {
      ...base,
      description: 'x'.repeat(40_000),
      resource: { ...(base['resource'] as object), notes: Array.from({ length: 500 }, (_, i) => `note number ${i} `.repeat(8)) },
    };
    const key = nativeKey(ACCOUNT, REGION, today());
    await fake.s3.put(bucket, key, jsonlGz([big, finding('small')]));
    const socketPath = join(s.dir, 'queue');
    const sink = new DatagramSink(socketPath);
    try {
      const result = await runCli([...s.args, '--output', `wazuh:${socketPath}`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(sink.messages.length, 2);
      const trimmed = sink.messages.map((m) => JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as Record<string, any>).find((e) => e['aws'].id === 'huge-one')!;
      assert.ok(Buffer.byteLength(sink.messages.find((m) => m.includes('"huge-one"'))!) <= 65_536);
      assert.equal(trimmed['aws'].truncated, true);
      for (const field of ['source', 'severity', 'title', 'type']) assert.deepEqual(trimmed['aws'][field], field === 'source' ? 'guardduty' : (big as any)[field]);
      assert.deepEqual(trimmed['aws'].service.action, JSON.parse(JSON.stringify((big as any).service.action)));
      const whole = eventsFromLines(readFileSync(s.out, 'utf8')).find((e) => e['aws'].id === 'huge-one')!;
      assert.equal(whole['aws'].description.length, 40_000);
      assert.equal(whole['aws'].truncated, undefined);
      const warning = result.logs.find((l) => l['level'] === 40 && String(l['msg']).includes('larger than analysisd reads'))!;
      assert.equal(warning['key'], key);
      assert.equal(warning['findingId'], 'huge-one');
      assert.ok((warning['bytes'] as number) > 65_536);
    } finally {
      sink.close();
    }
  });

  test('unix: stream socket and stdout carry one JSON event per line; file and stdout agree', async () => {
    const bucket = 'gd-stream';
    const s = setup(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('s1'), finding('s2'), finding('s3')]));
    const socketPath = join(s.dir, 'stream.sock');
    let received = '';
    let connections = 0;
    let open = 0;
    const server = createServer((socket) => {
      connections++;
      open++;
      socket.on('close', () => open--);
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const result = await runCli([...s.args, '--output', `unix:${socketPath}`, '--output', 'stdout']);
      assert.equal(result.code, 0, result.stderr);
      // Everything the collector sent has been read once its connection is closed on this side too.
      await waitFor(() => connections > 0 && open === 0, { what: 'the unix: stream connection to be read to its end', timeoutMs: 5000 });
      assert.deepEqual(eventsFromLines(received).map((e) => e['aws'].id), ['s1', 's2', 's3']);
      assert.equal(result.stdout, readFileSync(s.out, 'utf8'));
      assert.equal(result.stdout, received);
    } finally {
      server.close();
    }
  });

  test('no credential reaches the logs, even at trace level', async () => {
    const bucket = 'gd-trace';
    const s = setup(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('t')]));
    const result = await runCli([...s.args, '--log-level', 'trace']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.logs.length > 3);
    assert.ok(!result.stderr.includes(FAKE_AWS_ENV.AWS_SECRET_ACCESS_KEY));
    assert.ok(!result.stderr.includes(FAKE_AWS_ENV.AWS_ACCESS_KEY_ID));
  });
});

describe('daemon mode', () => {
  test('runs at start and every interval, reopens file outputs on SIGHUP, stops cleanly on SIGTERM with exit 0', async () => {
    const bucket = 'gd-daemon';
    const s = setup(bucket, `<only_logs_after>${daysAgo(1)}</only_logs_after>`, '<interval>1s</interval>');
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([finding('first')]));
    const running = startCli(s.args.filter((a) => a !== '--once'));
    const expectEvents = async (file: string, ids: string[]) => {
      await waitForProcess(running, () => idsIn(file).length >= ids.length, { what: `events ${ids.join(', ')} in ${file}`, timeoutMs: 10_000 });
      assert.deepEqual(idsIn(file).sort(), ids);
    };
    await expectEvents(s.out, ['first']);
    const rotated = `${s.out}.1`;
    renameSync(s.out, rotated);
    running.child.kill('SIGHUP');
    // The new object goes up only once the output was reopened: the SIGHUP was taken and the file is back.
    await waitForLog(running, (l) => String(l['msg']).startsWith('SIGHUP: reopening file outputs'), { what: 'the SIGHUP to be taken', timeoutMs: 5000 });
    await waitForProcess(running, () => existsSync(s.out), { what: `${s.out} to be opened again after SIGHUP`, timeoutMs: 5000 });
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, daysAgo(1)), jsonlGz([finding('second')]));
    await expectEvents(s.out, ['second']);
    running.child.kill('SIGTERM');
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(idsIn(rotated), ['first']);
    assert.deepEqual(idsIn(s.out), ['second']);
    assert.ok(result.logs.some((l) => String(l['msg']).startsWith('stopping')));
  });
});

describe('a full Wazuh queue', () => {
  test('EAGAIN from a queue analysisd is slow to read: waited for with backoff, counted, nothing dropped', async () => {
    const bucket = 'gd-queue-full';
    const s = setup(bucket);
    const ids = Array.from({ length: 300 }, (_, i) => `q${i}`);
    for (let o = 0; o < 10; o++) await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz(ids.slice(o * 30, o * 30 + 30).map(finding)));
    const socketPath = join(s.dir, 'queue');
    // A receiver that reads nothing for a second, then everything, like a busy analysisd. The sleep is
    // the point of the test (the queue fills up); it counts until told on stdin that the sender is done,
    // then reads what is still queued and says how many it got.
    const receiver = spawn('python3', [
      '-c',
      `import select, socket, time, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('ready', flush=True)
time.sleep(1.0)  # deliberate: analysisd busy, nothing read, the queue fills
n = 0
while True:
    readable, _, _ = select.select([s, sys.stdin], [], [])
    if s in readable:
        s.recv(262144)
        n += 1
    elif sys.stdin in readable:
        break
s.setblocking(False)
try:
    while True:
        s.recv(262144)
        n += 1
except BlockingIOError:
    pass
print(n, flush=True)`,
      socketPath,
    ]);
    const receiverClosed = new Promise((resolve) => receiver.on('close', resolve));
    let said = '';
    receiver.stdout.setEncoding('utf8').on('data', (chunk: string) => (said += chunk));
    await waitFor(() => said.includes('ready'), { what: 'the receiver to bind its socket', timeoutMs: 5000 });
    const result = await runCli([...s.args, '--output', `wazuh:${socketPath}`]);
    // The collector has exited, so all it sent is queued: the receiver may read to the end and count.
    receiver.stdin.end('done\n');
    await within(receiverClosed, 10_000, 'the receiver to count what it received');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(Number(said.trim().split('\n').pop()), ids.length, 'every datagram was received');
    const waits = result.logs.filter((l) => l['level'] === 40 && /was full \d+ times; waited for analysisd, nothing dropped/.test(String(l['msg'])));
    assert.ok(waits.length > 0);
    assert.ok(waits.reduce((sum, l) => sum + (l['retries'] as number), 0) > 0);
  });
});
