import type { EventBatch } from '../event-batch.js';

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
  /** Which JSON of each event it takes: Wazuh's order, or the rules' fields first (EncodedEvent). */
  readonly eventOrder: 'wazuh' | 'rules';
  open(): Promise<void>;
  write(batch: EventBatch, source: EventSource): Promise<void>;
  /** SIGHUP: let go of the file and open it again (log rotation). A no-op for sockets. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One open under way at a time, shared by every caller that asks meanwhile: the bucket pass and the
 * SQS subscribers of a run open the outputs at the same moment, and two opens would take two
 * descriptors (or connections), of which only the second is ever closed.
 */
export class SharedOpen {
  private inFlight: Promise<void> | null = null;

  constructor(private readonly openNow: () => Promise<void>) {}

  run(): Promise<void> {
    this.inFlight ??= this.openNow().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** Once no open is under way, whatever its outcome: a close waits for it, or what it opens stays open. */
  async settled(): Promise<void> {
    await this.inFlight?.catch(() => undefined);
  }
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

/**
 * Group commit: batches handed in while a write is under way wait and go out together in the next
 * one, so that many objects finishing at once cost one write (and one check of the file) between them.
 * Each batch's promise settles with the write that carried it.
 */
export class GroupWriter {
  private pending: Array<{ data: Buffer; settle: (err: unknown) => void }> = [];
  private writing = false;

  /** `writeOut` gets the group's buffers in order (written with one writev: no copy of them joined). */
  constructor(private readonly writeOut: (data: Buffer[]) => Promise<void>) {}

  write(data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      let failure: unknown;
      try {
        await this.writeOut(group.map((batch) => batch.data));
      } catch (err) {
        failure = err ?? new Error('write failed');
      }
      for (const batch of group) batch.settle(failure);
    }
    this.writing = false;
  }
}
