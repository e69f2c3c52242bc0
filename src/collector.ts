import type { Logger } from 'pino';
import { explainAwsError, isAwsFailure, type S3Operation } from './aws/errors.js';
import type { BucketReader, ObjectSummary } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { ChildAborts, Semaphore, forEachLimit } from './concurrency.js';
import { compileDiscardRules, type CompiledDiscardRule } from './decode/discard.js';
import { FetchError } from './decode/decompress.js';
import { decodeObject } from './decode/object.js';
import type { Outputs } from './emit/index.js';
import { OutputError, StateError, describe } from './errors.js';
import { classifyFailure, decideFailure } from './failure.js';
import type { KnownObject, ObjectRecord, PartitionOutcome, PartitionRef, StateStore } from './state/store.js';
import { judgeKey, type Verdict } from './state/verdict.js';
import type { Telemetry } from './telemetry.js';
import type { LocatedKey } from './walk/locate.js';
import { parseFirehoseKey } from './walk/firehose.js';
import { accountPrefix, lastSegment, logsRoot, parseNativeKey, partitionExclusion, partitionOf, type Partition } from './walk/native.js';
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
  type Granularity,
  type PassFindings,
} from './walk/window.js';

/** Days of processed keys kept behind the listing window before they are pruned. */
export const PRUNE_MARGIN_DAYS = 2;
/** Deletes owed by an earlier run carried out at once. */
const PENDING_DELETES_IN_FLIGHT = 8;
/** Partition passes recorded in one transaction. */
const PARTITIONS_PER_COMMIT = 64;
/** Reads of one object within a pass when its body is cut off in transit. */
const IMMEDIATE_REFETCHES = 3;
/**
 * Partitions listed at once (and regions discovered at once): an organisation's bucket has hundreds
 * of partitions, each one LIST per pass, and at 20 ms a request they must overlap to stay within
 * seconds. Objects read are bounded separately, by the pass's concurrency.
 */
export const LISTINGS_IN_FLIGHT = 48;

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
  /** An operator's rescan (`--rescan-since`): list every partition from this day, read what is not done. */
  rescanSince?: string | null;
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
  /** Why the pass ended early (a stop signal, an output or the state down, a halt on an error), or null. */
  interrupted: string | null;
  /** Objects left to read on a later pass: failed for now, or not started because the pass ended early. */
  left: number;
}

/** Where a bucket's keys are and which of them belong to a partition. */
interface Layout {
  name: LayoutName;
  granularity: Granularity;
  partitions(): Promise<Partition[]>;
  /** The folder a key of the partition sits in, or null for a key outside the layout. */
  folderOf(key: string, partition: Partition): FolderTime | null;
}

export type ObjectOutcome = 'done' | 'failed' | 'unfinished';

/** What a partition's listing learns as its objects settle. */
interface PartitionProgress extends PassFindings {
  /** The newest object (by LastModified) read to the end, for status and the lag metric. */
  newest: { key: string; modified: number } | null;
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

  constructor(
    private readonly bucket: BucketConfig,
    private readonly reader: BucketReader,
    private readonly ctx: CollectorContext,
  ) {
    this.log = ctx.log.child({ bucket: bucket.name });
    this.discard = compileDiscardRules(bucket.discardRegex);
    this.objects = new Semaphore(ctx.concurrency);
    this.reads = new ChildAborts(ctx.abandon);
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
      interrupted: null,
      left: 0,
    };
  }

  /** Resolves with the pass summary; rejects only with an OutputError or a StateError, which end the whole run. */
  async run(): Promise<BucketPassSummary> {
    const started = performance.now();
    try {
      const layout = await this.detectLayout();
      this.summary.layout = layout.name;
      if (this.bucket.removeFromBucket) await this.carryOutPendingDeletes();
      const partitions = await layout.partitions();
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
    } catch (err) {
      this.fail(err, 'recording the partitions failed');
    }
    this.summary.durationMs = Math.round(performance.now() - started);
    if (this.summary.listed === 0 && !this.runFailure && !this.stopping()) await this.warnIfEmpty();
    this.reportPass();
    if (this.runFailure) throw this.runFailure;
    return this.summary;
  }

  private listingEnded(): void {
    this.ctx.telemetry?.listingFinished?.(this.bucket.name);
  }

  /** The one line per bucket pass: what happened, and, when it ended early, why and what is left. */
  private reportPass(): void {
    const s = this.summary;
    s.interrupted = this.runFailure?.message ?? (this.ctx.stop.aborted ? 'stopped by a signal' : this.haltReason);
    if (s.interrupted !== null) s.ok = false;
    const { bucket: _bucket, ...fields } = s;
    const outcome = s.interrupted !== null ? 'INTERRUPTED' : s.ok ? 'done' : 'FAILED';
    const counts =
      `${s.partitions} partitions, ${s.listed} objects listed, ${s.new} new, ${s.retried} retried, ${s.done} done, ` +
      `${s.failed} failed, ${s.events} events in ${s.durationMs} ms`;
    const why = s.interrupted !== null ? `: ${s.interrupted}; ${s.left} object(s) left for the next pass` : '';
    this.log.info(fields, `bucket pass ${outcome} (${s.layout}): ${counts}${why}`);
  }

  /**
   * A pass that found nothing: say where it looked and, when the bucket shows why, what to change (the
   * worst aws-s3 complaint is a wrong prefix that silently reads nothing). Costs requests only then.
   */
  private async warnIfEmpty(): Promise<void> {
    try {
      const prefix = this.summary.layout === 'native' ? logsRoot(this.bucket) : this.bucket.path;
      // A <path> holding AWSLogs/ can never match either layout, whatever is under it.
      const misplaced = this.bucket.path.startsWith('AWSLogs/');
      if (!misplaced && (this.summary.partitions > 0 || this.listedAny) && (await this.reader.exists(prefix))) return;
      const hints: string[] = [];
      if (misplaced) hints.push(`<path> "${this.bucket.path}" starts with AWSLogs/, which the collector adds itself: drop it from <path>`);
      if (this.summary.layout === 'native' && this.summary.partitions === 0 && (await this.reader.exists(prefix))) {
        hints.push(
          `objects exist under ${prefix} but discovering its account and region folders returned none (some S3-compatible stores return no CommonPrefixes for nested prefixes): ` +
            'set <aws_account_id> and <regions>',
        );
      } else if (this.bucket.path !== '' && !hints.length) {
        const top = [];
        for await (const folder of this.reader.listFolders('')) {
          top.push(folder);
          if (top.length >= 20) break;
        }
        if (top.includes('AWSLogs/')) hints.push(`AWSLogs/ is at the bucket root while <path> is "${this.bucket.path}": remove <path>, or check it`);
        else if (top.length > 0) hints.push(`the bucket root holds ${top.slice(0, 5).join(', ')}${top.length > 5 ? ' …' : ''}`);
      }
      const where = `s3://${this.bucket.name}/${prefix}`;
      this.log.warn({ prefix, hints }, `nothing found under ${where} this pass${hints.length ? `; ${hints.join('; ')}` : ''}`);
    } catch (err) {
      this.log.debug({ err: describe(err) }, 'looking for why the bucket is empty failed');
    }
  }

  /**
   * The layout the state knows the bucket by; for a bucket it never read, native exports when
   * `<path>AWSLogs/` holds anything, else the Firehose date folders under `<path>`. Never guessed again
   * from what happens to be listed: a bucket emptied by remove_from_bucket keeps its layout.
   */
  private async detectLayout(): Promise<Layout> {
    const root = logsRoot(this.bucket);
    const known = this.ctx.state.knownLayout(this.bucket.name, this.bucket.path);
    const native = known !== null ? known === 'native' : await this.reader.exists(root);
    if (native) {
      this.log.debug({ prefix: root, from: known ? 'state' : 'listing' }, 'native GuardDuty export layout');
      return {
        name: 'native',
        granularity: 'day',
        partitions: () => this.nativePartitions(),
        folderOf: (key, partition) => {
          const parsed = parseNativeKey(this.bucket, key);
          return parsed && parsed.account === partition.account && parsed.region === partition.region ? folderTime(parsed.day, null) : null;
        },
      };
    }
    this.log.debug({ prefix: this.bucket.path, from: known ? 'state' : 'listing' }, `Firehose layout (date folders under the path)`);
    return {
      name: 'firehose',
      granularity: 'hour',
      partitions: async () => [{ account: '', region: '', prefix: this.bucket.path }],
      folderOf: (key) => {
        const parsed = parseFirehoseKey(this.bucket.path, key);
        return parsed && folderTime(parsed.day, parsed.hour);
      },
    };
  }

  private async nativePartitions(): Promise<Partition[]> {
    const root = logsRoot(this.bucket);
    const accounts = this.bucket.accountIds ?? (await this.discover(root, (name) => /^\d{12}$/.test(name), 'account'));
    const regionsOf = new Map<string, string[]>();
    await forEachLimit(accounts, LISTINGS_IN_FLIGHT, async (account) => {
      const regions =
        this.bucket.regions ??
        (await this.discover(accountPrefix(this.bucket, account), (name) => partitionExclusion(this.bucket, account, name) === null, 'region'));
      regionsOf.set(account, regions);
    });
    return accounts.flatMap((account) => regionsOf.get(account)!.map((region) => partitionOf(this.bucket, account, region)));
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
    const now = this.ctx.now();
    const stored = this.ctx.state.windowStart(ref);
    const normal = listingStart(stored, this.bucket.onlyLogsAfter, now, layout.granularity);
    const start = rescanStart(normal, this.ctx.rescanSince ?? null, this.bucket.onlyLogsAfter, layout.granularity);
    const progress: PartitionProgress = { newestSettled: null, firstUnfinished: null, newest: null };
    const inFlight: Promise<void>[] = [];
    let complete = true;
    let error: string | null = null;
    try {
      const startAfter = partition.prefix + folderPath(start);
      this.log.debug({ prefix: partition.prefix, startAfter }, 'listing partition');
      // One listing from the window's first folder to the end: no request per day or hour.
      for await (const object of this.reader.listObjects(partition.prefix, startAfter)) {
        this.listedAny = true;
        if (this.stopping()) break;
        if (pastDateFolders(object.key.slice(partition.prefix.length))) break;
        const started = await this.consider(layout, object, partition, start, progress);
        if (started) inFlight.push(started.settled);
      }
      if (this.stopping()) complete = false;
    } catch (err) {
      complete = false;
      error = this.fail(err, `listing ${partition.prefix} failed`);
    }
    if (--this.listingsLeft === 0) this.listingEnded();
    await Promise.all(inFlight);
    const ok = complete && !this.runFailure && progress.firstUnfinished === null;
    const outcome: PartitionOutcome = {
      partition: ref,
      pass: {
        at: this.ctx.now().getTime(),
        ok,
        error: error ?? (this.runFailure ? this.runFailure.message : ok ? null : 'objects left unfinished; read again next pass'),
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
    windowStart: FolderTime,
    progress: PartitionProgress,
  ): Promise<{ settled: Promise<void> } | null> {
    const folder = object.key.endsWith('/') ? null : layout.folderOf(object.key, partition);
    const verdict = await this.judge(object.key, folder, windowStart);
    if (folder === null || verdict.why === 'outside-layout') {
      this.log.debug({ key: object.key }, `ignoring key outside the ${layout.name} layout`);
      return null;
    }
    this.summary.listed++;
    this.ctx.telemetry?.objectListed?.(this.bucket.name);
    if (verdict.why === 'done' || verdict.why === 'failed-final') {
      progress.newestSettled = laterFolder(progress.newestSettled, folder);
      return null;
    }
    if (!verdict.read) return null;
    if (verdict.resume) this.summary.retried++;
    else this.summary.new++;
    const read = await this.startRead(this.recordOf(object, partition.account, partition.region, this.bucket.path), verdict.resume, object.size === 0);
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
      progress.newestSettled = laterFolder(progress.newestSettled, folder);
      if (outcome !== 'done') return;
      const modified = object.lastModified?.getTime() ?? 0;
      if (!progress.newest || modified > progress.newest.modified) progress.newest = { key: object.key, modified };
    });
    return { settled };
  }

  private recordOf(object: { key: string; size: number | null; etag: string }, account: string, region: string, path: string): ObjectRecord {
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
      if (verdict.deletePending && this.bucket.removeFromBucket) await this.remove(object.key);
      return 'done';
    }
    if (!verdict.read) return 'failed';
    const record =
      located.layout === 'native'
        ? this.recordOf(object, located.account, located.region, located.path)
        : this.recordOf(object, '', '', located.path);
    const read = await this.startRead(record, verdict.resume, object.size === 0);
    return read ? read.outcome : 'unfinished';
  }

  /** The output or state failure that stopped this collector, if one did. */
  get runFailed(): OutputError | StateError | null {
    return this.runFailure;
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
      const abort = this.reads.take();
      try {
        const { body, contentLength } = await this.reader.getObject(record.key, abort.signal);
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
          this.haltReason ??= `${where} has ${counts.malformed} bad line(s) and skip_on_error is no: this bucket stopped`;
        }
        log.debug({ encoding: counts.encoding, events: counts.events, findings: counts.findings, discarded: counts.discarded, bytes: record.size }, 'object done');
        return 'done';
      } catch (err) {
        const ours = err instanceof OutputError || err instanceof StateError;
        if (this.ctx.abandon.aborted && !ours) return 'unfinished';
        // A body cut off or reset in transit: read the object again at once, from where it stopped.
        if (err instanceof FetchError && fetch < IMMEDIATE_REFETCHES && !this.stopping()) {
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
    const decision = decideFailure(kind, previous?.attempts ?? 0, { skipOnError: this.ctx.skipOnError, maxAttempts: this.ctx.limits.maxAttempts });
    if (!decision.passOk) this.summary.ok = false;
    if (decision.halt === 'bucket') {
      this.halted = true;
      this.haltReason ??= `${kind} failure reading s3://${this.bucket.name}/${record.key}: this bucket stopped`;
    }
    if (kind === 'output' || kind === 'state') {
      this.stopRun(err as OutputError | StateError);
      if (kind === 'state') return 'unfinished';
    }
    const cause = kind === 'output' ? describe(err) : this.explain(err, 'get', record.key);
    try {
      this.ctx.state.markFailed({ ...record, events: delivered }, cause, { kind, countsAttempt: decision.countsAttempt });
    } catch (stateErr) {
      this.stopRun(stateErr);
      return 'unfinished';
    }
    if (kind === 'output') return 'unfinished';
    if (kind === 'gone') {
      log.warn({ kind }, `${cause}; nothing to read`);
      return 'failed';
    }
    this.summary.failed++;
    const attempts = (previous?.attempts ?? 0) + (decision.countsAttempt ? 1 : 0);
    let next: string;
    if (kind !== 'content') {
      next = `not the object's fault (${kind}): no attempt spent; ${decision.halt === 'bucket' ? 'this bucket stops, and it' : 'it'} is read again next pass`;
    } else if (!this.ctx.skipOnError) {
      next = 'stopping this bucket (skip_on_error is no), it is read again next pass';
    } else if (decision.next === 'retry') {
      next = `skipped (skip_on_error), attempt ${attempts} of ${this.ctx.limits.maxAttempts}, tried again next pass`;
    } else {
      next = `skipped (skip_on_error), left failed after ${attempts} attempts`;
    }
    log.error({ err: describe(err), kind, attempts }, `${cause}; ${next}`);
    return decision.next === 'give-up' ? 'failed' : 'unfinished';
  }

  /** An output or the state failed: nothing more can be delivered or recorded in this run. */
  private stopRun(err: unknown): void {
    if (!(err instanceof OutputError) && !(err instanceof StateError)) throw err;
    this.runFailure ??= err;
    this.halted = true;
    this.summary.ok = false;
  }

  /**
   * Deletes remove_from_bucket still owes, whether or not their keys are listed any more (a kill right
   * after a delete succeeded leaves it pending, and its key is never listed again).
   */
  private async carryOutPendingDeletes(): Promise<void> {
    const keys = this.ctx.state.pendingDeletes(this.bucket.name);
    if (keys.length === 0) return;
    this.log.info({ pending: keys.length }, `carrying out ${keys.length} pending delete(s) (remove_from_bucket)`);
    await forEachLimit(keys, PENDING_DELETES_IN_FLIGHT, (key) => this.remove(key));
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
      if (err instanceof StateError) {
        this.stopRun(err);
        return;
      }
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
    if (err instanceof OutputError || err instanceof StateError) {
      this.stopRun(err);
      return err.message;
    }
    this.summary.ok = false;
    const message = isAwsFailure(err) ? this.explain(err, 'list') : `s3://${this.bucket.name}: ${what}: ${describe(err)}`;
    this.log.error({ err: describe(err) }, message);
    return message;
  }
}
