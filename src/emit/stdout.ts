import { OutputError, describe } from '../errors.js';
import { WriteQueue, type Output } from './output.js';
import type { EventBatch } from '../event-batch.js';

/** `stdout`: one JSON event per line; logs go to stderr, so this stream stays clean. */
export class StdoutOutput implements Output {
  readonly name = 'stdout';
  readonly eventOrder = 'wazuh' as const;
  private readonly queue = new WriteQueue();

  async open(): Promise<void> {}

  write(batch: EventBatch): Promise<void> {
    return this.queue.run(
      () =>
        new Promise<void>((resolve, reject) => {
          process.stdout.write(batch.lines(), (err) => {
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
