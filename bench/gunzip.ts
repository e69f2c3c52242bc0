// The gunzip comparison of `npm run bench`: node:zlib against zlib-sync, on the collector's own path.
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import zlibSync from 'zlib-sync';
import { DocumentSplitter } from '../src/decode/documents.js';
import { throughTransform } from '../src/decode/transform.js';
import { makeFinding } from '../support/findings.js';

/**
 * node:zlib against zlib-sync on the gunzip path as the collector runs it: inflate, frame and parse,
 * for 1,200 small objects 16 at a time and for one 64 MiB stream, in 64 KiB input chunks. One-shot
 * inflate speed is reported too. node:zlib inflates on libuv's thread pool, so on two cores its work
 * overlaps the parsing on the main thread; zlib-sync inflates on the main thread.
 */
export async function gunzipPaths(): Promise<Record<string, number>> {
  const lines = (count: number, tag: string) =>
    Buffer.from(Array.from({ length: count }, (_, i) => JSON.stringify(makeFinding('111111111111', 'us-east-1', `${tag}${i}`))).join('\n') + '\n');
  const small = Array.from({ length: 1200 }, (_, i) => gzipSync(lines(20, `s${i}-`)));
  const bigText = lines(3000, 'b');
  const big = gzipSync(Buffer.concat(Array.from({ length: Math.ceil((64 * 1024 * 1024) / bigText.length) }, () => bigText)));
  const inChunks = function* (gz: Buffer) {
    for (let i = 0; i < gz.length; i += 65536) yield gz.subarray(i, i + 65536);
  };
  const arriving = async function* (gz: Buffer) {
    yield* inChunks(gz);
  };
  const parse = () => new DocumentSplitter({ value: () => {}, malformed: () => {} });
  const viaNodeZlib = async (gz: Buffer) => {
    const splitter = parse();
    for await (const chunk of throughTransform(createGunzip({ chunkSize: 64 * 1024 }), arriving(gz))) splitter.push(chunk);
    splitter.end();
  };
  const viaZlibSync = async (gz: Buffer) => {
    const splitter = parse();
    const inflate = new zlibSync.Inflate({ windowBits: 31, chunkSize: 64 * 1024 });
    for (const chunk of inChunks(gz)) {
      inflate.push(chunk, zlibSync.Z_SYNC_FLUSH);
      if (inflate.err < 0) throw new Error(inflate.msg ?? 'zlib-sync failed');
      splitter.push(inflate.result as Buffer);
      await Promise.resolve();
    }
    splitter.end();
  };
  const smallObjects = async (decode: (gz: Buffer) => Promise<void>) => {
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < small.length) await decode(small[next++]!);
    }));
    return Math.round(Number(process.hrtime.bigint() - started) / 1e6);
  };
  const oneStream = async (decode: (gz: Buffer) => Promise<void>) => {
    const started = process.hrtime.bigint();
    await decode(big);
    return Math.round((64 * 1024 * 1024) / 1e6 / (Number(process.hrtime.bigint() - started) / 1e9));
  };
  const oneShot = (run: () => void) => {
    const data = bigText;
    run();
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10; i++) run();
    return Math.round((data.length * 10) / 1e6 / (Number(process.hrtime.bigint() - started) / 1e9));
  };
  const gzText = gzipSync(bigText);
  await smallObjects(viaNodeZlib);
  await smallObjects(viaZlibSync);
  return {
    'node:zlib 1,200 small objects ms': await smallObjects(viaNodeZlib),
    'zlib-sync 1,200 small objects ms': await smallObjects(viaZlibSync),
    'node:zlib 64 MiB stream MB/s': await oneStream(viaNodeZlib),
    'zlib-sync 64 MiB stream MB/s': await oneStream(viaZlibSync),
    'node:zlib one-shot inflate MB/s': oneShot(() => gunzipSync(gzText)),
    'zlib-sync one-shot inflate MB/s': oneShot(() => {
      const inflate = new zlibSync.Inflate({ windowBits: 31, chunkSize: 64 * 1024 });
      inflate.push(gzText, zlibSync.Z_FINISH);
      if (inflate.err < 0) throw new Error(inflate.msg ?? 'zlib-sync failed');
    }),
  };
}
