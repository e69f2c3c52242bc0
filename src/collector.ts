import type { Logger } from 'pino';
import { explainAwsError, isAwsFailure, type S3Operation } from './aws/errors.js';
import type { BucketReader, ObjectSummary } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { parseRegion } from './config/values.js';
import { Semaphore, forEachLimit } from './concurrency.js';
import { compileDiscardRules, type CompiledDiscardRule } from './decode/discard.js';
import { FetchError } from './decode/decompress.js';
import { decodeObject } from './decode/object.js';
import type { Outputs } from './emit/index.js';
import { OutputError, describe } from './errors.js';
import { retryable, type KnownObject, type ObjectRecord, type PartitionRef, type StateStore } from './state/store.js';
import type { Telemetry } from './telemetry.js';
import type { LocatedKey } from './walk/locate.js';
import { GRACE_DAYS, addDays, dayFolder, daysFrom, listingWindow, utcDay } from './walk/dates.js';
import { parseFirehoseKey } from './walk/firehose.js';
import { accountPrefix, lastSegment, logsRoot, parseNativeKey, partitionOf, type Partition } from './walk/native.js';

/** Days of processed keys kept behind the listing window before they are pruned. */
export const PRUNE_MARGIN_DAYS = 2;
/** Reads of one object within a pass when its body is cut off in transit. */
const IMMEDIATE_REFETCHES = 3;
/** Partitions listed at once; objects are bounded separately by the pass's concurrency. */
const PARTITION_CONCURRENCY = 4;

export interface Limits {
  /** Passes that may fail on one object under skip_on_error before it is left failed for good. */
  maxAttempts: number;
  maxObjectBytes: number;
  maxDocumentBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxAttempts: 10,
  maxObjectBytes: 1024 * 1024 * 1024,
  maxDocumentBytes: 16 * 1024 * 1024,
};

export interface CollectorContext {
  log: Logger;
  state: StateStore;
  outputs: Outputs;
  /** GetObject streams in flight at once, across all partitions of the bucket. */
  concurrency: number;
  skipOnError: boolean;
  limits: Limits;
  /** An S3 connection silent this long fails the request or the body being read. */
  s3TimeoutMs: number;
  /** Stop requested: start no new object; those in flight finish. */
  stop: AbortSignal;
  /** Give up on objects in flight too; they are not recorded and are read again next time. */
  abandon: AbortSignal;
  now(): Date;
  telemetry?: Telemetry;
}

export type LayoutName = 'native' | 'firehose';

export interface BucketPassSummary {
  bucket: string;
  layout: LayoutName;
  ok: boolean;
  partitions: number;
  /** Keys listed inside the day window and inside the layout. */
  listed: number;
  /** Keys listed that the state did not know. */
  new: number;
  /** Failed objects read again this pass. */
  retried: number;
  done: number;
  /** Objects that failed this pass. */
  failed: number;
  events: number;
  discarded: number;
  /** Documents that hold no finding (other EventBridge detail-types …). */
  skipped: number;
  malformed: number;
  bytes: number;
  deleted: number;
  durationMs: number;
}

/** Where a bucket's keys are and which of them belong to a partition. */
interface Layout {
  name: LayoutName;
  partitions(): Promise<Partition[]>;
  /** The day folder a key of the partition sits in, or null for a key outside the layout. */
  dayOf(key: string, partition: Partition): string | null;
}

export type ObjectOutcome = 'done' | 'failed' | 'unfinished';

/** What a partition's listing learns as its objects settle. */
interface PartitionProgress {
  /** Days holding an object to read again: the window may not move past them. */
  unfinishedDays: Set<string>;
  newest: { key: string; modified: number } | null;
}

/** One pass over one bucket: walk → fetch → decode → emit → commit (→ delete). */
export class BucketCollector {
  private readonly log: Logger;
  private readonly discard: CompiledDiscardRule[];
  private readonly objects: Semaphore;
  private readonly summary: BucketPassSummary;
  /** Set when this bucket must stop starting objects (an error without skip_on_error, an output down). */
  private halted = false;
  private outputFailure: OutputError | null = null;
  private readonly today: string;

  constructor(
    private readonly bucket: BucketConfig,
    private readonly reader: BucketReader,
    private readonly ctx: CollectorContext,
  ) {
    this.log = ctx.log.child({ bucket: bucket.name });
    this.discard = compileDiscardRules(bucket.discardRegex);
    this.objects = new Semaphore(ctx.concurrency);
    this.today = utcDay(ctx.now());
    this.summary = {
      bucket: bucket.name,
      layout: 'native',
      ok: true,
      partitions: 0,
      listed: 0,
      new: 0,
      retried: 0,
      done: 0,
      failed: 0,
      events: 0,
      discarded: 0,
      skipped: 0,
      malformed: 0,
      bytes: 0,
      deleted: 0,
      durationMs: 0,
    };
  }

  /** Resolves with the pass summary; rejects only with an OutputError, which ends the whole run. */
  async run(): Promise<BucketPassSummary> {
    const started = performance.now();
    try {
      const layout = await this.detectLayout();
      this.summary.layout = layout.name;
      const partitions = await layout.partitions();
      this.summary.partitions = partitions.length;
      await forEachLimit(partitions, PARTITION_CONCURRENCY, (partition) => this.collectPartition(layout, partition));
    } catch (err) {
      this.fail(err, 'listing the bucket failed');
    }
    this.summary.durationMs = Math.round(performance.now() - started);
    if (this.outputFailure) throw this.outputFailure;
    const { bucket: _bucket, ...fields } = this.summary;
    const s = this.summary;
    this.log.info(
      fields,
      `bucket pass ${s.ok ? 'done' : 'FAILED'} (${s.layout}): ${s.partitions} partitions, ${s.listed} objects listed, ` +
        `${s.new} new, ${s.retried} retried, ${s.done} done, ${s.failed} failed, ${s.events} events in ${s.durationMs} ms`,
    );
    return this.summary;
  }

  /** Native exports when `<path>AWSLogs/` holds anything; otherwise the Firehose date folders under `<path>`. */
  private async detectLayout(): Promise<Layout> {
    const root = logsRoot(this.bucket);
    if (await this.reader.exists(root)) {
      this.log.debug({ prefix: root }, 'native GuardDuty export layout');
      return {
        name: 'native',
        partitions: () => this.nativePartitions(),
        dayOf: (key, partition) => {
          const parsed = parseNativeKey(this.bucket, key);
          return parsed && parsed.account === partition.account && parsed.region === partition.region ? parsed.day : null;
        },
      };
    }
    this.log.debug({ prefix: this.bucket.path }, `no ${root}: Firehose layout (date folders under the path)`);
    return {
      name: 'firehose',
      partitions: async () => [{ account: '', region: '', prefix: this.bucket.path }],
      dayOf: (key) => parseFirehoseKey(this.bucket.path, key)?.day ?? null,
    };
  }

  private async nativePartitions(): Promise<Partition[]> {
    const root = logsRoot(this.bucket);
    const accounts = this.bucket.accountIds ?? (await this.discover(root, (name) => /^\d{12}$/.test(name), 'account'));
    const partitions: Partition[] = [];
    for (const account of accounts) {
      const regions =
        this.bucket.regions ?? (await this.discover(accountPrefix(this.bucket, account), (name) => parseRegion(name).ok, 'region'));
      for (const region of regions) partitions.push(partitionOf(this.bucket, account, region));
    }
    return partitions;
  }

  private async discover(prefix: string, accept: (name: string) => boolean, what: string): Promise<string[]> {
    const names: string[] = [];
    for await (const folder of this.reader.listFolders(prefix)) {
      const name = lastSegment(folder);
      if (accept(name)) names.push(name);
      else this.log.debug({ folder }, `ignoring folder that is not an ${what}`);
    }
    return names;
  }

  private async collectPartition(layout: Layout, partition: Partition): Promise<void> {
    const ref: PartitionRef = { bucket: this.bucket.name, ...partition };
    const window = listingWindow(this.ctx.state.cursor(ref), this.bucket.onlyLogsAfter, this.today);
    const progress: PartitionProgress = { unfinishedDays: new Set<string>(), newest: null };
    const inFlight: Promise<void>[] = [];
    let complete = true;
    let error: string | null = null;
    try {
      this.log.debug({ prefix: partition.prefix, first: window.first, last: window.last }, 'listing partition');
      for (const day of daysFrom(window.first, window.last)) {
        this.log.trace({ prefix: partition.prefix + dayFolder(day) }, 'listing day folder');
        for await (const object of this.reader.listObjects(partition.prefix + dayFolder(day))) {
          if (this.stopping()) break;
          const started = await this.consider(layout, object, partition, day, progress);
          if (started) inFlight.push(started.settled);
        }
        if (this.stopping()) {
          complete = false;
          break;
        }
      }
    } catch (err) {
      complete = false;
      error = this.fail(err, `listing ${partition.prefix} failed`);
    }
    await Promise.all(inFlight);
    const ok = complete && !this.outputFailure && progress.unfinishedDays.size === 0;
    this.ctx.state.recordPartitionPass(ref, {
      at: this.ctx.now().getTime(),
      ok,
      error: error ?? (this.outputFailure ? this.outputFailure.message : ok ? null : 'objects left unfinished; read again next pass'),
      newest: progress.newest,
    });
    if (!complete || this.outputFailure) return;
    // The window may move past a day only once every object in it is settled.
    const cursor = [...progress.unfinishedDays].sort()[0] ?? window.last;
    this.ctx.state.setCursor(ref, cursor);
    const pruned = this.ctx.state.prune(ref, dayFolder(addDays(cursor, -GRACE_DAYS - PRUNE_MARGIN_DAYS)));
    if (pruned > 0) this.log.debug({ prefix: partition.prefix, pruned }, 'pruned state of days behind the window');
  }

  private stopping(): boolean {
    return this.halted || this.ctx.stop.aborted;
  }

  private retryable(attempts: number): boolean {
    return retryable(this.ctx.skipOnError, attempts, this.ctx.limits.maxAttempts);
  }

  /**
   * What the state says of a key before it is read: settled (done, its pending delete carried out; or
   * failed for good), or to be read, resuming what an earlier attempt left (nothing for a new key).
   */
  private async fromState(key: string): Promise<{ settled: 'done' | 'failed' } | { resume: KnownObject | undefined }> {
    const known = this.ctx.state.lookup(this.bucket.name, key);
    if (known?.status === 'done') {
      if (known.deletePending && this.bucket.removeFromBucket) await this.remove(key);
      return { settled: 'done' };
    }
    if (known && !this.retryable(known.attempts)) return { settled: 'failed' };
    return { resume: known };
  }

  /**
   * Reads an object in a free slot, waiting for one; an empty object is done at once. Resolves with the
   * read in progress, wrapped (an async function returning a bare promise would wait for it, and the
   * listing would read one object at a time), or null when a stop came first.
   */
  private async startRead(record: ObjectRecord, previous: KnownObject | undefined, empty: boolean): Promise<{ outcome: Promise<ObjectOutcome> } | null> {
    if (empty) {
      await this.commit(record);
      return { outcome: Promise.resolve('done') };
    }
    this.ctx.telemetry?.objectToRead?.(this.bucket.name);
    await this.objects.acquire();
    if (this.stopping()) {
      this.objects.release();
      return null;
    }
    return { outcome: this.collectObject(record, previous).finally(() => this.objects.release()) };
  }

  /** Decides what to do with one listed key; returns the read in progress when the object is read (see startRead). */
  private async consider(
    layout: Layout,
    object: ObjectSummary,
    partition: Partition,
    day: string,
    progress: PartitionProgress,
  ): Promise<{ settled: Promise<void> } | null> {
    if (object.key.endsWith('/') || layout.dayOf(object.key, partition) !== day) {
      this.log.debug({ key: object.key }, `ignoring key outside the ${layout.name} layout`);
      return null;
    }
    this.summary.listed++;
    this.ctx.telemetry?.objectListed?.(this.bucket.name);
    const state = await this.fromState(object.key);
    if ('settled' in state) return null;
    if (state.resume) this.summary.retried++;
    else this.summary.new++;
    const record: ObjectRecord = {
      bucket: this.bucket.name,
      path: this.bucket.path,
      account: partition.account,
      region: partition.region,
      key: object.key,
      etag: object.etag,
      size: object.size,
      events: 0,
      malformed: 0,
    };
    const read = await this.startRead(record, state.resume, object.size === 0);
    if (!read) {
      progress.unfinishedDays.add(day);
      return null;
    }
    const settled = read.outcome.then((outcome) => {
      if (outcome === 'unfinished') progress.unfinishedDays.add(day);
      if (outcome !== 'done') return;
      const modified = object.lastModified?.getTime() ?? 0;
      if (!progress.newest || modified > progress.newest.modified) progress.newest = { key: object.key, modified };
    });
    return { settled };
  }

  /**
   * Reads one object a notification named (SQS), through the same state, decode and output path as a
   * listing. 'done' also when the state already had it; only then may the notification be let go.
   */
  async readNotified(object: { key: string; size: number | null; etag: string }, located: LocatedKey): Promise<ObjectOutcome> {
    const state = await this.fromState(object.key);
    if ('settled' in state) return state.settled;
    const record: ObjectRecord = {
      bucket: this.bucket.name,
      path: located.path,
      account: located.layout === 'native' ? located.account : '',
      region: located.layout === 'native' ? located.region : '',
      key: object.key,
      etag: object.etag,
      size: object.size ?? 0,
      events: 0,
      malformed: 0,
    };
    const read = await this.startRead(record, state.resume, object.size === 0);
    return read ? read.outcome : 'unfinished';
  }

  /** The output failure that stopped this collector, if one did. */
  get outputFailed(): OutputError | null {
    return this.outputFailure;
  }

  /** Reads one object to the outputs: done, failed for good, or unfinished (read again next pass). */
  private async collectObject(record: ObjectRecord, previous: KnownObject | undefined): Promise<ObjectOutcome> {
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
      try {
        const { body, contentLength } = await this.reader.getObject(record.key, this.ctx.abandon);
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
            this.summary.events += events.length;
            thisRead.events += events.length;
          },
          malformed: (line, reason) => log.error({ line }, `${where} line ${line}: ${reason}`),
          skipped: (line, reason) => log.debug({ line }, `no finding in document: ${reason}`),
          expectedBytes: contentLength,
          skipEvents: delivered,
          maxObjectBytes: this.ctx.limits.maxObjectBytes,
          maxDocumentBytes: this.ctx.limits.maxDocumentBytes,
          bodyIdleMs: this.ctx.s3TimeoutMs,
        });
        this.summary.discarded += counts.discarded;
        this.summary.skipped += counts.skipped;
        this.summary.malformed += counts.malformed;
        await this.commit({ ...record, events: counts.events, malformed: counts.malformed });
        // The good findings were delivered and the bad lines cannot be mended by reading again; without
        // skip_on_error the operator still hears about it through the exit status.
        if (counts.malformed > 0 && !this.ctx.skipOnError) {
          this.summary.ok = false;
          this.halted = true;
        }
        log.debug({ encoding: counts.encoding, events: counts.events, findings: counts.findings, discarded: counts.discarded, bytes: record.size }, 'object done');
        return 'done';
      } catch (err) {
        if (err instanceof OutputError) {
          // Not the object's fault: remember how far it got, so that the next pass neither loses nor
          // repeats, and spend none of its attempts.
          this.ctx.state.markFailed({ ...record, events: delivered }, err.message, false);
          this.outputFailure ??= err;
          this.halted = true;
          return 'unfinished';
        }
        if (this.ctx.abandon.aborted) return 'unfinished';
        // A body cut off or reset in transit: read the object again at once, from where it stopped.
        if (err instanceof FetchError && fetch < IMMEDIATE_REFETCHES && !this.stopping()) {
          log.warn({ err: describe(err), fetch }, `${where}: ${describe(err)}; reading it again`);
          continue;
        }
        return this.objectFailed(record, previous, err, delivered, log);
      }
    }
  }

  private objectFailed(record: ObjectRecord, previous: KnownObject | undefined, err: unknown, delivered: number, log: Logger): ObjectOutcome {
    this.summary.failed++;
    const cause = this.explain(err, 'get', record.key);
    this.ctx.state.markFailed({ ...record, events: delivered }, cause, true);
    const attempts = (previous?.attempts ?? 0) + 1;
    if (!this.ctx.skipOnError) {
      log.error({ err: describe(err), attempts }, `${cause}; stopping this bucket (skip_on_error is no), it is read again next pass`);
      this.summary.ok = false;
      this.halted = true;
      return 'unfinished';
    }
    const retry = this.retryable(attempts);
    log.error(
      { err: describe(err), attempts },
      `${cause}; skipped (skip_on_error), ` +
        (retry ? `attempt ${attempts} of ${this.ctx.limits.maxAttempts}, tried again next pass` : `left failed after ${attempts} attempts`),
    );
    return retry ? 'unfinished' : 'failed';
  }

  private async commit(record: ObjectRecord): Promise<void> {
    this.ctx.state.markDone(record, this.bucket.removeFromBucket);
    this.summary.done++;
    this.summary.bytes += record.size;
    // Deleted only once recorded as done: a crash in between leaves a delete pending, never a loss.
    if (this.bucket.removeFromBucket) await this.remove(record.key);
  }

  private async remove(key: string): Promise<void> {
    try {
      await this.reader.deleteObject(key);
      this.ctx.state.markDeleted(this.bucket.name, key);
      this.summary.deleted++;
    } catch (err) {
      // The events are delivered and recorded: a delete that fails is retried on later passes, and
      // never makes the object be read again.
      this.log.warn({ key, err: describe(err) }, `${this.explain(err, 'delete', key)}; the delete is tried again on a later pass`);
    }
  }

  /** One line naming bucket, key and cause; for AWS failures, also the fix. */
  private explain(err: unknown, operation: S3Operation, key?: string): string {
    if (isAwsFailure(err)) return explainAwsError(err, { bucket: this.bucket.name, key, operation, endpoint: this.bucket.serviceEndpoint });
    return `s3://${this.bucket.name}${key ? `/${key}` : ''}: ${describe(err)}`;
  }

  /** Logs a failure of the bucket's listing and returns its one-line message. */
  private fail(err: unknown, what: string): string {
    if (err instanceof OutputError) {
      this.outputFailure ??= err;
      return err.message;
    }
    this.summary.ok = false;
    const message = isAwsFailure(err) ? this.explain(err, 'list') : `s3://${this.bucket.name}: ${what}: ${describe(err)}`;
    this.log.error({ err: describe(err) }, message);
    return message;
  }
}
