import type { Transform } from 'node:stream';

/**
 * Runs `input` through a zlib transform and yields what comes out, with backpressure both ways. Driven
 * by hand rather than through stream.pipeline(), whose set-up per call (stream wrappers, an
 * AbortController) cost three times the inflation of a small object. When the transform ends first
 * (a deflate stream inside a zip), the rest of the input is left unread for the caller; when anything
 * fails or the consumer stops early, the input is closed.
 */
export async function* throughTransform(transform: Transform, input: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  let ended = false;
  let failure: Error | null = null;
  transform.on('end', () => (ended = true));
  transform.on('error', (err: Error) => (failure ??= err));
  let inputDone = false;
  let finished = false;
  try {
    for (;;) {
      for (let chunk = transform.read() as Buffer | null; chunk !== null; chunk = transform.read() as Buffer | null) yield chunk;
      if (failure) throw failure;
      if (ended) break;
      // Input waits while the transform still holds what it was given last (a full write buffer).
      if (inputDone || transform.writableNeedDrain) {
        await nextEvent(transform, ['readable', 'drain', 'end', 'error']);
        continue;
      }
      const next = await input.next();
      if (next.done) {
        inputDone = true;
        transform.end();
      } else {
        transform.write(next.value);
      }
    }
    finished = true;
  } finally {
    transform.destroy();
    if (!finished && !inputDone) await input.return?.();
  }
}

function nextEvent(transform: Transform, events: string[]): Promise<void> {
  return new Promise((resolve) => {
    const wake = () => {
      for (const event of events) transform.off(event, wake);
      resolve();
    };
    for (const event of events) transform.on(event, wake);
  });
}

/**
 * Whether an error was raised by zlib itself (bad data, a truncated stream: its codes start with Z_),
 * rather than by the stream that feeds it, whose errors pass through untouched.
 */
export function zlibFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
