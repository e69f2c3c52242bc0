// The wazuh-engine output (issue 23): a Wazuh 5.x manager's engine takes events over HTTP on a Unix
// socket. Collector passes in this process deliver to a stand-in engine written from the protocol
// (support/engine.ts), on a real socket with real HTTP, beside the 4.x datagram path.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { EngineOutput, REQUEST_LIMITS, engineHeader, engineSocketProblem, requestsOf } from '../src/emit/engine.js';
import { WazuhOutput } from '../src/emit/wazuh.js';
import { prefixedLines } from '../src/event-batch.js';
import { addDays } from '../src/walk/dates.js';
import { DatagramSink } from './helpers/wazuh-queue.js';
import { tempDir } from './helpers/files.js';
import { waitFor } from './helpers/wait.js';
import { EngineStandIn, parseBatch } from '../support/engine.js';
import { nativeKey } from '../support/findings.js';
import { inProcessBucket } from './helpers/harness.js';
import { stateRows } from './helpers/state.js';
import { useFakeS3 } from '../support/s3.js';

const fake = useFakeS3();
const DAY0 = '2026-08-01';
const ACCOUNT = '505050505050';
const REGION = 'us-west-2';
const AGENT = { id: '123', name: 'gd-collector' };
const silent = pino({ level: 'silent' });

function bucketXml() {
  return `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after>`;
}

function errorsOf(logs: Array<Record<string, unknown>>): string[] {
  return logs.filter((l) => Number(l['level']) >= 50).map((l) => String(l['msg']));
}

/** `count` objects of `findings` findings each; the finding ids, in no order. */
async function objects(h: { put(key: string, ids: string[]): Promise<unknown> }, count: number, findings: number, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let o = 0; o < count; o++) {
    const these = Array.from({ length: findings }, (_, f) => `${prefix}-${o}-${f}`);
    ids.push(...these);
    await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, 1)), these);
  }
  return ids;
}

function idsOf(events: string[]): string[] {
  return events.map((event) => (JSON.parse(event.slice('1:Wazuh-AWS:'.length)) as { aws: { id: string } }).aws.id);
}

describe('the engine\'s framing', () => {
  test('a batch is the header line, then E 1:Wazuh-AWS:<json> per event, every line ending in a newline', () => {
    const events = [
      { json: '{"a":1}', findingId: 'f1', fields: 1 },
      { json: '{"b":"é"}', findingId: 'f2', fields: 1 },
    ];
    const body = Buffer.concat([engineHeader(AGENT), prefixedLines(events.map((e) => e.json), 'E 1:Wazuh-AWS:')]).toString('utf8');
    assert.equal(body, 'H {"wazuh":{"agent":{"id":"123","name":"gd-collector"}}}\nE 1:Wazuh-AWS:{"a":1}\nE 1:Wazuh-AWS:{"b":"é"}\n');
    assert.deepEqual(parseBatch(body), { header: { wazuh: { agent: AGENT } }, events: ['1:Wazuh-AWS:{"a":1}', '1:Wazuh-AWS:{"b":"é"}'] });
  });
});

describe('requests of whole lines', () => {
  const text = (requests: Buffer[][]) => requests.map((request) => Buffer.concat(request).toString());
  test('batches go together up to the byte and event limits, cut at line ends; a line longer than the limit goes alone', () => {
    const batches = [Buffer.from('aaaa\nbb\n'), Buffer.from('cccccccc\nd\n')];
    assert.deepEqual(text(requestsOf(batches, { bytes: 8, events: 100 })), ['aaaa\nbb\n', 'cccccccc\n', 'd\n']);
    assert.deepEqual(text(requestsOf(batches, { bytes: 100, events: 100 })), ['aaaa\nbb\ncccccccc\nd\n']);
    assert.deepEqual(text(requestsOf(batches, { bytes: 3, events: 100 })), ['aaaa\n', 'bb\n', 'cccccccc\n', 'd\n']);
    assert.deepEqual(text(requestsOf(batches, { bytes: 100, events: 3 })), ['aaaa\nbb\ncccccccc\n', 'd\n']);
    assert.equal(text(requestsOf(batches, { bytes: 5, events: 2 })).join(''), 'aaaa\nbb\ncccccccc\nd\n', 'nothing lost or repeated');
  });
});

describe('the wazuh-engine output', () => {
  test('events reach the engine byte-equal to what the datagram path carries, in batches with the agent\'s header', async () => {
    const dir = tempDir();
    const engine = await EngineStandIn.start(join(dir, 'queue-http.sock'));
    const sink = new DatagramSink(join(dir, 'queue'));
    const h = await inProcessBucket(fake, 'engine-equal', bucketXml, {
      outputs: () => [new EngineOutput(engine.path, AGENT, 5000), new WazuhOutput(sink.path, silent)],
    });
    try {
      const ids = await objects(h, 20, 3, 'eq');
      const pass = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`);
      assert.equal(pass.summary.done, 20);
      await waitFor(() => sink.messages.length >= ids.length, { what: 'the datagrams to be read by the test\'s socket' });
      assert.deepEqual([...engine.events()].sort(), [...sink.messages].sort(), 'the same bytes as the datagrams');
      assert.deepEqual(idsOf(engine.events()).sort(), ids.sort());
      for (const batch of engine.batches) {
        assert.deepEqual(batch.header, { wazuh: { agent: AGENT } });
        assert.equal(batch.contentType, 'application/x-ndjson');
      }
    } finally {
      await h.stop();
      await engine.stop();
      sink.close();
    }
  });

  test('objects finishing together share a request, and no request is over 1 MiB', async () => {
    const dir = tempDir();
    const engine = await EngineStandIn.start(join(dir, 'queue-http.sock'));
    const h = await inProcessBucket(fake, 'engine-batches', bucketXml, { outputs: () => [new EngineOutput(engine.path, AGENT, 5000)] });
    try {
      const ids = await objects(h, 200, 1, 'many');
      // One object of 400 findings: some 7 MB of events, in many requests.
      ids.push(...(await objects(h, 1, 400, 'big')));
      const pass = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`, { concurrency: 32 });
      assert.equal(pass.summary.done, 201);
      assert.deepEqual(idsOf(engine.events()).sort(), ids.sort(), 'every event once');
      assert.ok(engine.batches.length < 200, `${engine.batches.length} requests for 201 objects`);
      const largest = Math.max(...engine.batches.map((b) => b.bytes));
      const header = engineHeader(AGENT).length;
      assert.ok(largest > 256 * 1024 && largest <= REQUEST_LIMITS.bytes + header, `largest request ${largest} bytes`);
      assert.ok(engine.batches.every((b) => b.events.length <= REQUEST_LIMITS.events));
    } finally {
      await h.stop();
      await engine.stop();
    }
  });

  test('a 400: the pass fails with the status and the engine\'s error, nothing is recorded; once it accepts, every event arrives', async () => {
    const dir = tempDir();
    const engine = await EngineStandIn.start(join(dir, 'queue-http.sock'));
    engine.mode = 'refuse';
    const h = await inProcessBucket(fake, 'engine-400', bucketXml, { expectOk: false, outputs: () => [new EngineOutput(engine.path, AGENT, 5000)] });
    try {
      const ids = await objects(h, 10, 2, 'refused');
      const refused = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`);
      assert.equal(refused.ok, false);
      assert.equal(stateRows(h.statePath).filter((r) => r.status === 'done').length, 0, 'nothing recorded');
      const errors = errorsOf(h.logs);
      assert.ok(
        errors.some((m) => m.includes("output wazuh-engine:") && m.includes("the engine refused the batch (HTTP 400: NDJson parser error, Expected 'E ' at event start)")),
        errors.join('\n'),
      );
      engine.mode = 'accept';
      const accepted = await h.pass(`${addDays(DAY0, 1)}T13:00:00Z`);
      assert.equal(accepted.ok, true);
      assert.deepEqual(idsOf(engine.events()).sort(), ids.sort(), 'every event, once');
    } finally {
      await h.stop();
      await engine.stop();
    }
  });

  for (const mode of ['router-gone', 'silent'] as const) {
    test(`${mode === 'silent' ? 'no answer within --output-timeout' : 'a 500 (its router gone)'}: the output is down, nothing recorded, the next pass delivers it all`, async () => {
      const dir = tempDir();
      const engine = await EngineStandIn.start(join(dir, 'queue-http.sock'));
      engine.mode = mode;
      const h = await inProcessBucket(fake, `engine-${mode}`, bucketXml, { expectOk: false, outputs: () => [new EngineOutput(engine.path, AGENT, 500)] });
      try {
        const ids = await objects(h, 6, 2, mode);
        const down = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`);
        assert.equal(down.ok, false);
        assert.equal(stateRows(h.statePath).filter((r) => r.status === 'done').length, 0);
        const expected = mode === 'silent' ? 'no answer in 0.5 s (--output-timeout)' : 'the engine is down (HTTP 500: Internal server error)';
        assert.ok(errorsOf(h.logs).some((m) => m.includes(expected)), errorsOf(h.logs).join('\n'));
        engine.mode = 'accept';
        assert.equal((await h.pass(`${addDays(DAY0, 1)}T13:00:00Z`)).ok, true);
        assert.deepEqual(idsOf(engine.events()).sort(), ids.sort());
      } finally {
        await h.stop();
        await engine.stop();
      }
    });
  }

  test('the engine stops in the middle of a pass and comes back: nothing is lost', async () => {
    const dir = tempDir();
    const engine = await EngineStandIn.start(join(dir, 'queue-http.sock'));
    const h = await inProcessBucket(fake, 'engine-restart', bucketXml, { expectOk: false, outputs: () => [new EngineOutput(engine.path, AGENT, 5000)] });
    try {
      const ids = await objects(h, 120, 2, 'restart');
      let stopping: Promise<void> | null = null;
      const watch = setInterval(() => {
        if (engine.batches.length >= 3 && stopping === null) stopping = engine.stop();
      }, 1);
      const first = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`, { concurrency: 4 });
      clearInterval(watch);
      await stopping;
      assert.equal(first.ok, false, 'the pass fails when the engine goes');
      const delivered = new Set(idsOf(engine.events()));
      const recorded = stateRows(h.statePath).filter((r) => r.status === 'done').length;
      assert.ok(recorded < 120, `${recorded} objects recorded before the engine went`);
      await engine.listen();
      assert.equal((await h.pass(`${addDays(DAY0, 1)}T13:00:00Z`)).ok, true);
      const after = idsOf(engine.events());
      assert.deepEqual([...new Set(after)].sort(), ids.sort(), 'every event arrived');
      assert.ok(delivered.size > 0);
      assert.equal(stateRows(h.statePath).filter((r) => r.status === 'done').length, 120);
    } finally {
      await h.stop();
      await engine.stop();
    }
  });

  test('a socket that is absent or not a socket is named, with what to do', () => {
    const dir = tempDir();
    assert.match(engineSocketProblem(join(dir, 'queue-http.sock'))!, /the engine socket .*queue-http\.sock does not exist \(is the Wazuh 5 manager \(wazuh-manager-analysisd\) running\?\)/);
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    assert.match(engineSocketProblem(file)!, /plain is not a socket/);
    mkdirSync(join(dir, 'sub'));
    assert.match(engineSocketProblem(join(dir, 'sub'))!, /is not a socket/);
  });
});
