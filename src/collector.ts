import type { Logger } from 'pino';
import { explainFailure, isAwsFailure } from './aws/errors.js';
import { ListingError } from './aws/listing.js';
import type { BucketClient, ObjectSummary } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { ChildAborts, Semaphore, forEachLimit } from './concurrency.js';
import { compileDiscardRules, type CompiledDiscardRule } from './decode/discard.js';
import { OutputError, StateError, describe } from './errors.js';
import { finishedSummary, emptySummary, logPass, warnIfEmpty } from './pass-report.js';
import { OWED_DELETES_IN_FLIGHT } from './policy/deletes.js';
import {
  NO_READS,
  TRANSIENT_FAILURES_FOR_AN_OUTAGE,
  decideFailure,
  isolatedFailuresAreTheObjects,
  nextForFailure,
  tallyAfter,
  type PassTally,
} from './policy/failure.js';
import { judgeKey, keyFacts, type JudgeContext } from './policy/verdict.js';
import { addCounts, newRecord, readObject, removeObject, type ObjectResult, type TransientFailure } from './read-object.js';
import type { KnownObject, ObjectRecord, PartitionOutcome, PartitionRef } from './state/store.js';
import { LISTINGS_IN_FLIGHT, PRUNE_MARGIN_DAYS, type BucketPassSummary, type CollectorContext } from './vocabulary.js';
import { bucketLayout, type Layout } from './walk/layout.js';
import { toStored, type Partition } from './walk/partition.js';
import {
  folderPath,
  listingStart,
  nextListingStart,
  pastDateFolders,
  pruneBefore,
  rescanStart,
  toMs,
  type FolderTime,
  type WindowProgress,
} from './walk/window.js';

/** Partition passes recorded in one transaction. */
const PARTITIONS_PER_COMMIT = 64;

/** What a partition's listing learns as its objects settle. */
interface PartitionProgress extends WindowProgress {
  /** The newest object (by LastModified) read to the end, for status and the lag metric. */
  newest: { key: string; modified: number } | null;
  /** Objects that failed and are read again by key on a later pass (they do not hold the window). */
  failing: number;
}

/** Why a bucket's pass starts no more objects: an error of this bucket, or an output or the state down. */
type Stop = { kind: 'halt'; reason: string } | { kind: 'run'; error: OutputError | StateError };

function laterFolder(a: FolderTime | null, b: FolderTime): FolderTime {
  return a === null || toMs(b) > toMs(a) ? b : a;
}

function earlierFolder(a: FolderTime | null, b: FolderTime): FolderTime {
  return a === null || toMs(b) < toMs(a) ? b : a;
}

/** The listing's StartAfter: the window's first folder, which sorts before every key in it. */
function startAfter(partition: Partition, start: FolderTime): string {
  return partition.prefix + folderPath(start);
}

function partitionTrouble(progress: PartitionProgress): string {
  if (progress.firstUnfinished !== null) return 'objects left unfinished; read again next pass';
  return `${progress.failing} object(s) failed; read again by key next pass`;
}

/** One pass over one bucket: its partitions listed, each key judged, the objects read (read-object.ts), the results added up. */
export class BucketCollector {
  private readonly log: Logger;
  private readonly discard: CompiledDiscardRule[];
  private readonly slots: Semaphore;
  private summary: BucketPassSummary;
  private stop: Stop | null = null;
  /** Aborted when the bucket stops starting objects: with the run's stop, what a read in flight is told. */
  private readonly halted = new AbortController();
  private readonly stopping: AbortSignal;
  /** One abort signal per object read, all aborted when the run is abandoned. */
  private readonly reads: ChildAborts;
  /** What every key's verdict depends on besides the key (policy/verdict.ts). */
  private readonly judging: JudgeContext;
  private tally: PassTally = NO_READS;
  /** Transient failures the pass's end may make the objects' own (policy/failure.ts). */
  private maybeIsolated: TransientFailure[] = [];
  /** Partitions whose listing has not ended yet; the progress bar learns its total when none is left. */
  private listingsLeft = 0;
  /** Whether any listing of this pass returned a key, in the layout or not. */
  private listedAny = false;
  /** Partition passes not yet written to the state (see flushPartitions). */
  private partitionOutcomes: PartitionOutcome[] = [];

  constructor(
    private readonly bucket: BucketConfig,
    private readonly client: BucketClient,
    private readonly ctx: CollectorContext,
  ) {
    this.log = ctx.log.child({ bucket: bucket.name });
    this.discard = compileDiscardRules(bucket.discardRegex);
    this.slots = new Semaphore(ctx.concurrency);
    this.reads = new ChildAborts(ctx.abandon);
    this.summary = emptySummary(bucket.name);
    this.stopping = AbortSignal.any([ctx.stop, this.halted.signal]);
    this.judging = { bucket, skipOnError: ctx.skipOnError, maxAttempts: ctx.limits.maxAttempts, rescan: (ctx.rescanSince ?? null) !== null };
  }

  /** Resolves with the pass summary; rejects only with an OutputError or a StateError, which end the whole run. */
  async run(): Promise<BucketPassSummary> {
    const started = performance.now();
    try {
      const known = this.ctx.state.knownLayout(this.bucket.name, this.bucket.path);
      const layout = await bucketLayout(this.bucket, this.client, known, this.log, this.ctx.stop);
      this.summary.layout = layout.name;
      if (this.bucket.removeFromBucket) await this.carryOutOwedDeletes();
      const partitions = await layout.partitions(this.ctx.stop);
      // A stop during discovery leaves the partitions found so far: none is listed then.
      if (this.ctx.stop.aborted) partitions.length = 0;
      this.summary.partitions = partitions.length;
      if (this.ctx.rescanSince) {
        this.log.info({ rescanSince: this.ctx.rescanSince }, `rescan: listing every partition from ${this.ctx.rescanSince}; only objects the state does not know as done are read`);
      }
      this.listingsLeft = partitions.length;
      if (partitions.length === 0) this.listingEnded();
      await forEachLimit(partitions, LISTINGS_IN_FLIGHT, (partition) => this.collectPartition(layout, partition));
    } catch (err) {
      this.fail(err, 'listing the bucket failed');
    }
    if (this.listingsLeft > 0) {
      this.listingsLeft = 0;
      this.listingEnded();
    }
    try {
      this.flushPartitions();
      this.judgeIsolatedFailures();
    } catch (err) {
      this.fail(err, 'recording the partitions failed');
    }
    this.summary.durationMs = Math.round(performance.now() - started);
    const runFailure = this.stop?.kind === 'run' ? this.stop.error : null;
    if (this.summary.listed === 0 && !runFailure && !this.ctx.stop.aborted && this.stop === null) {
      await warnIfEmpty(this.bucket, this.summary, this.client, this.listedAny, this.log);
    }
    const interrupted = runFailure?.message ?? (this.ctx.stop.aborted ? 'stopped by a signal' : this.stop?.kind === 'halt' ? this.stop.reason : null);
    this.summary = finishedSummary(this.summary, interrupted);
    logPass(this.summary, this.log);
    if (runFailure) throw runFailure;
    return this.summary;
  }

  private listingEnded(): void {
    this.ctx.telemetry?.listingFinished?.(this.bucket.name);
  }

  /** Deletes remove_from_bucket still owes, whether or not their keys are listed any more (policy/deletes.ts). */
  private async carryOutOwedDeletes(): Promise<void> {
    const keys = this.ctx.state.pendingDeletes(this.bucket.name);
    if (keys.length === 0) return;
    this.log.info({ pending: keys.length }, `carrying out ${keys.length} pending delete(s) (remove_from_bucket)`);
    await forEachLimit(keys, OWED_DELETES_IN_FLIGHT, async (key) => {
      try {
        if (await removeObject(this.bucket, this.client, this.ctx.state, key, this.log)) this.summary.deleted++;
      } catch (err) {
        this.stopFor(err);
      }
    });
  }

  private async collectPartition(layout: Layout, partition: Partition): Promise<void> {
    const ref: PartitionRef = { bucket: this.bucket.name, ...toStored(partition) };
    const now = this.ctx.now();
    const stored = this.ctx.state.windowStart(ref);
    const normal = listingStart(stored, this.bucket.onlyLogsAfter, now, layout.granularity);
    const start = rescanStart(normal, this.ctx.rescanSince ?? null, this.bucket.onlyLogsAfter, layout.granularity);
    const progress: PartitionProgress = { newestSettled: null, firstUnfinished: null, newest: null, failing: 0 };
    const inFlight: Promise<void>[] = [];
    let complete = true;
    let error: string | null = null;
    const listFrom = startAfter(partition, start);
    try {
      this.log.debug({ prefix: partition.prefix, startAfter: listFrom }, 'listing partition');
      // One listing from the window's first folder to the end: no request per day or hour.
      for await (const object of this.client.listObjects(partition.prefix, listFrom, this.ctx.stop)) {
        this.listedAny = true;
        if (this.stopping.aborted) break;
        if (pastDateFolders(object.key.slice(partition.prefix.length))) break;
        const read = await this.consider(layout, object, partition, start, progress, true);
        if (read) inFlight.push(read.settled);
      }
      if (this.stopping.aborted) complete = false;
    } catch (err) {
      complete = false;
      error = this.fail(err, `listing ${partition.prefix} failed`);
    }
    if (--this.listingsLeft === 0) this.listingEnded();
    try {
      // Failed keys the window has moved past: read by key, their days not listed again.
      for (const object of this.ctx.state.failedBefore(ref, listFrom)) {
        if (this.stopping.aborted) break;
        const read = await this.consider(layout, { ...object, lastModified: undefined }, partition, start, progress, false);
        if (read) inFlight.push(read.settled);
      }
    } catch (err) {
      error ??= this.fail(err, `reading the failed keys of ${partition.prefix} failed`);
    }
    await Promise.all(inFlight);
    const runFailure = this.stop?.kind === 'run' ? this.stop.error : null;
    const ok = complete && !runFailure && progress.firstUnfinished === null && progress.failing === 0;
    const outcome: PartitionOutcome = {
      partition: ref,
      pass: { at: this.ctx.now().getTime(), ok, error: error ?? runFailure?.message ?? (ok ? null : partitionTrouble(progress)), newest: progress.newest },
    };
    // The start moves only after a listing to the end with nothing lost to an output or the state.
    const next = complete && !runFailure ? nextListingStart(normal, progress, now, layout.granularity) : stored;
    if (next !== null && next !== stored) {
      outcome.moved = { windowStart: next, pruneBefore: folderPath(pruneBefore(next, PRUNE_MARGIN_DAYS, layout.granularity)) };
    }
    this.partitionOutcomes.push(outcome);
    if (this.partitionOutcomes.length >= PARTITIONS_PER_COMMIT) this.flushPartitions();
  }

  /** Writes the partition passes gathered so far; losing them to a crash only lists those partitions from their old start. */
  private flushPartitions(): void {
    const outcomes = this.partitionOutcomes;
    if (outcomes.length === 0) return;
    this.partitionOutcomes = [];
    const pruned = this.ctx.state.recordPartitions(outcomes);
    if (pruned > 0) this.log.debug({ pruned, partitions: outcomes.length }, 'pruned state of folders behind the window');
  }

  /**
   * Decides what to do with one key, listed or (`listed` false) a failed one read again by key; when it
   * is read, resolves (once a slot is free) with its read in progress, wrapped (see startRead), which
   * settles into the progress.
   */
  private async consider(
    layout: Layout,
    object: ObjectSummary,
    partition: Partition,
    windowStart: FolderTime,
    progress: PartitionProgress,
    listed: boolean,
  ): Promise<{ settled: Promise<void> } | null> {
    const placed = layout.placeOf(object.key, partition);
    const known = placed === null ? undefined : this.ctx.state.lookup(this.bucket.name, object.key);
    const verdict = judgeKey(keyFacts(this.judging, placed, known, windowStart));
    if (placed === null || verdict.why === 'outside-layout') {
      this.log.debug({ key: object.key }, `ignoring key outside the ${layout.name} layout`);
      return null;
    }
    if (listed) {
      this.summary.listed++;
      this.ctx.telemetry?.objectListed?.(this.bucket.name);
    }
    const folder = placed.folder;
    if (verdict.why === 'done' || verdict.why === 'failed-final') {
      progress.newestSettled = laterFolder(progress.newestSettled, folder);
      return null;
    }
    if (!verdict.read) return null;
    if (verdict.resume) this.summary.retried++;
    else this.summary.new++;
    const record = newRecord(this.bucket.name, this.bucket.path, partition, object);
    const read = await this.startRead(record, object.size, verdict.resume, (result) => this.settle(result, object, folder, progress));
    if (read === null) {
      progress.firstUnfinished = earlierFolder(progress.firstUnfinished, folder);
      this.summary.left++;
    }
    return read;
  }

  /**
   * Waits for a free slot and starts the read; null when the bucket stopped first. Its result is added
   * to the pass (`settle`) before the slot is given back, so that a stop it calls for is seen by the
   * next read waiting. The read in progress comes wrapped: an async function returning a bare promise
   * would wait for it, and the listing would read one object at a time.
   */
  private async startRead(
    record: ObjectRecord,
    listedSize: number,
    previous: KnownObject | undefined,
    settle: (result: ObjectResult) => void,
  ): Promise<{ settled: Promise<void> } | null> {
    if (listedSize !== 0) this.ctx.telemetry?.objectToRead?.(this.bucket.name);
    await this.slots.acquire();
    if (this.stopping.aborted) {
      this.slots.release();
      return null;
    }
    const abort = this.reads.take();
    const task = {
      bucket: this.bucket,
      client: this.client,
      record,
      listedSize,
      previous,
      log: this.log,
      state: this.ctx.state,
      outputs: this.ctx.outputs,
      limits: this.ctx.limits,
      skipOnError: this.ctx.skipOnError,
      discard: this.discard,
      stopping: this.stopping,
      abandon: abort.signal,
      telemetry: this.ctx.telemetry,
      now: this.ctx.now,
    };
    const settled = readObject(task)
      .then(settle)
      .finally(() => {
        abort.release();
        this.slots.release();
      });
    return { settled };
  }

  /** Adds one read's result to the pass: its counts, the tally, a stop it calls for, the window's progress. */
  private settle(result: ObjectResult, object: ObjectSummary, folder: FolderTime, progress: PartitionProgress): void {
    addCounts(this.summary, result.counts);
    if (result.failure && !result.failure.decision.passOk) this.summary.ok = false;
    if (result.runFailure) this.stopFor(result.runFailure);
    if (result.haltReason) this.halt(result.haltReason);
    if (result.maybeIsolated) this.maybeIsolated.push(result.maybeIsolated);
    if (result.readWhole) this.tally = tallyAfter(this.tally, 'whole');
    if (result.failure?.kind === 'transient') {
      this.tally = tallyAfter(this.tally, 'transient');
      if (this.tally.outage) this.halt(`${TRANSIENT_FAILURES_FOR_AN_OUTAGE} objects in a row failed (transient) with none read whole between them: an outage; this bucket stopped`);
    }
    switch (result.outcome) {
      case 'unfinished':
        progress.firstUnfinished = earlierFolder(progress.firstUnfinished, folder);
        this.summary.left++;
        return;
      case 'retry':
        progress.failing++;
        this.summary.left++;
        return;
      case 'done': {
        progress.newestSettled = laterFolder(progress.newestSettled, folder);
        const modified = object.lastModified?.getTime() ?? 0;
        if (!progress.newest || modified > progress.newest.modified) progress.newest = { key: object.key, modified };
        return;
      }
      default:
        progress.newestSettled = laterFolder(progress.newestSettled, folder);
    }
  }

  /**
   * Transient failures that did not stop the bucket spend an attempt each when other objects were read
   * whole in this pass and no outage stopped it (policy/failure.ts); otherwise they stay transient.
   */
  private judgeIsolatedFailures(): void {
    const candidates = this.maybeIsolated;
    this.maybeIsolated = [];
    if (candidates.length === 0 || !isolatedFailuresAreTheObjects(this.tally)) return;
    const limits = { skipOnError: this.ctx.skipOnError, maxAttempts: this.ctx.limits.maxAttempts };
    for (const { record, attempts, cause } of candidates) {
      const decision = decideFailure('isolated', attempts, limits);
      this.ctx.state.markFailed(record, cause, { kind: 'isolated', countsAttempt: true });
      this.log.error({ key: record.key, kind: 'isolated', attempts: attempts + 1 }, `${cause}; ${nextForFailure('isolated', decision, attempts + 1, limits)}`);
    }
  }

  /** Stop starting objects in this bucket, for this reason (the first stop is the one kept). */
  private halt(reason: string): void {
    this.summary.ok = false;
    this.stop ??= { kind: 'halt', reason };
    this.halted.abort();
  }

  /** An output or the state failed: nothing more can be delivered or recorded in this run. */
  private stopFor(err: unknown): void {
    if (!(err instanceof OutputError) && !(err instanceof StateError)) throw err;
    this.summary.ok = false;
    if (this.stop?.kind !== 'run') this.stop = { kind: 'run', error: err };
    this.halted.abort();
  }

  /** Logs a failure of the bucket's listing and returns its one-line message. */
  private fail(err: unknown, what: string): string {
    if (err instanceof OutputError || err instanceof StateError) {
      this.stopFor(err);
      return err.message;
    }
    this.summary.ok = false;
    const message = isAwsFailure(err)
      ? explainFailure(err, this.bucket, 'list')
      : err instanceof ListingError
        ? err.message
        : `s3://${this.bucket.name}: ${what}: ${describe(err)}`;
    this.log.error({ err: describe(err) }, message);
    return message;
  }
}
