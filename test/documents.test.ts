import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DocumentSplitter } from '../src/decode/documents.js';
import { random } from './helpers/random.js';

function split(chunks: Array<string | Buffer>, maxBytes?: number) {
  const values: Array<[unknown, number]> = [];
  const malformed: Array<[number, string]> = [];
  const splitter = new DocumentSplitter(
    { value: (v, line) => values.push([v, line]), malformed: (line, reason) => malformed.push([line, reason]) },
    maxBytes,
  );
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  splitter.end();
  return { values, malformed };
}

/** Every way of cutting `text` into two chunks gives the same result as one chunk. */
function everySplit(text: string) {
  const whole = split([text]);
  const bytes = Buffer.from(text);
  for (let i = 1; i < bytes.length; i++) assert.deepEqual(split([bytes.subarray(0, i), bytes.subarray(i)]), whole, `cut at ${i}`);
  return whole;
}

describe('document framing', () => {
  test('JSON lines, concatenated documents and pretty-printed documents, cut anywhere', () => {
    const { values, malformed } = everySplit('{"a":1}\n{"b":"}{"}{"c":[1,{"d":"\\"}"}]}\n\n  {\n  "e": 2\n}\n');
    assert.deepEqual(values, [[{ a: 1 }, 1], [{ b: '}{' }, 2], [{ c: [1, { d: '"}' }] }, 2], [{ e: 2 }, 4]]);
    assert.deepEqual(malformed, []);
  });

  test('a raw newline between tokens inside a document', () => {
    assert.deepEqual(split(['{"a":\n1,"b":\r\n2}']).values, [[{ a: 1, b: 2 }, 1]]);
  });

  test('multi-byte UTF-8 split across chunks', () => {
    const bytes = Buffer.from('{"city":"Zürich 東京"}');
    for (let i = 1; i < bytes.length; i++) {
      assert.deepEqual(split([bytes.subarray(0, i), bytes.subarray(i)]).values, [[{ city: 'Zürich 東京' }, 1]]);
    }
  });

  test('text outside documents is reported once per line and skipped', () => {
    const { values, malformed } = split(['garbage here\n{"a":1}\nmore\n']);
    assert.deepEqual(values, [[{ a: 1 }, 2]]);
    assert.deepEqual(malformed.map(([line]) => line), [1, 3]);
  });

  test('a cut-off line does not swallow the lines after it', () => {
    const { values, malformed } = split(['{"a":1}\n{"b":"unterminated\n{"c":3}\n{"d":4}\n']);
    assert.deepEqual(values.map(([v]) => v), [{ a: 1 }, { c: 3 }, { d: 4 }]);
    assert.deepEqual(values.map(([, line]) => line), [1, 3, 4]);
    assert.equal(malformed.length, 1);
    assert.equal(malformed[0]![0], 2);
  });

  test('a document cut off at the end of the object is reported', () => {
    const { values, malformed } = split(['{"a":1}{"b":[1,2']);
    assert.deepEqual(values.map(([v]) => v), [{ a: 1 }]);
    assert.match(malformed[0]![1], /cut off/);
  });

  test('whole lines parsed at once and the byte scanner agree, on 2,000 seeded damaged inputs', () => {
    // Pushed one byte at a time, no document fits in a chunk, so only the byte scanner runs; in one
    // chunk, whole lines and `}{`-joined documents take the fast path and fall back when they do not parse.
    const next = random(6);
    const pieces = ['{"a":1}', '{"s":"}{"}', '[1,{"b":[]}]', '\n', '\r\n', '}{', '{', '}', '"', '\\', ' ', 'x', '{"n":null,"t":"\\u00e9"}'];
    let fastPathUsed = 0;
    for (let round = 0; round < 2000; round++) {
      const text = Array.from({ length: 1 + Math.floor(next() * 12) }, () => pieces[Math.floor(next() * pieces.length)]!).join('');
      const bytes = Buffer.from(text);
      const whole = split([bytes]);
      const byByte = split(Array.from(bytes, (byte) => Buffer.of(byte)));
      assert.deepEqual(whole, byByte, JSON.stringify(text));
      if (whole.values.length > 0) fastPathUsed++;
    }
    assert.ok(fastPathUsed > 500, `${fastPathUsed} inputs had documents`);
  });

  test('a document over the size cap fails the object as soon as it passes the cap', () => {
    const big = `{"ok":1}\n{"x":"${'y'.repeat(5000)}"}`;
    assert.throws(() => split([big.slice(0, 2000), big.slice(2000)], 1024), /line 2 is larger than the cap of 1024 bytes \(--max-document-bytes\)/);
    assert.throws(() => split([big], 1024), /larger than the cap of 1024 bytes/);
  });
});
