import { open, stat, type FileHandle } from 'node:fs/promises';
import { OutputError, describe } from '../errors.js';
import { GroupWriter, jsonLines, WriteQueue, type Output } from './output.js';
import type { EncodedEvent } from '../decode/object.js';

/** `file:PATH`: appends one JSON event per line. */
export class FileOutput implements Output {
  readonly name: string;
  private handle: FileHandle | null = null;
  private readonly queue = new WriteQueue();
  private readonly group = new GroupWriter((data) => this.queue.run(() => this.append(data)));

  constructor(private readonly path: string) {
    this.name = `file:${path}`;
  }

  async open(): Promise<void> {
    if (this.handle) return;
    try {
      this.handle = await open(this.path, 'a', 0o640);
    } catch (err) {
      throw new OutputError(this.name, `cannot open ${this.path} for appending: ${describe(err)}`, { cause: err });
    }
  }

  write(events: EncodedEvent[]): Promise<void> {
    return this.group.write(jsonLines(events));
  }

  /**
   * Whole lines go out in as few writes as the kernel allows; if one fails part-way, the file is cut
   * back to where this write began so that no torn line stays behind (and every batch in it failed).
   */
  private async append(data: Buffer): Promise<void> {
    await this.followPath();
    const handle = this.handle!;
    const start = (await handle.stat()).size;
    let written = 0;
    try {
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written);
        written += bytesWritten;
      }
    } catch (err) {
      await handle.truncate(start).catch(() => undefined);
      throw new OutputError(this.name, `write failed: ${describe(err)}`, { cause: err });
    }
  }

  /**
   * Writes go to the file the path names now: if it was moved away or deleted (log rotation without
   * SIGHUP, a removed directory), the path is opened again, and if that fails the output fails rather
   * than appending to a file nobody can see.
   */
  private async followPath(): Promise<void> {
    if (this.handle) {
      const [current, named] = await Promise.all([this.handle.stat(), stat(this.path).catch(() => null)]);
      if (named && named.ino === current.ino && named.dev === current.dev) return;
      await this.closeHandle();
    }
    await this.open();
  }

  reopen(): Promise<void> {
    return this.queue.run(async () => {
      await this.closeHandle();
      await this.open();
    });
  }

  close(): Promise<void> {
    return this.queue.run(() => this.closeHandle());
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}
