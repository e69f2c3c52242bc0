import { SingleBar } from 'cli-progress';
import type { PassOutcome, Telemetry } from './telemetry.js';

/** The bar itself; `wantsProgress` (progress-choice.ts) says when it is drawn. */
export class ProgressBar implements Telemetry {
  private readonly bar: SingleBar;
  private total = 0;
  private settled = 0;
  private events = 0;
  private started = false;

  constructor(stream: NodeJS.WritableStream) {
    this.bar = new SingleBar({
      stream,
      format: 'objects {value}/{total} [{bar}] {percentage}% | {events} events | {eta_formatted} left',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      fps: 5,
    });
  }

  passStarted(): void {
    this.bar.start(0, 0, { events: 0 });
    this.started = true;
  }

  objectToRead(): void {
    this.bar.setTotal(++this.total);
  }

  objectSettled(_bucket: string, _outcome: string, _bytes: number, events: number): void {
    this.settled++;
    this.events += events;
    this.bar.update(this.settled, { events: this.events });
  }

  passFinished(_outcome: PassOutcome): void {
    if (!this.started) return;
    // Objects left when a stop was asked for never settle: the bar ends where the pass did.
    this.bar.setTotal(Math.max(this.settled, 1));
    this.bar.update(this.settled, { events: this.events });
    this.bar.stop();
    this.started = false;
  }
}
