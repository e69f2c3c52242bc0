import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import { throughTransform } from '../src/decode/transform.js';

/** A fast source of gzip bytes in 64 KiB chunks that counts what was taken from it. */
function source(data: Buffer) {
  const counter = { taken: 0, closed: false };
  async function* chunks() {
    try {
      for (let i = 0; i < data.length; i += 65536) {
        counter.taken += Math.min(65536, data.length - i);
        yield data.subarray(i, i + 65536);
      }
    } finally {
      counter.closed = true;
    }
  }
  return { counter, input: chunks() };
}

// Random bytes do not compress: what is read ahead shows directly as input taken.
const raw = Buffer.from(Array.from({ length: 8 * 1024 * 1024 }, (_, i) => (i * 2654435761) >>> 24));
const gz = gzipSync(raw, { level: 1 });

describe('inflating through a zlib transform', () => {
  test('output is whole and in order', async () => {
    const { input } = source(gz);
    const out: Buffer[] = [];
    for await (const chunk of throughTransform(createGunzip(), input)) out.push(chunk);
    assert.ok(Buffer.concat(out).equals(raw));
  });

  test('a slow consumer holds the input back: read-ahead stays bounded', async () => {
    const { counter, input } = source(gz);
    let consumed = 0;
    let mostAhead = 0;
    for await (const chunk of throughTransform(createGunzip(), input)) {
      consumed += chunk.length;
      // Compressed and inflated sizes are about equal here, so this is what sits in buffers.
      mostAhead = Math.max(mostAhead, counter.taken - consumed);
      if (consumed % (1024 * 1024) < chunk.length) await sleep(5);
    }
    assert.equal(consumed, raw.length);
    assert.ok(mostAhead < 512 * 1024, `read ahead ${mostAhead} bytes`);
  });

  test('a consumer that stops early closes the input; corrupt input fails', async () => {
    const { counter, input } = source(gz);
    for await (const _ of throughTransform(createGunzip(), input)) break;
    assert.equal(counter.closed, true);
    assert.ok(counter.taken < gz.length);
    const broken = Buffer.from(gz);
    broken.fill(0x55, 100, 200);
    await assert.rejects(async () => {
      for await (const _ of throughTransform(createGunzip(), source(broken).input)) void _;
    }, /invalid|incorrect|unknown/i);
  });
});
