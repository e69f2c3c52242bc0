// An object's body as S3 sends it, checked on its way in: a failure of the connection, a body cut
// short or a body gone silent is a FetchError (the network's fault, worth another read at once), never
// mistaken for bad content by the decoders downstream.

/** The object's bytes could not be read from S3 (connection reset, body cut off): worth another try. */
export class FetchError extends Error {
  override name = 'FetchError';
}

/**
 * The body ended without a transport error but shorter than the object's size: S3 (or what stands in
 * between) served this object incomplete, which no network fault explains.
 */
export class ShortBodyError extends FetchError {
  override name = 'ShortBodyError';
}

const DEFAULT_IDLE_MS = 60_000;

/**
 * Reads the body, turning its errors into FetchError, and checks it was not cut short. A body that
 * stays silent for `idleMs` fails too: a stalled connection must not hold the pass forever.
 */
export async function* readBody(body: AsyncIterable<Buffer>, expectedBytes: number | undefined, idleMs = DEFAULT_IDLE_MS): AsyncGenerator<Buffer> {
  let received = 0;
  const chunks = body[Symbol.asyncIterator]();
  const stop = () => {
    (body as { destroy?: () => void }).destroy?.();
    void chunks.return?.();
  };
  let complete = false;
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const silence = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
      });
      let next: IteratorResult<Buffer>;
      try {
        next = await Promise.race([chunks.next(), silence]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) break;
      received += next.value.length;
      yield next.value;
    }
    complete = true;
  } catch (err) {
    throw new FetchError(`reading the object body failed after ${received} bytes: ${(err as Error).message}`, { cause: err });
  } finally {
    // Failed, or the reader gave up on the object: let go of the connection rather than leave it busy.
    if (!complete) stop();
  }
  if (expectedBytes !== undefined && received < expectedBytes) {
    throw new ShortBodyError(`object body cut off after ${received} of ${expectedBytes} bytes`);
  }
}
