import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OutputError, describe } from '../errors.js';
import { GroupWriter, SharedOpen, WriteQueue, type Output } from './output.js';
import type { EventBatch } from '../event-batch.js';

/**
 * `file:PATH`: appends one JSON event per line. A batch counts as written (and the state may record
 * its object) only once its lines are on disk: each write is followed by an fdatasync, and the group
 * commit below makes that one fdatasync for all the batches that arrived during the previous one.
 * What is not a regular file (/dev/null, a FIFO, a terminal) is only written: there is nothing to sync.
 */
export class FileOutput implements Output {
  readonly name: string;
  readonly eventOrder = 'wazuh' as const;
  private handle: FileHandle | null = null;
  /** The open file is a regular file, which fdatasync makes durable (not /dev/null, a FIFO or a terminal). */
  private regular = false;
  private readonly queue = new WriteQueue();
  private readonly group = new GroupWriter((data) => this.queue.run(() => this.append(data)));
  private readonly opening = new SharedOpen(() => this.openHandle());

  constructor(private readonly path: string) {
    this.name = `file:${path}`;
  }

  open(): Promise<void> {
    return this.handle ? Promise.resolve() : this.opening.run();
  }

  private async openHandle(): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(this.path, 'a', 0o640);
    } catch (err) {
      throw new OutputError(this.name, `cannot open ${this.path} for appending: ${describe(err)}`, { cause: err });
    }
    try {
      this.regular = (await handle.stat()).isFile();
      // The file may be new (created by this open, or by log rotation): its name must reach the disk
      // too, so its directory is synced once per open.
      if (this.regular) await syncDirectory(dirname(this.path));
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw new OutputError(this.name, `cannot fsync ${dirname(this.path)}, the directory of ${this.path}: ${describe(err)}`, { cause: err });
    }
    this.handle = handle;
  }

  write(batch: EventBatch): Promise<void> {
    return this.group.write(batch.lines());
  }

  /**
   * Whole lines go out in as few writes as the kernel allows; if one fails part-way, the file is cut
   * back to where this write began so that no torn line stays behind (and every batch in it failed).
   * Then fdatasync: only when it succeeds do the batches count as written.
   */
  private async append(data: Buffer[]): Promise<void> {
    await this.followPath();
    const handle = this.handle!;
    const start = (await handle.stat()).size;
    let rest = data.filter((buffer) => buffer.length > 0);
    try {
      while (rest.length > 0) {
        let { bytesWritten } = await handle.writev(rest);
        // A short write: drop what went out, and go on from inside the buffer it stopped in.
        while (rest.length > 0 && bytesWritten >= rest[0]!.length) bytesWritten -= rest.shift()!.length;
        if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
      }
    } catch (err) {
      await handle.truncate(start).catch(() => undefined);
      throw new OutputError(this.name, `write failed: ${describe(err)}`, { cause: err });
    }
    if (this.regular) await this.sync(handle);
  }

  /**
   * A failed fdatasync may have dropped pages the kernel could not write, and the descriptor reports
   * that error only once: the file is let go, so that the next write opens it afresh, and the batches
   * fail (they are written again: a repeat at worst). The lines stay, being whole, and a reader may
   * already have taken them.
   */
  private async sync(handle: FileHandle): Promise<void> {
    try {
      await handle.datasync();
    } catch (err) {
      await this.closeHandle().catch(() => undefined);
      throw new OutputError(this.name, `fdatasync failed, the events may not be on disk: ${describe(err)}`, { cause: err });
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
    await this.opening.settled();
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}

/** fsync of a directory, so that a file created in it is still there after a power cut. */
async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } catch (err) {
    // Some file systems cannot sync a directory (EINVAL): their entries need nothing more.
    const code = (err as { code?: string }).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP') throw err;
  } finally {
    await dir.close();
  }
}
