/** A counting semaphore: at most `limit` holders at once, the rest wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** Runs `task` over every item with at most `limit` running at once; resolves when all have settled. */
export async function forEachLimit<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Abort signals for many reads at once, each aborted when `parent` is. The parent gets one listener
 * while any read is live, however many there are, and none once they have ended: a listener per read
 * on a long-lived signal would pile up (Node warns past ten).
 */
export class ChildAborts {
  private readonly live = new Set<AbortController>();
  private readonly onAbort = () => {
    for (const controller of this.live) controller.abort(this.parent.reason);
  };

  constructor(private readonly parent: AbortSignal) {}

  /** A signal for one read; `release` it when the read ends. */
  take(): { signal: AbortSignal; release(): void } {
    const controller = new AbortController();
    if (this.parent.aborted) {
      controller.abort(this.parent.reason);
      return { signal: controller.signal, release: () => {} };
    }
    if (this.live.size === 0) this.parent.addEventListener('abort', this.onAbort, { once: true });
    this.live.add(controller);
    return {
      signal: controller.signal,
      release: () => {
        if (this.live.delete(controller) && this.live.size === 0) this.parent.removeEventListener('abort', this.onAbort);
      },
    };
  }

  /** Reads live now (for tests). */
  get size(): number {
    return this.live.size;
  }
}
