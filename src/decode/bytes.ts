import { ObjectError } from '../errors.js';

/** Reads exact byte counts from a stream of chunks, holding no more than what was asked plus one chunk. */
export class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  /** Bytes handed out so far. */
  position = 0;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(wanted: number): Promise<void> {
    while (this.buffered < wanted && !this.done) {
      const next = await this.source.next();
      if (next.done) this.done = true;
      else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
  }

  /** Up to `n` bytes without consuming them (fewer only at the end of the stream). */
  async peek(n: number): Promise<Buffer> {
    await this.fill(n);
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > 0 ? [all] : [];
    return all.subarray(0, n);
  }

  /** Exactly `n` bytes; null at a clean end of stream; an ObjectError when the stream ends inside them. */
  async read(n: number, what: string): Promise<Buffer | null> {
    await this.fill(n);
    if (this.buffered === 0 && this.done) return null;
    if (this.buffered < n) throw new ObjectError(`${what} is cut off: ${this.buffered} of ${n} bytes at offset ${this.position}`);
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    this.position += n;
    return taken;
  }

  /**
   * Everything that is left, as one buffer, when it is no more than `limit` bytes; otherwise null, with
   * what was read kept for `rest()` (at most `limit` bytes plus one chunk).
   */
  async whole(limit: number): Promise<Buffer | null> {
    await this.fill(limit + 1);
    if (!this.done || this.buffered > limit) return null;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    this.position += all.length;
    return all;
  }

  /** Whatever comes next, a chunk at a time, until the end. */
  async *rest(): AsyncGenerator<Buffer> {
    for (const chunk of this.chunks) {
      this.position += chunk.length;
      yield chunk;
    }
    this.chunks = [];
    this.buffered = 0;
    try {
      while (!this.done) {
        const next = await this.source.next();
        if (next.done) this.done = true;
        else {
          this.position += next.value.length;
          yield next.value;
        }
      }
    } finally {
      // Closed before the end (a failure, a reader that stopped): close the source too.
      if (!this.done) await this.source.return?.();
    }
  }
}
