import pino, { type Logger } from 'pino';
import type { S3Operation } from './aws/errors.js';
import type { PassOutcome, Telemetry } from './vocabulary.js';

/** The terminal the bar is drawn on (stderr). */
export interface BarStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Where log lines are written (pino's destination); the bar is cleared before each and drawn again after. */
interface LineSink {
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  /** The logger whose JSON lines share the terminal with the bar. */
  log?: Logger;
  /** Milliseconds between redraws (default 200). */
  redrawMs?: number;
  now?(): number;
}

const CLEAR_LINE = '\r\x1b[K';
const CURSOR_HIDE = '\x1b[?25l';
const CURSOR_SHOW = '\x1b[?25h';
/** DECAWM on. The bar never turns autowrap off (it cuts its line to the terminal's width instead). */
const AUTOWRAP_ON = '\x1b[?7h';
const BAR_SIZE = 30;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The bar itself; `wantsProgress` (progress-choice.ts) says when it is drawn. Honest about what it
 * knows: while a bucket is still being listed the number of objects to read is not known, so it shows
 * what the listing has found so far, never a total or a percentage; the bar with its total appears once
 * every listing started has ended (`listingFinished`), and at the latest when the pass ends. The bar is
 * one line with the cursor at its end: it is cleared before each log line and drawn again after, and
 * when the pass ends it is replaced by a final line and a newline, so later output starts on a line of
 * its own. The cursor is shown again and autowrap turned on when it stops, and at exit if it never did.
 */
export class ProgressBar implements Telemetry {
  private readonly redrawMs: number;
  private readonly now: () => number;
  private active = false;
  /** The bar's line is on the screen, the cursor at its end. */
  private drawn = false;
  private lastLine = '';
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private found = 0;
  private toRead = 0;
  private settled = 0;
  private events = 0;
  /** Buckets whose listing has started and not ended. */
  private readonly listing = new Set<string>();
  /** Buckets whose listing has ended this pass. */
  private readonly listed = new Set<string>();
  private readonly onExit = () => this.restoreTerminal();

  constructor(
    private readonly stream: BarStream,
    options: ProgressOptions = {},
  ) {
    this.redrawMs = options.redrawMs ?? 200;
    this.now = options.now ?? Date.now;
    if (options.log) this.interceptLines(options.log);
  }

  /** Wraps the logger's destination (shared by its children) so that no log line lands on the bar's line. */
  private interceptLines(log: Logger): void {
    const sink = (log as unknown as Record<symbol, LineSink | undefined>)[pino.symbols.streamSym];
    if (!sink || typeof sink.write !== 'function') return;
    const write = sink.write;
    sink.write = (chunk: string) => {
      this.clear();
      const written = write.call(sink, chunk);
      if (this.active) this.draw();
      return written;
    };
  }

  private get totalKnown(): boolean {
    return this.listing.size === 0 && this.listed.size > 0;
  }

  private line(final: boolean): string {
    const events = `${this.events} events`;
    if (!final && !this.totalKnown) {
      return `listing… ${this.found} objects found, ${this.toRead} to read | ${this.settled} read | ${events}`;
    }
    if (this.toRead === 0) return this.found === 0 ? 'no objects found' : `${this.found} objects found, nothing new to read`;
    const ratio = Math.min(1, this.settled / this.toRead);
    const filled = Math.round(ratio * BAR_SIZE);
    const bar = `objects ${this.settled}/${this.toRead} [${'='.repeat(filled)}${'-'.repeat(BAR_SIZE - filled)}] ${Math.floor(ratio * 100)}% | ${events}`;
    const elapsed = this.now() - this.startedAt;
    if (final) {
      const left = this.toRead - this.settled;
      return `${bar}${left > 0 ? ` | ${left} left for the next pass` : ''} in ${elapsed < 60_000 ? `${(elapsed / 1000).toFixed(1)}s` : duration(elapsed)}`;
    }
    if (this.settled === 0) return bar;
    return `${bar} | ${duration(((this.toRead - this.settled) * elapsed) / this.settled)} left`;
  }

  private draw(): void {
    if (this.stream.isTTY !== true) return;
    // One column short of the width: a line that fills it would leave the cursor waiting to wrap.
    const width = Math.max(10, (this.stream.columns || 80) - 1);
    const line = this.line(false);
    const cut = line.length > width ? line.slice(0, width) : line;
    if (this.drawn && cut === this.lastLine) return;
    this.stream.write(`\r${cut}\x1b[K`);
    this.drawn = true;
    this.lastLine = cut;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.stream.write(CLEAR_LINE);
    this.drawn = false;
  }

  private restoreTerminal(): void {
    if (!this.active) return;
    this.clear();
    this.stream.write(CURSOR_SHOW + AUTOWRAP_ON);
  }

  passStarted(): void {
    if (this.active) return;
    this.active = true;
    this.startedAt = this.now();
    this.found = this.toRead = this.settled = this.events = 0;
    this.listing.clear();
    this.listed.clear();
    process.once('exit', this.onExit);
    if (this.stream.isTTY === true) this.stream.write(CURSOR_HIDE);
    this.draw();
    this.timer = setInterval(() => this.draw(), this.redrawMs);
    this.timer.unref();
  }

  private listingOf(bucket: string): void {
    if (!this.listed.has(bucket)) this.listing.add(bucket);
  }

  s3Request(bucket: string, operation: S3Operation): void {
    if (operation === 'list') this.listingOf(bucket);
  }

  objectListed(bucket: string): void {
    this.listingOf(bucket);
    this.found++;
  }

  listingFinished(bucket: string): void {
    this.listing.delete(bucket);
    this.listed.add(bucket);
    if (this.active) this.draw();
  }

  objectToRead(): void {
    this.toRead++;
  }

  objectSettled(_bucket: string, _outcome: string, _bytes: number, events: number): void {
    this.settled++;
    this.events += events;
  }

  passFinished(_outcome: PassOutcome): void {
    if (!this.active) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    process.off('exit', this.onExit);
    // The pass is over, so is every listing: the total is known now. Objects left when a stop was asked
    // for never settle, and the final line says so.
    if (this.stream.isTTY === true) {
      this.clear();
      this.stream.write(`${this.line(true)}\n${CURSOR_SHOW}${AUTOWRAP_ON}`);
    }
    this.active = false;
    this.drawn = false;
    this.lastLine = '';
  }
}
