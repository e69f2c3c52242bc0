// Fault suites: the state rule of CONTRACT.md — nothing recorded as done that was not delivered, nothing
// lost, at worst the object in flight read again — checked under kills, output outages and S3 faults.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import unix from 'unix-dgram';
import { DatagramSink } from '../helpers/wazuh-queue.js';
import { runCli, startCli, writeConfig, type Running } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy, s3Error } from '../../support/proxy.js';
import { random } from '../helpers/random.js';
import { useFakeS3 } from '../../support/s3.js';
import { waitFor, waitForProcess } from '../helpers/wait.js';
import { StateStore } from '../../src/state/store.js';
import { stateRows } from '../helpers/state.js';

const fake = useFakeS3();
const ACCOUNT = '121212121212';
const REGION = 'us-east-2';

interface Dataset {
  bucket: string;
  ids: string[];
  keys: string[];
}

async function dataset(bucket: string, objects: number, perObject: number): Promise<Dataset> {
  fake.s3.createBucket(bucket);
  const ids: string[] = [];
  const keys: string[] = [];
  await Promise.all(
    Array.from({ length: objects }, async (_, o) => {
      const findings = Array.from({ length: perObject }, (_, f) => makeFinding(ACCOUNT, REGION, `${bucket}-${o}-${f}`));
      const key = nativeKey(ACCOUNT, REGION, today(), `${String(o).padStart(5, '0')}.jsonl.gz`);
      ids.push(...findings.map((f) => f.id));
      keys.push(key);
      await fake.s3.put(bucket, key, jsonlGz(findings));
    }),
  );
  return { bucket, ids: ids.sort(), keys: keys.sort() };
}

function setup(bucket: string, endpoint = fake.s3.endpoint, wodle = '') {
  const dir = tempDir();
  const config = writeConfig(dir, [{ name: bucket, endpoint }], wodle);
  const state = join(dir, 'state.db');
  return { dir, state, base: ['--config', config, '--once', '--state', state] };
}

function doneKeys(state: string): Set<string> {
  const db = new Database(state, { readonly: true });
  try {
    return new Set((db.prepare("SELECT key FROM objects WHERE status = 'done'").all() as Array<{ key: string }>).map((r) => r.key));
  } finally {
    db.close();
  }
}

/** Events as [finding id, object key], from JSON lines; a torn line fails the test. */
function parseLines(text: string, what: string): Array<[string, string]> {
  if (text === '') return [];
  assert.ok(text.endsWith('\n'), `${what} ends in a torn line`);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const event = JSON.parse(line) as { aws: { id: string; log_info: { log_file: string } } };
      return [event.aws.id, event.aws.log_info.log_file];
    });
}

function count<T>(items: T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}

/** Every object recorded done had all its events delivered. */
function assertDoneWereDelivered(done: Set<string>, delivered: Array<[string, string]>, data: Dataset, perObject: number): void {
  const perKey = count(delivered.map(([, key]) => key));
  for (const key of done) assert.ok((perKey.get(key) ?? 0) >= perObject, `${key} is recorded done but only ${perKey.get(key) ?? 0} of its events were delivered`);
  assert.ok([...done].every((key) => data.keys.includes(key)));
}

/** Every thread of process `pid` is stopped (it took its SIGSTOP), as /proc tells. */
function isStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // "tid (comm) S …": the state follows the last parenthesis (comm may hold any character).
      return stat[stat.lastIndexOf(')') + 2] === 'T';
    });
  } catch {
    return false; // a thread came or went while it was read: look again
  }
}

/**
 * Resolves once `sink` has read every datagram queued on its socket at `path` before this call: a
 * marker sent now is queued behind them, so they were all read when it arrives. The marker is then
 * taken out of `sink.messages`.
 */
async function drained(sink: DatagramSink, path: string): Promise<void> {
  const marker = `drain-marker-${randomUUID()}`;
  const client = unix.createSocket('unix_dgram');
  try {
    client.connect(path);
    let sent = false;
    await waitFor(
      async () => {
        // A full queue refuses it ("congestion"): send again while the sink reads on.
        sent ||= await new Promise<boolean>((resolve, reject) =>
          client.send(Buffer.from(marker), (err) => (err === undefined ? resolve(true) : err.message === 'congestion' ? resolve(false) : reject(err))),
        );
        return sent && sink.messages.includes(marker);
      },
      { what: `the datagrams queued on ${path} to be read`, timeoutMs: 10_000 },
    );
  } finally {
    client.close();
  }
  sink.messages.splice(sink.messages.indexOf(marker), 1);
}

describe('kill -9 at random points', () => {
  test('five seeded kills, then a full pass: every event present, duplicates only from objects in flight, no torn line', async () => {
    const perObject = 10;
    const data = await dataset('fault-kill', 300, perObject);
    const s = setup(data.bucket);
    const out = join(s.dir, 'events.jsonl');
    const args = [...s.base, '--output', `file:${out}`, '--concurrency', '4'];
    const next = random(20261129);
    const lineBytes = JSON.stringify(makeFinding(ACCOUNT, REGION, 'x')).length + 200;
    const totalBytes = data.ids.length * lineBytes;
    const thresholds = Array.from({ length: 5 }, () => Math.floor((0.05 + next() * 0.85) * totalBytes)).sort((a, b) => a - b);
    const inFlight = new Set<string>();
    let kills = 0;
    for (const threshold of thresholds) {
      const running = startCli(args);
      const size = () => (existsSync(out) ? statSync(out).size : 0);
      const exited = running.done.then(() => true);
      let finished = false;
      void exited.then(() => (finished = true));
      await waitFor(() => finished || size() >= threshold, { what: 'the kill point', timeoutMs: 20_000, intervalMs: 2 });
      if (!finished) {
        running.child.kill('SIGKILL');
        kills++;
      }
      await running.done;
      // Objects with events out but not recorded done were in flight at the kill.
      const done = doneKeys(s.state);
      const delivered = parseLines(readFileSync(out, 'utf8'), 'the output after a kill');
      for (const [, key] of delivered) if (!done.has(key)) inFlight.add(key);
      assertDoneWereDelivered(done, delivered, data, perObject);
    }
    assert.ok(kills >= 5, `${kills} kills landed`);
    const final = await runCli(args);
    assert.equal(final.code, 0, final.stderr);
    const events = parseLines(readFileSync(out, 'utf8'), 'the output');
    const perId = count(events.map(([id]) => id));
    assert.deepEqual([...perId.keys()].sort(), data.ids);
    for (const [id, key] of events) {
      if (perId.get(id)! > 1) assert.ok(inFlight.has(key), `${id} repeated, but its object ${key} was never in flight at a kill`);
    }
    const db = new Database(s.state, { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const rows = db.prepare('SELECT key, status FROM objects ORDER BY key').all() as Array<{ key: string; status: string }>;
      assert.deepEqual(rows.map((r) => r.key), data.keys);
      assert.ok(rows.every((r) => r.status === 'done'));
    } finally {
      db.close();
    }
    process.stdout.write(`# kill -9: ${kills} kills, ${events.length - data.ids.length} repeated events from ${inFlight.size} objects in flight\n`);
  });
});

describe('output outages', () => {
  const perObject = 5;

  test('the Wazuh socket absent: exit 1 naming it, nothing recorded; with the socket back every event arrives once', async () => {
    const dir = tempDir();
    const bucket = 'gd-socket-down';
    fake.s3.createBucket(bucket);
    const expected = ['a', 'b', 'c'].map((o) => `socket-down-${o}`);
    for (const id of expected) await fake.s3.put(bucket, nativeKey('111111111111', 'eu-west-1', today()), jsonlGz([makeFinding('111111111111', 'eu-west-1', id)]));
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

  test('the analysisd socket goes away mid-pass: exit 1 naming it; with it back, every event arrives once', async () => {
    const data = await dataset('fault-dgram', 60, perObject);
    const s = setup(data.bucket);
    const socketPath = join(s.dir, 'queue');
    const args = [...s.base, '--output', `wazuh:${socketPath}`, '--concurrency', '2'];
    const first = new DatagramSink(socketPath);
    const running = startCli(args);
    await waitForProcess(running, () => first.messages.length >= 80, { what: 'the first events', timeoutMs: 20_000, intervalMs: 2 });
    // Hold the collector still so that the queue can be read empty before the socket goes: what the
    // kernel took is then exactly what the receiver got.
    running.child.kill('SIGSTOP');
    await waitFor(() => isStopped(running.child.pid!), { what: 'the collector to stop on SIGSTOP', timeoutMs: 5000 });
    await drained(first, socketPath);
    first.close();
    rmSync(socketPath);
    running.child.kill('SIGCONT');
    const down = await running.done;
    assert.equal(down.code, 1);
    assert.ok(down.logs.some((l) => l['level'] === 50 && String(l['msg']).includes(`output wazuh:${socketPath}`)), down.stderr);
    const received = first.messages.map((m) => JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as { aws: { id: string; log_info: { log_file: string } } });
    assertDoneWereDelivered(doneKeys(s.state), received.map((e) => [e.aws.id, e.aws.log_info.log_file]), data, perObject);

    const second = new DatagramSink(socketPath);
    try {
      const up = await runCli(args);
      assert.equal(up.code, 0, up.stderr);
      const all = [...first.messages, ...second.messages].map((m) => (JSON.parse(m.slice('1:Wazuh-AWS:'.length)) as { aws: { id: string } }).aws.id);
      assert.equal(all.length, data.ids.length, 'each event once');
      assert.deepEqual(all.sort(), data.ids);
    } finally {
      second.close();
    }
  });

  async function streamPeer(path: string, onLine: (socket: Socket, lines: string[], stopListening: () => void) => void) {
    const lines: string[] = [];
    let open = 0;
    const server = createServer((socket) => {
      open++;
      socket.on('close', () => open--);
      // Each connection is a stream of its own: a line cut off when one ends is not continued by the next.
      let partial = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          onLine(socket, lines, () => server.close());
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return {
      lines,
      /** Resolves once every connection was read to its end and closed (the collector has gone). */
      readToEnd: () => waitFor(() => open === 0, { what: `the connections to ${path} to be read to their end`, timeoutMs: 5000 }),
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  const idsOf = (lines: string[]) => lines.map((l) => (JSON.parse(l) as { aws: { id: string } }).aws.id);
  const eventsOf = (lines: string[]): Array<[string, string]> =>
    lines.map((l) => {
      const e = JSON.parse(l) as { aws: { id: string; log_info: { log_file: string } } };
      return [e.aws.id, e.aws.log_info.log_file];
    });

  /** With a peer listening again, a rerun delivers the rest: with what the first peer got, each event once. */
  async function recoverOverStream(path: string, args: string[], before: string[], data: Dataset): Promise<void> {
    rmSync(path, { force: true });
    const again = await streamPeer(path, () => {});
    const up = await runCli(args);
    await again.readToEnd();
    await again.close();
    assert.equal(up.code, 0, up.stderr);
    const all = [...idsOf(before), ...idsOf(again.lines)];
    assert.equal(all.length, data.ids.length, 'each event once');
    assert.deepEqual(all.sort(), data.ids);
  }

  test('a unix: stream peer that closes mid-pass: exit 1 naming it; after recovery every event arrives once', async () => {
    const data = await dataset('fault-stream-close', 300, perObject);
    const s = setup(data.bucket);
    const path = join(s.dir, 'stream.sock');
    const args = [...s.base, '--output', `unix:${path}`, '--concurrency', '2'];
    let closed = false;
    // The peer goes away after 100 events: it stops listening and shuts its side of the connection,
    // still reading what it was already sent.
    const peer = await streamPeer(path, (socket, lines, stopListening) => {
      if (!closed && lines.length >= 100) {
        closed = true;
        stopListening();
        socket.end();
      }
    });
    const down = await runCli(args);
    await peer.readToEnd();
    await peer.close().catch(() => undefined);
    assert.equal(down.code, 1, `${peer.lines.length} lines; ${down.stderr.slice(-1500)}`);
    assert.ok(down.stderr.includes(`output unix:${path}`), down.stderr);
    assertDoneWereDelivered(doneKeys(s.state), eventsOf(peer.lines), data, perObject);
    await recoverOverStream(path, args, peer.lines, data);
  });

  test('a unix: stream peer that stops reading: exit 1 after --output-timeout; after recovery every event arrives once', async () => {
    const data = await dataset('fault-stream-stall', 200, perObject);
    const s = setup(data.bucket);
    const path = join(s.dir, 'stream.sock');
    const args = [...s.base, '--output', `unix:${path}`, '--output-timeout', '1'];
    let stalled: Socket | undefined;
    const peer = await streamPeer(path, (socket, lines) => {
      if (!stalled && lines.length >= 50) {
        stalled = socket;
        socket.pause();
      }
    });
    const started = Date.now();
    const down = await runCli(args);
    assert.equal(down.code, 1);
    assert.ok(Date.now() - started < 15_000);
    assert.match(down.stderr, new RegExp(`output unix:${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: write failed: the peer took nothing for 1 s`));
    // The peer reads what it was handed before it stalled; a line cut in half at the end is dropped, as
    // a line reader does at end of stream.
    stalled!.resume();
    await peer.readToEnd();
    await peer.close();
    assertDoneWereDelivered(doneKeys(s.state), eventsOf(peer.lines), data, perObject);
    await recoverOverStream(path, args, peer.lines, data);
  });

  test('a file: output that cannot be written (ENOSPC on /dev/full): exit 1 naming it, nothing recorded', async () => {
    const data = await dataset('fault-full', 10, perObject);
    const s = setup(data.bucket);
    const full = await runCli([...s.base, '--output', 'file:/dev/full']);
    assert.equal(full.code, 1);
    assert.match(full.stderr, /output file:\/dev\/full: write failed: .*ENOSPC/);
    assert.equal(doneKeys(s.state).size, 0);
    const out = join(s.dir, 'events.jsonl');
    const up = await runCli([...s.base, '--output', `file:${out}`]);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(parseLines(readFileSync(out, 'utf8'), 'the output').map(([id]) => id).sort(), data.ids);
  });

  test("a file: output whose directory is removed mid-pass: exit 1 naming it; after recovery every event arrives once", async () => {
    const data = await dataset('fault-rmdir', 200, perObject);
    const s = setup(data.bucket);
    const outDir = join(s.dir, 'out');
    mkdirSync(outDir);
    const out = join(outDir, 'events.jsonl');
    writeFileSync(out, '');
    // A second name for the same file, outside the directory, to read what was written before it went.
    const witness = join(s.dir, 'witness.jsonl');
    linkSync(out, witness);
    const args = [...s.base, '--output', `file:${out}`, '--concurrency', '2'];
    const running: Running = startCli(args);
    await waitForProcess(running, () => statSync(witness).size > 100_000, { what: 'the first events', timeoutMs: 20_000, intervalMs: 2 });
    running.child.kill('SIGSTOP');
    rmSync(outDir, { recursive: true });
    running.child.kill('SIGCONT');
    const down = await running.done;
    assert.equal(down.code, 1);
    assert.ok(down.stderr.includes(`output file:${out}`), down.stderr);
    const before = parseLines(readFileSync(witness, 'utf8'), 'the file before its directory went');
    assertDoneWereDelivered(doneKeys(s.state), before, data, perObject);
    mkdirSync(outDir);
    const up = await runCli(args);
    assert.equal(up.code, 0, up.stderr);
    const all = [...before, ...parseLines(readFileSync(out, 'utf8'), 'the new file')].map(([id]) => id);
    assert.equal(all.length, data.ids.length, 'each event once');
    assert.deepEqual(all.sort(), data.ids);
  });
});

describe('S3 faults through a fault-injecting proxy', () => {
  test('500/503 bursts, connection resets, bodies cut off and stalled: retried, nothing lost, nothing partial recorded', async () => {
    const perObject = 4;
    const data = await dataset('fault-s3', 40, perObject);
    const faults = (process.env['FAULTS']?.split(',') ?? ['burst', 'reset', 'cut', 'stall', 'none']) as Array<'burst' | 'reset' | 'cut' | 'stall' | 'none'>;
    const seen = new Map<string, number>();
    const injected = new Map<string, number>();
    let listings = 0;
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept(request) {
        if (request.url.includes('list-type=2')) {
          // Every third listing answers 503 twice before it goes through.
          listings++;
          return listings % 3 === 0 && listings % 2 === 1 ? s3Error(503, 'SlowDown', 'Please reduce your request rate.') : undefined;
        }
        if (request.method !== 'GET') return undefined;
        const attempt = (seen.get(request.url) ?? 0) + 1;
        seen.set(request.url, attempt);
        const index = data.keys.findIndex((k) => request.url.includes(encodeURI(k.split('/').pop()!)));
        const fault = faults[index % faults.length]!;
        if (fault === 'burst' && attempt <= 2) {
          injected.set(fault, (injected.get(fault) ?? 0) + 1);
          return s3Error(attempt === 1 ? 500 : 503, attempt === 1 ? 'InternalError' : 'SlowDown', 'We encountered an internal error. Please try again.');
        }
        if (attempt === 1 && (fault === 'reset' || fault === 'cut' || fault === 'stall')) {
          injected.set(fault, (injected.get(fault) ?? 0) + 1);
          return { fault };
        }
        return undefined;
      },
    });
    try {
      const s = setup(data.bucket, proxy.endpoint);
      const out = join(s.dir, 'events.jsonl');
      const result = await runCli([...s.base, '--output', `file:${out}`, '--s3-timeout', '1', '--concurrency', '4']);
      assert.equal(result.code, 0, result.stderr);
      const events = parseLines(readFileSync(out, 'utf8'), 'the output');
      assert.equal(events.length, data.ids.length, 'each event once');
      assert.deepEqual(events.map(([id]) => id).sort(), data.ids);
      for (const fault of faults.filter((f) => f !== 'none')) assert.ok((injected.get(fault) ?? 0) > 0, `${fault} was injected`);
      assert.ok(listings > 3);
      assert.equal(doneKeys(s.state).size, data.keys.length);
    } finally {
      await proxy.stop();
    }
  });
});

describe('state faults', () => {
  test('a read-only state file: exit 2 naming it, nothing emitted', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'unused', endpoint: 'http://127.0.0.1:9' }]);
    let state = join(dir, 'state.db');
    StateStore.open(state).close();
    chmodSync(state, 0o400);
    // root writes through any mode bits; a read-only sysfs file refuses even root.
    if (process.getuid?.() === 0) state = '/sys/kernel/notes';
    const result = await runCli(['--config', config, '--once', '--state', state, '--output', 'stdout']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`state ${state} cannot be opened for writing`));
    assert.equal(result.stdout, '');
  });

  test('a corrupt state file: exit 2 naming it, nothing emitted', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'unused', endpoint: 'http://127.0.0.1:9' }]);
    const state = join(dir, 'state.db');
    writeFileSync(state, Buffer.alloc(8192, 0x5a));
    const result = await runCli(['--config', config, '--once', '--state', state, '--output', 'stdout']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /is not a valid guardduty-wodle database/);
    assert.equal(result.stdout, '');
  });

  test('a state file held by another process (a StateStore open in this one): exit 2, nothing emitted', async () => {
    const dir = tempDir();
    const file = join(dir, 'state.db');
    const config = writeConfig(dir, [{ name: 'unused', endpoint: 'http://127.0.0.1:9' }]);
    const held = StateStore.open(file);
    try {
      const result = await runCli(['--config', config, '--once', '--state', file, '--output', 'stdout']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /in use by another guardduty-wodle process/);
      assert.equal(result.stdout, '');
    } finally {
      held.close();
    }
  });

  test('a state file locked by a running collector: exit 2 at once', async () => {
    const data = await dataset('fault-locked', 1, 1);
    const s = setup(data.bucket, fake.s3.endpoint, '<interval>1h</interval>');
    const daemon = startCli(s.base.filter((a) => a !== '--once').concat(['--output', `file:${join(s.dir, 'a.jsonl')}`]));
    await waitForProcess(daemon, () => existsSync(join(s.dir, 'a.jsonl')) && statSync(join(s.dir, 'a.jsonl')).size > 0, { what: 'the daemon to start', timeoutMs: 20_000 });
    const second = await runCli([...s.base, '--output', 'stdout']);
    daemon.child.kill('SIGTERM');
    assert.equal((await daemon.done).code, 0);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /in use by another guardduty-wodle process/);
    assert.equal(second.stdout, '');
  });
});
