import { createGunzip, gunzipSync } from 'node:zlib';
import { ObjectError } from '../errors.js';
import { ByteReader } from './bytes.js';
import { throughTransform, zlibFailure } from './transform.js';
import {
  SNAPPY_FRAMED_MAGIC,
  SNAPPY_JAVA_MAGIC,
  framedSnappyStream,
  hadoopSnappyStream,
  looksLikeHadoopSnappy,
  snappyJavaStream,
} from './snappy.js';
import { ZIP_MAGIC, zipEntryStream } from './zip.js';

export type Encoding = 'gzip' | 'zip' | 'snappy-java' | 'snappy-framed' | 'hadoop-snappy' | 'plain';

export const DEFAULT_MAX_OBJECT_BYTES = 1024 * 1024 * 1024;

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const SNIFF_BYTES = 16;

function isJsonStart(byte: number | undefined): boolean {
  // A JSON document (or a UTF-8 byte-order mark, or whitespace before one).
  return byte === 0x7b || byte === 0x5b || byte === 0xef || byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Which container the first bytes announce. The key's extension is not trusted (Firehose's FileExtension). */
export function sniff(head: Buffer): Encoding | null {
  const starts = (magic: Buffer) => head.length >= magic.length && head.subarray(0, magic.length).equals(magic);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZIP_MAGIC)) return 'zip';
  if (starts(SNAPPY_JAVA_MAGIC)) return 'snappy-java';
  if (starts(SNAPPY_FRAMED_MAGIC)) return 'snappy-framed';
  if (looksLikeHadoopSnappy(head)) return 'hadoop-snappy';
  if (isJsonStart(head[0])) return 'plain';
  return null;
}

// A GuardDuty export is a few kilobytes of gzip holding some tens of kilobytes of JSON. Such an object
// is read whole and inflated in one synchronous call (no zlib stream, no thread-pool round trips): its
// whole decode then runs without yielding, so nothing of it survives into the next garbage collection.
// Both sizes bound it: the compressed body held, and what inflating it may produce (a bomb stops there
// and the object is streamed instead, where --max-object-bytes applies).
const WHOLE_GZIP_BYTES = 256 * 1024;
const WHOLE_INFLATED_BYTES = 4 * 1024 * 1024;
const ZLIB_CHUNK_BYTES = 64 * 1024;

async function* gunzip(reader: ByteReader, maxBytes: number): AsyncGenerator<Buffer> {
  // Members that follow one another (multi-member gzip) are all read.
  try {
    const whole = await reader.whole(WHOLE_GZIP_BYTES);
    if (whole !== null) {
      const inflated = inflateWhole(whole, Math.min(WHOLE_INFLATED_BYTES, maxBytes));
      if (inflated !== null) {
        yield inflated;
        return;
      }
    }
    yield* throughTransform(createGunzip({ chunkSize: ZLIB_CHUNK_BYTES }), whole !== null ? once(whole) : reader.rest());
  } catch (err) {
    if (!zlibFailure(err)) throw err;
    throw new ObjectError(`not valid gzip: ${(err as Error).message}`);
  }
}

/** The inflated bytes, or null when they would pass `limit` (the object is then streamed). */
function inflateWhole(gzip: Buffer, limit: number): Buffer | null {
  try {
    return gunzipSync(gzip, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
    throw err;
  }
}

async function* once(buffer: Buffer): AsyncGenerator<Buffer> {
  yield buffer;
}

function decoderFor(encoding: Encoding, reader: ByteReader, maxBytes: number): AsyncGenerator<Buffer> {
  switch (encoding) {
    case 'gzip':
      return gunzip(reader, maxBytes);
    case 'zip':
      return zipEntryStream(reader);
    case 'snappy-java':
      return snappyJavaStream(reader);
    case 'snappy-framed':
      return framedSnappyStream(reader);
    case 'hadoop-snappy':
      return hadoopSnappyStream(reader);
    case 'plain':
      return reader.rest();
  }
}

export interface Decompressed {
  encoding: Encoding;
  content: AsyncGenerator<Buffer>;
}

/**
 * The object's content, decompressed by what its first bytes say. A GetObject body is never inflated
 * by the HTTP layer (Content-Encoding is left alone), so each object is inflated exactly once, here.
 * Content past `maxBytes` fails the object: a small object must not be able to inflate without bound.
 */
export async function decompress(body: AsyncIterable<Buffer>, options: { maxBytes?: number } = {}): Promise<Decompressed> {
  const reader = new ByteReader(body[Symbol.asyncIterator]());
  const head = await reader.peek(SNIFF_BYTES);
  const encoding = head.length === 0 ? 'plain' : sniff(head);
  if (encoding === null) {
    throw new ObjectError(`not gzip, zip, Snappy or JSON text (first bytes ${head.subarray(0, 8).toString('hex')})`);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const decoder = decoderFor(encoding, reader, maxBytes);
  async function* capped(): AsyncGenerator<Buffer> {
    let total = 0;
    for await (const chunk of decoder) {
      total += chunk.length;
      if (total > maxBytes) throw new ObjectError(`decompressed content exceeds the cap of ${maxBytes} bytes (--max-object-bytes)`);
      yield chunk;
    }
  }
  return { encoding, content: capped() };
}
