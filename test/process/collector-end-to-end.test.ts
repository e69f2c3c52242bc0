// The collector end to end as a process: a pass that fails exits 1, stdout carries events, stderr holds no
// credential even at trace, a daemon runs on its interval and takes SIGHUP and SIGTERM, and a full Wazuh
// queue (a receiver in another process, slow to read) is waited for, nothing dropped. The pass itself
// over odd, bad and corrupt objects, options and outputs, run in this process: collector-pass.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FAKE_AWS_ENV, runCli, startCli, writeConfig } from '../../support/cli.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { useFakeS3 } from '../../support/s3.js';
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

describe('options', () => {
  test('a bucket that does not exist fails the pass with exit 1 naming it', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-no-such-bucket', endpoint: fake.s3.endpoint }]);
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'stdout']);
    assert.equal(result.code, 1);
    assert.ok(result.logs.some((l) => l['level'] === 50 && String(l['msg']).includes('s3://gd-no-such-bucket')), result.stderr);
  });
});

describe('outputs', () => {

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
