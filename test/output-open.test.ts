// An output asked to open by several callers at once (issue 22): the bucket pass and the SQS subscribers
// of a run open the outputs at the same moment. Each output opens once — one descriptor, one
// connection — and closing it leaves nothing open. Counted for real: /proc/self/fd for the process's
// descriptors, /proc/net/unix for the connections a listening socket was given. The CLI's --once with a
// bucket and a subscriber: process/output-open-once.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { createOutput, Outputs, type OutputSpec } from '../src/emit/index.js';
import type { EncodedEvent } from '../src/event-batch.js';
import { DatagramSink } from './helpers/wazuh-queue.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { waitFor } from './helpers/wait.js';
import { descriptors } from './helpers/descriptors.js';
const silent = pino({ level: 'silent' });


/** Unix sockets bound to `path`: the listening one, and one per connection made to it (accepted or not yet). */
function unixSocketsAt(path: string): number {
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(` ${path}`)).length;
}

/** The pass and the subscribers of one run, and an output's own write, asking at once. */
async function openFromEverywhere(spec: OutputSpec): Promise<Outputs> {
  const outputs = new Outputs([createOutput(spec, silent, { timeoutMs: 5000, engineAgent: { id: '000', name: 'test' } })]);
  await Promise.all([outputs.open(), outputs.open(), outputs.list[0]!.open(), outputs.open()]);
  return outputs;
}

function events(id: string): EncodedEvent[] {
  return [{ json: JSON.stringify({ id }), findingId: id, fields: 1, rulesJson: '' }];
}

describe('outputs opened by several callers at once', () => {
  test('file: one descriptor, written once, none left after close', async () => {
    const path = join(tempDir(), 'events.jsonl');
    const outputs = await openFromEverywhere({ kind: 'file', path });
    assert.equal(descriptors((target) => target === path), 1);
    await outputs.deliver(events('one'), { bucket: 'b', key: 'k' });
    await outputs.close();
    assert.equal(descriptors((target) => target === path), 0);
    assert.deepEqual(eventsFromLines(readFileSync(path, 'utf8')), [{ id: 'one' }]);
  });

  test('unix: one connection, closed by close', async () => {
    const path = join(tempDir(), 'peer.sock');
    const peers: Socket[] = [];
    const received: string[] = [];
    const server = createServer((socket) => {
      peers.push(socket);
      socket.setEncoding('utf8').on('data', (chunk: string) => received.push(chunk));
      socket.on('end', () => socket.end());
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const outputs = await openFromEverywhere({ kind: 'unix', path });
      // The listening socket and one connection: the kernel makes the peer's end at connect(), before any accept.
      assert.equal(unixSocketsAt(path), 2);
      await outputs.deliver(events('one'), { bucket: 'b', key: 'k' });
      await outputs.close();
      await waitFor(() => unixSocketsAt(path) === 1, { what: 'every connection to the peer to be closed' });
      assert.equal(peers.length, 1);
      assert.equal(received.join(''), '{"id":"one"}\n');
    } finally {
      server.close();
    }
  });

  test('wazuh: one datagram socket, closed by close', async () => {
    const path = join(tempDir(), 'queue');
    const sink = new DatagramSink(path);
    try {
      const sockets = () => descriptors((target) => target.startsWith('socket:'));
      const before = sockets();
      const outputs = await openFromEverywhere({ kind: 'wazuh', path });
      assert.equal(sockets() - before, 1);
      await outputs.deliver(events('one'), { bucket: 'b', key: 'k' });
      await outputs.close();
      assert.equal(sockets() - before, 0);
      await waitFor(() => sink.messages.length === 1, { what: 'the datagram' });
    } finally {
      sink.close();
    }
  });

  test('a close while an open is under way closes what that open opened', async () => {
    const path = join(tempDir(), 'events.jsonl');
    const output = createOutput({ kind: 'file', path }, silent, { timeoutMs: 5000, engineAgent: { id: '000', name: 'test' } });
    const opened = output.open();
    await output.close();
    await opened;
    assert.equal(descriptors((target) => target === path), 0);
  });
});
