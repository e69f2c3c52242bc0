import { OutputError, describe } from '../errors.js';
import { jsonLines, WriteQueue, type Output } from './output.js';
import type { EncodedEvent } from '../decode/object.js';

/** `stdout`: one JSON event per line; logs go to stderr, so this stream stays clean. */
export class StdoutOutput implements Output {
  readonly name = 'stdout';
  private readonly queue = new WriteQueue();

  async open(): Promise<void> {}

  write(events: EncodedEvent[]): Promise<void> {
    return this.queue.run(
      () =>
        new Promise<void>((resolve, reject) => {
          process.stdout.write(jsonLines(events), (err) => {
            if (err) reject(new OutputError(this.name, `write failed: ${describe(err)}`, { cause: err }));
            else resolve();
          });
        }),
    );
  }

  async reopen(): Promise<void> {}

  close(): Promise<void> {
    return this.queue.run(async () => {});
  }
}
