import type { EncodedEvent } from '../decode/object.js';

/** Where the events come from, for log lines that name the object. */
export interface EventSource {
  bucket: string;
  key: string;
}

/**
 * A destination for events. `write` resolves only once the destination has accepted every event
 * (the state is written after that) and rejects with an OutputError naming the output otherwise.
 */
export interface Output {
  readonly name: string;
  open(): Promise<void>;
  write(events: EncodedEvent[], source: EventSource): Promise<void>;
  /** SIGHUP: let go of the file and open it again (log rotation). A no-op for sockets. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** Events as newline-delimited JSON, one buffer per batch so that one write carries it. */
export function jsonLines(events: EncodedEvent[]): Buffer {
  let text = '';
  for (const event of events) text += `${event.json}\n`;
  return Buffer.from(text);
}

/** Runs writes one after another, so that batches from objects processed concurrently never interleave. */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
