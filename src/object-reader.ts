import type { Logger } from 'pino';
import { FetchError } from './aws/body.js';
import { explainFailure } from './aws/errors.js';
import type { BucketReader } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { forEachLimit, type ChildAborts } from './concurrency.js';
import type { CompiledDiscardRule } from './decode/discard.js';
import { decodeObject } from './decode/object.js';
import { OutputError, StateError, describe } from './errors.js';
import { badLinesStopBucket, classifyFailure, decideFailure, mayBeIsolated, nextForFailure } from './failure.js';
import type { BucketPassSummary, CollectorContext, ObjectOutcome } from './run.js';
import type { KnownObject, ObjectRecord } from './state/store.js';

// One object, from its GET to the state: fetch → decode → deliver → record (→ delete), and a failure
// recorded as the failure policy (failure.ts) says. The bucket's pass decides which objects to read.

/** Deletes owed by an earlier run carried out at once. */
const PENDING_DELETES_IN_FLIGHT = 8;
/** Reads of one object within a pass when its body is cut off in transit. */
const IMMEDIATE_REFETCHES = 3;

/** What a read may do to the bucket's pass it belongs to. */
export interface PassControl {
  readonly summary: BucketPassSummary;
  /** A stop was asked for, or the bucket halted: start nothing new. */
  stopping(): boolean;
  /** Stop starting objects in this bucket, for this reason (the first one given is kept). */
  halt(reason: string): void;
  /** An output or the state failed: nothing more can be delivered or recorded in this run. */
  stopRun(err: unknown): void;
  /** An object was read whole: the transient failures before it were no outage. */
  readWhole(): void;
  /** An object failed transiently: how many have, in a row, counting this one. */
  failedTransiently(): number;
  /** A transient failure that did not stop the bucket: the pass's end decides whether it spends an attempt. */
  judgeAtEnd(failure: TransientFailure): void;
}

/** An object recorded failed (transient) in a pass whose bucket went on. */
export interface TransientFailure {
  /** As recorded: `events` are those delivered before the failure. */
  record: ObjectRecord;
  /** Attempts spent before this pass. */
  attempts: number;
  cause: string;
}

export class ObjectReader {
  constructor(
    private readonly bucket: BucketConfig,
    private readonly reader: BucketReader,
    private readonly ctx: CollectorContext,
    private readonly discard: CompiledDiscardRule[],
    private readonly reads: ChildAborts,
    private readonly log: Logger,
    private readonly pass: PassControl,
  ) {}

  /** Reads one object to the outputs: done, failed for good, or unfinished (read again next pass). */
  async read(record: ObjectRecord, previous: KnownObject | undefined): Promise<ObjectOutcome> {
    const thisRead = { events: 0 };
    const outcome = await this.deliverObject(record, previous, thisRead);
    this.ctx.telemetry?.objectSettled?.(this.bucket.name, outcome, outcome === 'done' ? record.size : 0, thisRead.events);
    return outcome;
  }

  private async deliverObject(record: ObjectRecord, previous: KnownObject | undefined, thisRead: { events: number }): Promise<ObjectOutcome> {
    const log = this.log.child({ key: record.key });
    const where = `s3://${this.bucket.name}/${record.key}`;
    const source = { bucket: this.bucket.name, key: record.key };
    // A retry of the same bytes skips what an earlier attempt already delivered.
    let delivered = previous && previous.etag === record.etag ? previous.delivered : 0;
    for (let fetch = 1; ; fetch++) {
      const abort = this.reads.take();
      try {
        const { body } = await this.reader.getObject(record.key, abort.signal, { size: record.size, etag: record.etag });
        await this.ctx.outputs.waitForRoom();
        const counts = await decodeObject(body, {
          origin: { bucket: this.bucket.name, key: record.key, accountAlias: this.bucket.accountAlias },
          discard: this.discard,
          deliver: async (events) => {
            try {
              await this.ctx.outputs.deliver(events, source);
            } catch (err) {
              if (err instanceof OutputError) delivered += err.accepted;
              throw err;
            }
            delivered += events.length;
            this.pass.summary.events += events.length;
            thisRead.events += events.length;
          },
          malformed: (line, reason) => log.error({ line }, `${where} line ${line}: ${reason}`),
          skipped: (line, reason) => log.debug({ line }, `no finding in document: ${reason}`),
          skipEvents: delivered,
          maxObjectBytes: this.ctx.limits.maxObjectBytes,
          maxDocumentBytes: this.ctx.limits.maxDocumentBytes,
        });
        this.pass.summary.discarded += counts.discarded;
        this.pass.summary.skipped += counts.skipped;
        this.pass.summary.malformed += counts.malformed;
        await this.commit({ ...record, events: counts.events, malformed: counts.malformed });
        this.pass.readWhole();
        if (badLinesStopBucket(counts.malformed, this.ctx.skipOnError)) {
          this.pass.summary.ok = false;
          this.pass.halt(`${where} has ${counts.malformed} bad line(s) and skip_on_error is no: this bucket stopped`);
        }
        log.debug({ encoding: counts.encoding, events: counts.events, findings: counts.findings, discarded: counts.discarded, bytes: record.size }, 'object done');
        return 'done';
      } catch (err) {
        const ours = err instanceof OutputError || err instanceof StateError;
        if (this.ctx.abandon.aborted && !ours) return 'unfinished';
        // A body cut off or reset in transit: read the object again at once, from where it stopped.
        if (err instanceof FetchError && fetch < IMMEDIATE_REFETCHES && !this.pass.stopping()) {
          log.warn({ err: describe(err), fetch }, `${where}: ${describe(err)}; reading it again`);
          continue;
        }
        return this.readFailed(record, previous, err, delivered, log);
      } finally {
        abort.release();
      }
    }
  }

  /**
   * Records a failed read as the failure policy says (src/failure.ts): how far it got, so that the next
   * pass neither loses nor repeats events, and whether it spent an attempt.
   */
  private readFailed(record: ObjectRecord, previous: KnownObject | undefined, err: unknown, delivered: number, log: Logger): ObjectOutcome {
    const kind = classifyFailure(err);
    const limits = { skipOnError: this.ctx.skipOnError, maxAttempts: this.ctx.limits.maxAttempts };
    const decision = decideFailure(kind, previous?.attempts ?? 0, limits, kind === 'transient' ? this.pass.failedTransiently() : undefined);
    if (!decision.passOk) this.pass.summary.ok = false;
    if (decision.halt === 'bucket') {
      this.pass.halt(`${kind} failure reading s3://${this.bucket.name}/${record.key}: this bucket stopped`);
    }
    if (kind === 'output' || kind === 'state') {
      this.pass.stopRun(err as OutputError | StateError);
      if (kind === 'state') return 'unfinished';
    }
    const cause = kind === 'output' ? describe(err) : explainFailure(err, this.bucket, 'get', record.key);
    try {
      this.ctx.state.markFailed({ ...record, events: delivered }, cause, { kind, countsAttempt: decision.countsAttempt });
    } catch (stateErr) {
      this.pass.stopRun(stateErr);
      return 'unfinished';
    }
    if (kind === 'output') return 'unfinished';
    if (kind === 'gone') {
      log.warn({ kind }, `${cause}; nothing to read`);
      return 'gone';
    }
    this.pass.summary.failed++;
    const attempts = (previous?.attempts ?? 0) + (decision.countsAttempt ? 1 : 0);
    log.error({ err: describe(err), kind, attempts }, `${cause}; ${nextForFailure(kind, decision, attempts, limits)}`);
    if (kind === 'transient' && decision.halt === 'none' && mayBeIsolated(err)) this.pass.judgeAtEnd({ record: { ...record, events: delivered }, attempts: previous?.attempts ?? 0, cause });
    return decision.next === 'give-up' ? 'failed' : 'retry';
  }

  /**
   * Deletes remove_from_bucket still owes, whether or not their keys are listed any more (a kill right
   * after a delete succeeded leaves it pending, and its key is never listed again).
   */
  async carryOutPendingDeletes(): Promise<void> {
    const keys = this.ctx.state.pendingDeletes(this.bucket.name);
    if (keys.length === 0) return;
    this.log.info({ pending: keys.length }, `carrying out ${keys.length} pending delete(s) (remove_from_bucket)`);
    await forEachLimit(keys, PENDING_DELETES_IN_FLIGHT, (key) => this.remove(key));
  }

  async commit(record: ObjectRecord): Promise<void> {
    this.ctx.state.markDone(record, this.bucket.removeFromBucket);
    this.pass.summary.done++;
    this.pass.summary.bytes += record.size;
    // Deleted only once recorded as done: a crash in between leaves a delete pending, never a loss.
    if (this.bucket.removeFromBucket) await this.remove(record.key);
  }

  async remove(key: string): Promise<void> {
    try {
      await this.reader.deleteObject(key);
      this.ctx.state.markDeleted(this.bucket.name, key);
      this.pass.summary.deleted++;
    } catch (err) {
      if (err instanceof StateError) {
        this.pass.stopRun(err);
        return;
      }
      // The events are delivered and recorded: a delete that fails is retried on later passes, and
      // never makes the object be read again.
      this.log.warn({ key, err: describe(err) }, `${explainFailure(err, this.bucket, 'delete', key)}; the delete is tried again on a later pass`);
    }
  }
}
