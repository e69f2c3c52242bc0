import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** The object's bytes could not be read from S3 (connection reset, body cut off): worth another try. */
export class FetchError extends Error {
  override name = 'FetchError';
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Reads the body, turning its errors into FetchError, and checks it was not cut short. */
async function* readBody(body: AsyncIterable<Buffer>, expectedBytes: number | undefined): AsyncGenerator<Buffer> {
  let received = 0;
  try {
    for await (const chunk of body) {
      received += chunk.length;
      yield chunk;
    }
  } catch (err) {
    throw new FetchError(`reading the object body failed after ${received} bytes: ${(err as Error).message}`, { cause: err });
  }
  if (expectedBytes !== undefined && received < expectedBytes) {
    throw new FetchError(`object body cut off after ${received} of ${expectedBytes} bytes`);
  }
}

/**
 * The object's content, decompressed when the first bytes say so (not the key's extension). Gzip
 * members follow one another in multi-member files; node's gunzip reads them all.
 */
export async function* decompressed(body: AsyncIterable<Buffer>, expectedBytes?: number): AsyncGenerator<Buffer> {
  const source = readBody(body, expectedBytes);
  let head = Buffer.alloc(0);
  let next = await source.next();
  while (!next.done && head.length < GZIP_MAGIC.length) {
    head = Buffer.concat([head, next.value]);
    next = next.done ? next : await source.next();
  }
  async function* whole(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    while (!next.done) {
      yield next.value;
      next = await source.next();
    }
  }
  if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) {
    // pipeline() tears both streams down when either fails or the reader stops early.
    const gunzip = pipeline(Readable.from(whole(), { objectMode: false }), createGunzip(), () => {});
    yield* gunzip as AsyncIterable<Buffer>;
  } else {
    yield* whole();
  }
}
