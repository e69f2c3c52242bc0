import { createConnection, type Socket } from 'node:net';
import { OutputError, describe } from '../errors.js';
import { SharedOpen, WriteQueue, type Output } from './output.js';
import type { EventBatch } from '../event-batch.js';

/** `unix:PATH`: a Unix stream socket, one JSON event per line. */
export class UnixStreamOutput implements Output {
  readonly name: string;
  readonly eventOrder = 'wazuh' as const;
  private socket: Socket | null = null;
  private failure: Error | null = null;
  private readonly queue = new WriteQueue();
  private readonly connecting = new SharedOpen(() => this.connect());

  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
  ) {
    this.name = `unix:${path}`;
  }

  open(): Promise<void> {
    return this.socket && !this.failure ? Promise.resolve() : this.connecting.run();
  }

  private connect(): Promise<void> {
    this.socket?.destroy();
    this.failure = null;
    return new Promise((resolve, reject) => {
      // Half-open allowed: a peer that shuts its side down (FIN) is noticed at once and gets no more
      // data, while it can still read everything already written.
      const socket = createConnection({ path: this.path, allowHalfOpen: true });
      const onError = (err: Error) => {
        socket.destroy();
        reject(new OutputError(this.name, `cannot connect to ${this.path}: ${describe(err)}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.on('error', (err) => {
          this.failure = err;
        });
        socket.on('end', () => {
          this.failure ??= new Error('the peer closed the connection');
          socket.end();
        });
        socket.on('close', () => {
          this.failure ??= new Error('the connection closed');
        });
        // Nothing is read from the peer; reading keeps 'end' coming.
        socket.resume();
        this.socket = socket;
        resolve();
      });
    });
  }

  write(batch: EventBatch): Promise<void> {
    const events = batch.events;
    return this.queue.run(async () => {
      await this.open();
      const socket = this.socket!;
      // One write per line: each callback says that line reached the kernel, so when a peer stops
      // reading or goes away, exactly the lines it was handed count as delivered (a line cut in half is
      // not, and is sent again whole).
      let accepted = 0;
      await new Promise<void>((resolve, reject) => {
        let settled = false;
        const fail = (err: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(new OutputError(this.name, `write failed: ${describe(err)}`, { cause: err, accepted }));
        };
        const timer = setTimeout(() => {
          this.failure = new Error(`the peer took nothing for ${this.timeoutMs / 1000} s (--output-timeout)`);
          fail(this.failure);
          socket.destroy();
        }, this.timeoutMs);
        if (this.failure) return fail(this.failure);
        for (const event of events) {
          socket.write(`${event.json}\n`, (err) => {
            if (err) return fail(this.failure ?? err);
            accepted++;
            // Progress: the peer is reading, so the clock starts again.
            timer.refresh();
            if (accepted === events.length && !settled) {
              settled = true;
              clearTimeout(timer);
              resolve();
            }
          });
        }
      });
    });
  }

  async reopen(): Promise<void> {}

  close(): Promise<void> {
    return this.queue.run(async () => {
      await this.connecting.settled();
      await new Promise<void>((resolve) => {
        const socket = this.socket;
        this.socket = null;
        if (!socket || socket.destroyed) return resolve();
        socket.end(() => resolve());
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 2000).unref();
      });
    });
  }
}
