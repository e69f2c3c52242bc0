import type { Logger } from 'pino';
import { explainFailure, isAwsFailure } from './aws/errors.js';
import type { BucketReader, ObjectSummary } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { ChildAborts, Semaphore, forEachLimit } from './concurrency.js';
import { compileDiscardRules, type CompiledDiscardRule } from './decode/discard.js';
import { OutputError, StateError, describe } from './errors.js';
import { ObjectReader, type TransientFailure } from './object-reader.js';
import { TRANSIENT_FAILURES_FOR_AN_OUTAGE, decideFailure, isolatedFailuresAreTheObjects, nextForFailure } from './failure.js';
import { ListingError } from './aws/listing.js';
import { emptySummary, reportPass, warnIfEmpty } from './pass-report.js';
import { LISTINGS_IN_FLIGHT, PRUNE_MARGIN_DAYS, type BucketPassSummary, type CollectorContext, type ObjectOutcome } from './run.js';
import type { KnownObject, ObjectRecord, PartitionOutcome, PartitionRef } from './state/store.js';
import { judgeKey, type Verdict } from './state/verdict.js';
import { bucketLayout, type Layout } from './walk/layout.js';
import type { LocatedKey } from './walk/locate.js';
import { toStored, type Partition } from './walk/partition.js';
import {
  folderPath,
  folderTime,
  listingStart,
  nextListingStart,
  pastDateFolders,
  pruneBefore,
  rescanStart,
  toMs,
  type FolderTime,
  type PassFindings,
} from './walk/window.js';

/** Partition passes recorded in one transaction. */
const PARTITIONS_PER_COMMIT = 64;
/** What a partition's listing learns as its objects settle. */
interface PartitionProgress extends PassFindings {
  /** The newest object (by LastModified) read to the end, for status and the lag metric. */
  newest: { key: string; modified: number } | null;
  /** Objects that failed and are read again by key on a later pass (they do not hold the window). */
  failing: number;
}

/** What the pass has seen of its reads, to tell one object's trouble from an outage (failure.ts). */
interface ReadsSeen {
  whole: number;
  transientInARow: number;
  outage: boolean;
  /** Transient failures that did not stop the bucket, judged at the pass's end. */
  transient: TransientFailure[];
}

/** The listing's StartAfter: the window's first folder, which sorts before every key in it. */
function startAfter(partition: Partition, start: FolderTime): string {
  return partition.prefix + folderPath(start);
}

function partitionTrouble(progress: PartitionProgress): string {
  if (progress.firstUnfinished !== null) return 'objects left unfinished; read again next pass';
  return `${progress.failing} object(s) failed; read again by key next pass`;
}

function laterFolder(a: FolderTime | null, b: FolderTime): FolderTime {
  return a === null || toMs(b) > toMs(a) ? b : a;
}

function earlierFolder(a: FolderTime | null, b: FolderTime): FolderTime {
  return a === null || toMs(b) < toMs(a) ? b : a;
}

/** One pass over one bucket: walk → fetch → decode → emit → commit (→ delete). */
export class BucketCollector {
  private readonly log: Logger;
  private readonly discard: CompiledDiscardRule[];
  private readonly objects: Semaphore;
  private readonly summary: BucketPassSummary;
  /** Set when this bucket must stop starting objects (an error without skip_on_error, an output down). */
  private halted = false;
  /** An output or the state failed: the whole pass stops, and run() rejects with it. */
  private runFailure: OutputError | StateError | null = null;
  /** One abort signal per object read, all aborted when the run is abandoned. */
  private readonly reads: ChildAborts;
  /** Why this bucket stopped starting objects, when an error made it (see stopping()). */
  private haltReason: string | null = null;
  /** Partitions whose listing has not ended yet; the progress bar learns its total when none is left. */
  private listingsLeft = 0;
  /** Whether any listing of this pass returned a key, in the layout or not. */
  private listedAny = false;
  /** Partition passes not yet written to the state (see recordPartitions). */
  private partitionOutcomes: PartitionOutcome[] = [];
  private readonly objectsReader: ObjectReader;
  private readonly seen: ReadsSeen = { whole: 0, transientInARow: 0, outage: false, transient: [] };

  constructor(
    private readonly bucket: BucketConfig,
    private readonly reader: BucketReader,
    private readonly ctx: CollectorContext,
  ) {
    this.log = ctx.log.child({ bucket: bucket.name });
    this.discard = compileDiscardRules(bucket.discardRegex);
    this.objects = new Semaphore(ctx.concurrency);
    this.reads = new ChildAborts(ctx.abandon);
    this.summary = emptySummary(bucket.name);
    this.objectsReader = new ObjectReader(bucket, reader, ctx, this.discard, this.reads, this.log, {
      summary: this.summary,
      stopping: () => this.stopping(),
      halt: (reason) => {
        this.halted = true;
        this.haltReason ??= reason;
      },
      stopRun: (err) => this.stopRun(err),
      readWhole: () => {
        this.seen.whole++;
        this.seen.transientInARow = 0;
      },
      failedTransiently: () => {
        const inARow = ++this.seen.transientInARow;
        if (inARow >= TRANSIENT_FAILURES_FOR_AN_OUTAGE) this.seen.outage = true;
        return inARow;
      },
      judgeAtEnd: (failure) => this.seen.transient.push(failure),
    });
  }

  /** Resolves with the pass summary; rejects only with an OutputError or a StateError, which end the whole run. */
  async run(): Promise<BucketPassSummary> {
    const started = performance.now();
    try {
      const known = this.ctx.state.knownLayout(this.bucket.name, this.bucket.path);
      const layout = await bucketLayout(this.bucket, this.reader, known, this.log, this.ctx.stop);
      this.summary.layout = layout.name;
      if (this.bucket.removeFromBucket) await this.objectsReader.carryOutPendingDeletes();
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
      this.judgeTransientFailures();
    } catch (err) {
      this.fail(err, 'recording the partitions failed');
    }
    this.summary.durationMs = Math.round(performance.now() - started);
    if (this.summary.listed === 0 && !this.runFailure && !this.stopping()) await warnIfEmpty(this.bucket, this.summary, this.reader, this.listedAny, this.log);
    reportPass(this.summary, this.runFailure?.message ?? (this.ctx.stop.aborted ? 'stopped by a signal' : this.haltReason), this.log);
    if (this.runFailure) throw this.runFailure;
    return this.summary;
  }

  private listingEnded(): void {
    this.ctx.telemetry?.listingFinished?.(this.bucket.name);
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
      for await (const object of this.reader.listObjects(partition.prefix, listFrom, this.ctx.stop)) {
        this.listedAny = true;
        if (this.stopping()) break;
        if (pastDateFolders(object.key.slice(partition.prefix.length))) break;
        const started = await this.consider(layout, object, partition, start, progress, true);
        if (started) inFlight.push(started.settled);
      }
      if (this.stopping()) complete = false;
    } catch (err) {
      complete = false;
      error = this.fail(err, `listing ${partition.prefix} failed`);
    }
    if (--this.listingsLeft === 0) this.listingEnded();
    try {
      // Failed keys the window has moved past: read by key, their days not listed again.
      for (const object of this.ctx.state.failedBefore(ref, listFrom)) {
        if (this.stopping()) break;
        const started = await this.consider(layout, { ...object, lastModified: undefined }, partition, start, progress, false);
        if (started) inFlight.push(started.settled);
      }
    } catch (err) {
      error ??= this.fail(err, `reading the failed keys of ${partition.prefix} failed`);
    }
    await Promise.all(inFlight);
    const ok = complete && !this.runFailure && progress.firstUnfinished === null && progress.failing === 0;
    const outcome: PartitionOutcome = {
      partition: ref,
      pass: {
        at: this.ctx.now().getTime(),
        ok,
        error: error ?? (this.runFailure ? this.runFailure.message : ok ? null : partitionTrouble(progress)),
        newest: progress.newest,
      },
    };
    // The start moves only after a listing to the end with nothing lost to an output or the state.
    const next = complete && !this.runFailure ? nextListingStart(normal, progress, now, layout.granularity) : stored;
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

  private stopping(): boolean {
    return this.halted || this.ctx.stop.aborted;
  }

  /** The verdict on a key in `folder` (null: outside the layout), with the state's row. */
  private async judge(key: string, folder: FolderTime | null, windowStart: FolderTime | null): Promise<Verdict> {
    const verdict = judgeKey({
      folder,
      excluded: null,
      onlyLogsAfter: this.bucket.onlyLogsAfter,
      known: folder === null ? undefined : this.ctx.state.lookup(this.bucket.name, key),
      windowStart,
      skipOnError: this.ctx.skipOnError,
      maxAttempts: this.ctx.limits.maxAttempts,
      rescan: (this.ctx.rescanSince ?? null) !== null,
    });
    return verdict;
  }

  /**
   * Reads an object in a free slot, waiting for one; an empty object is done at once. Resolves with the
   * read in progress, wrapped (an async function returning a bare promise would wait for it, and the
   * listing would read one object at a time), or null when a stop came first.
   */
  private async startRead(record: ObjectRecord, previous: KnownObject | undefined, empty: boolean): Promise<{ outcome: Promise<ObjectOutcome> } | null> {
    if (empty) {
      await this.objectsReader.commit(record);
      return { outcome: Promise.resolve('done') };
    }
    this.ctx.telemetry?.objectToRead?.(this.bucket.name);
    await this.objects.acquire();
    if (this.stopping()) {
      this.objects.release();
      return null;
    }
    return { outcome: this.objectsReader.read(record, previous).finally(() => this.objects.release()) };
  }

  /**
   * Decides what to do with one key, listed or (`listed` false) a failed one read again by key; returns
   * the read in progress when the object is read (see startRead).
   */
  private async consider(
    layout: Layout,
    object: ObjectSummary,
    partition: Partition,
    windowStart: FolderTime,
    progress: PartitionProgress,
    listed: boolean,
  ): Promise<{ settled: Promise<void> } | null> {
    const folder = object.key.endsWith('/') ? null : layout.folderOf(object.key, partition);
    const verdict = await this.judge(object.key, folder, windowStart);
    if (folder === null || verdict.why === 'outside-layout') {
      this.log.debug({ key: object.key }, `ignoring key outside the ${layout.name} layout`);
      return null;
    }
    if (listed) {
      this.summary.listed++;
      this.ctx.telemetry?.objectListed?.(this.bucket.name);
    }
    if (verdict.why === 'done' || verdict.why === 'failed-final') {
      progress.newestSettled = laterFolder(progress.newestSettled, folder);
      return null;
    }
    if (!verdict.read) return null;
    if (verdict.resume) this.summary.retried++;
    else this.summary.new++;
    const read = await this.startRead(this.recordOf(object, partition, this.bucket.path), verdict.resume, object.size === 0);
    if (!read) {
      progress.firstUnfinished = earlierFolder(progress.firstUnfinished, folder);
      this.summary.left++;
      return null;
    }
    const settled = read.outcome.then((outcome) => {
      if (outcome === 'unfinished') {
        progress.firstUnfinished = earlierFolder(progress.firstUnfinished, folder);
        this.summary.left++;
        return;
      }
      if (outcome === 'retry') {
        progress.failing++;
        this.summary.left++;
        return;
      }
      progress.newestSettled = laterFolder(progress.newestSettled, folder);
      if (outcome !== 'done') return;
      const modified = object.lastModified?.getTime() ?? 0;
      if (!progress.newest || modified > progress.newest.modified) progress.newest = { key: object.key, modified };
    });
    return { settled };
  }

  private recordOf(object: { key: string; size: number | null; etag: string }, partition: Partition, path: string): ObjectRecord {
    const { account, region } = toStored(partition);
    return { bucket: this.bucket.name, path, account, region, key: object.key, etag: object.etag, size: object.size ?? 0, events: 0, malformed: 0 };
  }

  /**
   * Reads one object a notification named (SQS), through the same verdict, decode and output path as
   * a listing. 'done' also when the state already had it; only then may the notification be let go.
   */
  async readNotified(object: { key: string; size: number | null; etag: string }, located: LocatedKey): Promise<ObjectOutcome> {
    const verdict = await this.judge(object.key, folderTime(located.day, null), null);
    if (verdict.why === 'done') {
      // A pass (run) carries out the deletes it owes at its start; a notification does it for its key.
      if (verdict.deletePending && this.bucket.removeFromBucket) await this.objectsReader.remove(object.key);
      return 'done';
    }
    if (!verdict.read) return 'failed';
    const partition: Partition =
      located.layout === 'native' ? { kind: 'native', account: located.account, region: located.region, prefix: '' } : { kind: 'firehose', prefix: located.path };
    const record = this.recordOf(object, partition, located.path);
    const read = await this.startRead(record, verdict.resume, object.size === 0);
    return read ? read.outcome : 'unfinished';
  }

  /**
   * Transient failures that did not stop the bucket spend an attempt each when other objects were read
   * whole in this pass and no outage stopped it (failure.ts); otherwise they stay transient.
   */
  private judgeTransientFailures(): void {
    const { transient, whole, outage } = this.seen;
    if (transient.length === 0) return;
    this.seen.transient = [];
    if (!isolatedFailuresAreTheObjects(whole, outage)) return;
    const limits = { skipOnError: this.ctx.skipOnError, maxAttempts: this.ctx.limits.maxAttempts };
    for (const { record, attempts, cause } of transient) {
      const decision = decideFailure('isolated', attempts, limits);
      this.ctx.state.markFailed(record, cause, { kind: 'isolated', countsAttempt: true });
      this.log.error({ key: record.key, kind: 'isolated', attempts: attempts + 1 }, `${cause}; ${nextForFailure('isolated', decision, attempts + 1, limits)}`);
    }
  }

  /** The output or state failure that stopped this collector, if one did. */
  get runFailed(): OutputError | StateError | null {
    return this.runFailure;
  }

  /** An output or the state failed: nothing more can be delivered or recorded in this run. */
  private stopRun(err: unknown): void {
    if (!(err instanceof OutputError) && !(err instanceof StateError)) throw err;
    this.runFailure ??= err;
    this.halted = true;
    this.summary.ok = false;
  }

  /** Logs a failure of the bucket's listing and returns its one-line message. */
  private fail(err: unknown, what: string): string {
    if (err instanceof OutputError || err instanceof StateError) {
      this.stopRun(err);
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
