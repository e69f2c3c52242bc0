import type { Logger } from 'pino';
import type { BucketReader, ObjectSummary } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { parseRegion } from './config/values.js';
import { Semaphore, forEachLimit } from './concurrency.js';
import { compileDiscardRules, type CompiledDiscardRule } from './decode/discard.js';
import { FetchError } from './decode/decompress.js';
import { decodeObject } from './decode/object.js';
import type { Outputs } from './emit/index.js';
import { OutputError, describe } from './errors.js';
import type { ObjectRecord, PartitionRef, StateStore } from './state/store.js';
import { GRACE_DAYS, addDays, dayFolder, daysFrom, listingWindow, utcDay } from './walk/dates.js';
import { accountPrefix, lastSegment, logsRoot, parseNativeKey, partitionOf, type Partition } from './walk/native.js';

/** Days of processed keys kept behind the listing window before they are pruned. */
export const PRUNE_MARGIN_DAYS = 2;
/** Partitions listed at once; objects are bounded separately by the pass's concurrency. */
const PARTITION_CONCURRENCY = 4;

export interface CollectorContext {
  log: Logger;
  state: StateStore;
  outputs: Outputs;
  /** GetObject streams in flight at once, across all partitions of the bucket. */
  concurrency: number;
  skipOnError: boolean;
  /** Stop requested: start no new object; those in flight finish. */
  stop: AbortSignal;
  /** Give up on objects in flight too; they are not recorded and are read again next time. */
  abandon: AbortSignal;
  now(): Date;
}

export interface BucketPassSummary {
  bucket: string;
  layout: 'native' | 'none';
  ok: boolean;
  partitions: number;
  /** Keys listed inside the day window. */
  listed: number;
  /** Keys listed that the state did not know. */
  new: number;
  done: number;
  /** Objects that could not be read or decoded this pass. */
  failed: number;
  events: number;
  discarded: number;
  malformed: number;
  bytes: number;
  deleted: number;
  durationMs: number;
}

/** Fetch, list and delete problems leave an object to a later pass; decode problems are the object's own. */
function isRetryable(err: unknown): boolean {
  return err instanceof FetchError || (err as { $metadata?: unknown }).$metadata !== undefined;
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
      layout: 'none',
      ok: true,
      partitions: 0,
      listed: 0,
      new: 0,
      done: 0,
      failed: 0,
      events: 0,
      discarded: 0,
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
      const partitions = await this.discoverPartitions();
      this.summary.partitions = partitions.length;
      await forEachLimit(partitions, PARTITION_CONCURRENCY, (partition) => this.collectPartition(partition));
    } catch (err) {
      this.fail(err, 'listing the bucket failed');
    }
    this.summary.durationMs = Math.round(performance.now() - started);
    if (this.outputFailure) throw this.outputFailure;
    const { bucket: _bucket, ...fields } = this.summary;
    this.log.info(
      fields,
      `bucket pass ${this.summary.ok ? 'done' : 'FAILED'}: ${this.summary.partitions} partitions, ${this.summary.listed} objects listed, ` +
        `${this.summary.new} new, ${this.summary.done} done, ${this.summary.failed} failed, ${this.summary.events} events in ${this.summary.durationMs} ms`,
    );
    return this.summary;
  }

  private async discoverPartitions(): Promise<Partition[]> {
    const root = logsRoot(this.bucket);
    if (!(await this.reader.exists(root))) {
      this.log.info({ prefix: root }, `no GuardDuty export under s3://${this.bucket.name}/${root}; nothing to read`);
      return [];
    }
    this.summary.layout = 'native';
    this.log.debug({ prefix: root }, 'native GuardDuty export layout');
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

  private async collectPartition(partition: Partition): Promise<void> {
    const ref: PartitionRef = { bucket: this.bucket.name, ...partition };
    const window = listingWindow(this.ctx.state.cursor(ref), this.bucket.onlyLogsAfter, this.today);
    const unfinishedDays = new Set<string>();
    const inFlight: Promise<void>[] = [];
    let complete = true;
    try {
      this.log.debug({ prefix: partition.prefix, first: window.first, last: window.last }, 'listing partition');
      for (const day of daysFrom(window.first, window.last)) {
        this.log.trace({ prefix: partition.prefix + dayFolder(day) }, 'listing day folder');
        for await (const object of this.reader.listObjects(partition.prefix + dayFolder(day))) {
          if (this.stopping()) break;
          const task = await this.consider(object, partition, day, unfinishedDays);
          if (task) inFlight.push(task);
        }
        if (this.stopping()) {
          complete = false;
          break;
        }
      }
    } catch (err) {
      complete = false;
      this.fail(err, `listing ${partition.prefix} failed`);
    }
    await Promise.all(inFlight);
    if (!complete || this.outputFailure) return;
    const cursor = [...unfinishedDays].sort()[0] ?? window.last;
    this.ctx.state.setCursor(ref, cursor);
    const pruned = this.ctx.state.prune(ref, dayFolder(addDays(cursor, -GRACE_DAYS - PRUNE_MARGIN_DAYS)));
    if (pruned > 0) this.log.debug({ prefix: partition.prefix, pruned }, 'pruned state of days behind the window');
  }

  private stopping(): boolean {
    return this.halted || this.ctx.stop.aborted;
  }

  /** Decides what to do with one listed key; returns the running task when the object is read. */
  private async consider(
    object: ObjectSummary,
    partition: Partition,
    day: string,
    unfinishedDays: Set<string>,
  ): Promise<Promise<void> | null> {
    const parsed = parseNativeKey(this.bucket, object.key);
    if (object.key.endsWith('/') || !parsed || parsed.account !== partition.account || parsed.region !== partition.region) {
      this.log.debug({ key: object.key }, 'ignoring key outside the GuardDuty export layout');
      return null;
    }
    this.summary.listed++;
    const known = this.ctx.state.lookup(this.bucket.name, object.key);
    if (known) {
      if (known.deletePending && this.bucket.removeFromBucket) await this.remove(object.key);
      return null;
    }
    this.summary.new++;
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
    if (object.size === 0) {
      await this.commit(record);
      return null;
    }
    await this.objects.acquire();
    if (this.stopping()) {
      this.objects.release();
      unfinishedDays.add(day);
      return null;
    }
    return this.collectObject(record)
      .then((finished) => {
        if (!finished) unfinishedDays.add(day);
      })
      .finally(() => this.objects.release());
  }

  /** Reads one object to the outputs; true when it is settled (recorded done or failed). */
  private async collectObject(record: ObjectRecord): Promise<boolean> {
    const log = this.log.child({ key: record.key });
    try {
      const { body, contentLength } = await this.reader.getObject(record.key, this.ctx.abandon);
      const source = { bucket: this.bucket.name, key: record.key };
      const counts = await decodeObject(body, {
        origin: { bucket: this.bucket.name, key: record.key, accountAlias: this.bucket.accountAlias },
        discard: this.discard,
        deliver: (events) => this.ctx.outputs.deliver(events, source),
        malformed: (line, reason) => log.error({ line }, `s3://${this.bucket.name}/${record.key} line ${line}: ${reason}`),
        skipped: (line, reason) => log.debug({ line }, `no finding in document: ${reason}`),
        expectedBytes: contentLength,
      });
      this.summary.events += counts.events;
      this.summary.discarded += counts.discarded;
      this.summary.malformed += counts.malformed;
      await this.commit({ ...record, events: counts.events, malformed: counts.malformed });
      // The good findings were delivered and the bad ones cannot be mended by reading again; without
      // skip_on_error the operator still hears about it through the exit status.
      if (counts.malformed > 0 && !this.ctx.skipOnError) this.summary.ok = false;
      log.debug({ events: counts.events, findings: counts.findings, discarded: counts.discarded, bytes: record.size }, 'object done');
      return true;
    } catch (err) {
      if (err instanceof OutputError) {
        this.outputFailure ??= err;
        this.halted = true;
        return false;
      }
      if (this.ctx.abandon.aborted) return false;
      this.summary.failed++;
      const where = `s3://${this.bucket.name}/${record.key}`;
      if (isRetryable(err)) {
        log.error({ err: describe(err) }, `${where}: ${describe(err)}; it will be read again on the next pass`);
        this.summary.ok = false;
        if (!this.ctx.skipOnError) this.halted = true;
        return false;
      }
      if (this.ctx.skipOnError) {
        log.error({ err: describe(err) }, `${where}: cannot decode: ${describe(err)}; skipped (skip_on_error) and recorded as failed`);
        this.ctx.state.markFailed(record, describe(err));
        return true;
      }
      log.error({ err: describe(err) }, `${where}: cannot decode: ${describe(err)}; stopping this bucket (skip_on_error is no)`);
      this.summary.ok = false;
      this.halted = true;
      return false;
    }
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
      this.log.warn({ key, err: describe(err) }, `could not delete s3://${this.bucket.name}/${key}: ${describe(err)}; will try again on a later pass`);
    }
  }

  private fail(err: unknown, what: string): void {
    if (err instanceof OutputError) {
      this.outputFailure ??= err;
      return;
    }
    this.summary.ok = false;
    this.log.error({ err: describe(err) }, `s3://${this.bucket.name}: ${what}: ${describe(err)}`);
  }
}
