// What bounds memory by design (README, Performance): objects inflated whole only within both caps,
// and no object decoded while the outputs still hold EVENT_BYTES_IN_FLIGHT of events.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { decompress } from '../src/decode/decompress.js';
import { EVENT_BYTES_IN_FLIGHT, Outputs, type Output } from '../src/emit/index.js';
import type { EventBatch } from '../src/event-batch.js';

async function* chunks(buffer: Buffer, size = 16 * 1024): AsyncGenerator<Buffer> {
  for (let at = 0; at < buffer.length; at += size) yield buffer.subarray(at, at + size);
}

async function inflated(gzip: Buffer, maxBytes?: number): Promise<{ bytes: Buffer; chunks: number }> {
  const { encoding, content } = await decompress(chunks(gzip), { maxBytes });
  assert.equal(encoding, 'gzip');
  const parts: Buffer[] = [];
  for await (const part of content) parts.push(part);
  return { bytes: Buffer.concat(parts), chunks: parts.length };
}

describe('gzip objects, whole or streamed', () => {
  test('a small object is inflated in one piece; a large one is streamed; both give every byte', async () => {
    const small = Buffer.from('{"id":"a"}\n'.repeat(2000));
    const whole = await inflated(gzipSync(small));
    assert.deepEqual(whole.bytes, small);
    assert.equal(whole.chunks, 1, 'one synchronous inflate');
    // Incompressible: past the 256 KiB of compressed bytes read whole.
    const large = randomBytes(600 * 1024);
    const streamed = await inflated(gzipSync(large));
    assert.deepEqual(streamed.bytes, large);
    assert.ok(streamed.chunks > 1, 'streamed in chunks');
  });

  test('a small object inflating past 4 MiB is streamed instead, under --max-object-bytes as ever', async () => {
    const spaces = Buffer.alloc(8 * 1024 * 1024, 0x20);
    const gzip = gzipSync(spaces);
    assert.ok(gzip.length < 256 * 1024);
    const result = await inflated(gzip, 16 * 1024 * 1024);
    assert.equal(result.bytes.length, spaces.length);
    assert.ok(result.chunks > 1);
    await assert.rejects(inflated(gzip, 1024 * 1024), /exceeds the cap of 1048576 bytes \(--max-object-bytes\)/);
  });

  test('members that follow one another are all inflated on the whole path too', async () => {
    const result = await inflated(Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')]));
    assert.equal(result.bytes.toString(), '{"a":1}\n{"b":2}\n');
    assert.equal(result.chunks, 1);
  });
});

/** An output that takes each batch only when the test lets it. */
class HeldOutput implements Output {
  readonly name = 'held';
  readonly eventOrder = 'wazuh' as const;
  readonly held: Array<() => void> = [];
  async open(): Promise<void> {}
  write(_batch: EventBatch): Promise<void> {
    return new Promise((resolve) => this.held.push(resolve));
  }
  async reopen(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('events in flight', () => {
  test(`no object starts decoding while the outputs hold ${EVENT_BYTES_IN_FLIGHT} bytes of events`, async () => {
    const output = new HeldOutput();
    const outputs = new Outputs([output]);
    const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ json: JSON.stringify({ id: i, pad: 'x'.repeat(1000) }), findingId: String(i), fields: 2, rulesJson: '' }));
    const source = { bucket: 'b', key: 'k' };
    await outputs.waitForRoom();
    const first = outputs.deliver(batch(600), source);
    await outputs.waitForRoom();
    const second = outputs.deliver(batch(600), source);
    let room = false;
    const waiting = outputs.waitForRoom().then(() => (room = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(room, false, 'over the bound: the next object waits');
    assert.equal(output.held.length, 2);
    output.held[0]!();
    await first;
    await waiting;
    assert.equal(room, true, 'room again once the output took a batch');
    output.held[1]!();
    await second;
  });

  test('a failed write frees its room too', async () => {
    const failing: Output = { name: 'failing', eventOrder: 'wazuh', open: async () => {}, write: async () => Promise.reject(new Error('disk full')), reopen: async () => {}, close: async () => {} };
    const outputs = new Outputs([failing], 10);
    await assert.rejects(outputs.deliver([{ json: 'x'.repeat(100), findingId: '', fields: 1, rulesJson: '' }], { bucket: 'b', key: 'k' }), /disk full/);
    const roomOrTimeout = await Promise.race([outputs.waitForRoom().then(() => 'room'), new Promise((resolve) => setTimeout(resolve, 2000, 'still waiting'))]);
    assert.equal(roomOrTimeout, 'room');
  });
});
