import type { Logger } from 'pino';
import { FetchError } from './aws/body.js';
import { explainFailure } from './aws/errors.js';
import type { BucketClient } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import type { CompiledDiscardRule } from './decode/discard.js';
import { decodeObject } from './decode/object.js';
import type { Outputs } from './emit/index.js';
import { OutputError, StateError, describe } from './errors.js';
import { badLinesStopBucket, classifyFailure, decideFailure, mayBeIsolated, nextForFailure, type FailureDecision, type FailureKind } from './policy/failure.js';
import type { Limits, ObjectOutcome, ReadCounts, Telemetry } from './vocabulary.js';
import type { KnownObject, ObjectRecord, SeenVersion } from './state/rows.js';
import { findingId, type JsonObject } from './decode/finding.js';
import type { EncodedEvent } from './event-batch.js';
import { toStored, type Partition } from './walk/partition.js';
import { decideUpdate, updateReasonText, versionFacts, type VersionFacts } from './policy/updates.js';
import type { StateStore } from './state/store.js';

// One object, from its GET to the state: fetch → decode → deliver → record (→ delete), a failure
// recorded as the failure policy (policy/failure.ts) says. It returns what happened; the listing pass
// and the SQS subscriber, which decide which objects to read, add the results up.

/** Reads of one object within a pass when its body is cut off in transit. */
const IMMEDIATE_REFETCHES = 3;

/** What reading one object needs: where it is, where its events go and are recorded, and its limits. */
export interface ObjectTask {
  bucket: BucketConfig;
  client: BucketClient;
  record: ObjectRecord;
  /**
   * The object's size as listed or notified (null: the notification did not say): an empty object is
   * done without a GET, and a body shorter than this is cut short.
   */
  listedSize: number | null;
  /** The state's row of the key when an earlier read failed: what it delivered, the attempts spent. */
  previous: KnownObject | undefined;
  log: Logger;
  state: StateStore;
  outputs: Outputs;
  limits: Limits;
  skipOnError: boolean;
  discard: CompiledDiscardRule[];
  /** Start nothing more (a stop signal, or the bucket stopped): a body cut off is not fetched again. */
  stopping: AbortSignal;
  /**
   * Give up this read: it is not recorded and is read again next time. Its own signal (a child of the
   * run's, see ChildAborts), since each request in flight listens to it.
   */
  abandon: AbortSignal;
  telemetry?: Telemetry;
  /** The run's clock. */
  now(): Date;
}


/** An object recorded failed as transient, which the end of a pass may find was its own failure. */
export interface TransientFailure {
  /** As recorded: `events` are those delivered before the failure. */
  record: ObjectRecord;
  /** Attempts spent before this read. */
  attempts: number;
  cause: string;
}

export interface ObjectResult {
  outcome: ObjectOutcome;
  counts: ReadCounts;
  /** The object was fetched and decoded to the end (the pass's tally counts it). */
  readWhole: boolean;
  /** How the read failed, and what the policy decided, when it did. */
  failure: { kind: FailureKind; decision: FailureDecision } | null;
  /** A transient failure the pass's end may make the object's own (policy: mayBeIsolated). */
  maybeIsolated: TransientFailure | null;
  /** An output or the state failed: nothing more can be delivered or recorded in this run. */
  runFailure: OutputError | StateError | null;
  /** Why the bucket must start no more objects (bad lines or a bad object without skip_on_error). */
  haltReason: string | null;
}

/** The record of an object about to be read: where it was listed (or notified) and what was said of it. */
export function newRecord(bucket: string, path: string, partition: Partition, object: { key: string; etag: string; size: number | null }): ObjectRecord {
  const { account, region } = toStored(partition);
  return { bucket, path, account, region, key: object.key, etag: object.etag, size: object.size ?? 0, events: 0, malformed: 0 };
}

export function noCounts(): ReadCounts {
  return { done: 0, failed: 0, events: 0, critical: 0, suppressed: 0, discarded: 0, skipped: 0, malformed: 0, bytes: 0, deleted: 0 };
}

/** Adds a read's counts to a total that has them (a pass summary, say). */
export function addCounts(total: ReadCounts, more: ReadCounts): void {
  for (const name of Object.keys(more) as Array<keyof ReadCounts>) total[name] += more[name];
}

function result(outcome: ObjectOutcome, counts: ReadCounts, more: Partial<ObjectResult> = {}): ObjectResult {
  return { outcome, counts, readWhole: false, failure: null, maybeIsolated: null, runFailure: null, haltReason: null, ...more };
}

/** The places of a batch up to the `accepted`-th event handed to the outputs (held-back places before it included). */
function placesBefore(events: readonly EncodedEvent[], accepted: number): number {
  let handed = 0;
  for (const [place, event] of events.entries()) {
    if (event.suppressed) continue;
    if (handed === accepted) return place;
    handed++;
  }
  return events.length;
}

/**
 * finding_updates for one read of an object: each finding's version decided against the version of
 * its id last sent (the state's, or an earlier one in this object), and every version seen, to record
 * with the object.
 */
function updatesOf(task: ObjectTask, log: Logger): { decide(finding: JsonObject): boolean; versions: SeenVersion[] } {
  const sentHere = new Map<string, VersionFacts>();
  const versions: SeenVersion[] = [];
  return {
    versions,
    decide: (finding) => {
      const id = findingId(finding);
      if (id === '') return true;
      const facts = versionFacts(finding);
      const decision = decideUpdate(task.bucket.findingUpdates, facts, sentHere.get(id) ?? task.state.lastSentVersion(task.bucket.name, id));
      versions.push({ id, facts, sent: decision.send, why: decision.why, changed: decision.changed, seenAt: task.now().getTime() });
      if (decision.send) sentHere.set(id, facts);
      else log.debug({ findingId: id, why: decision.why }, `finding ${id}: ${updateReasonText(decision, task.bucket.findingUpdates)}`);
      return decision.send;
    },
  };
}

/** Reads one object to the outputs and records it: done, failed (for good, gone, or to retry), or unfinished. */
export async function readObject(task: ObjectTask): Promise<ObjectResult> {
  const read = task.listedSize === 0 ? await recordEmpty(task) : await deliverObject(task);
  task.telemetry?.objectSettled?.(task.bucket.name, read.outcome, read.outcome === 'done' ? task.record.size : 0, read.counts.events);
  return read;
}

/** An empty object (or a folder marker) is done with no events, without a GET. */
async function recordEmpty(task: ObjectTask): Promise<ObjectResult> {
  const counts = noCounts();
  try {
    return result('done', counts, { runFailure: await commit(task, task.record, counts) });
  } catch (err) {
    if (!(err instanceof StateError)) throw err;
    return result('unfinished', counts, { runFailure: err });
  }
}

async function deliverObject(task: ObjectTask): Promise<ObjectResult> {
  const { bucket, record } = task;
  const log = task.log.child({ key: record.key });
  const where = `s3://${bucket.name}/${record.key}`;
  const source = { bucket: bucket.name, key: record.key };
  const counts = noCounts();
  // A retry of the same bytes skips what an earlier attempt already delivered (places held back by
  // finding_updates included: `delivered` counts places).
  let delivered = task.previous && task.previous.etag === record.etag ? task.previous.delivered : 0;
  for (let fetch = 1; ; fetch++) {
    const updates = bucket.findingUpdates.mode === 'all' ? null : updatesOf(task, log);
    try {
      const { body } = await task.client.getObject(record.key, task.abandon, { size: task.listedSize, etag: record.etag });
      await task.outputs.waitForRoom();
      const decoded = await decodeObject(body, {
        origin: { bucket: bucket.name, key: record.key, accountAlias: bucket.accountAlias },
        orders: task.outputs.orders,
        discard: task.discard,
        ...(updates ? { updates: updates.decide } : {}),
        deliver: async (events) => {
          // Only finding_updates holds places back.
          const sending = updates ? events.filter((event) => !event.suppressed) : events;
          try {
            if (sending.length > 0) await task.outputs.deliver(sending, source);
          } catch (err) {
            if (err instanceof OutputError) delivered += placesBefore(events, err.accepted);
            throw err;
          }
          delivered += events.length;
          counts.events += sending.length;
        },
        malformed: (line, reason) => log.error({ line }, `${where} line ${line}: ${reason}`),
        skipped: (line, reason) => log.debug({ line }, `no finding in document: ${reason}`),
        skipEvents: delivered,
        maxObjectBytes: task.limits.maxObjectBytes,
        maxDocumentBytes: task.limits.maxDocumentBytes,
      });
      counts.discarded += decoded.discarded;
      counts.suppressed += decoded.suppressed;
      counts.critical += decoded.severities.critical;
      task.telemetry?.findingsDelivered?.(bucket.name, decoded.severities);
      counts.skipped += decoded.skipped;
      counts.malformed += decoded.malformed;
      const runFailure = await commit(task, { ...record, events: decoded.events, malformed: decoded.malformed }, counts, updates?.versions ?? []);
      if (decoded.suppressed > 0) task.telemetry?.updatesSuppressed?.(bucket.name, decoded.suppressed);
      log.debug({ encoding: decoded.encoding, events: decoded.events, findings: decoded.findings, discarded: decoded.discarded, bytes: record.size }, 'object done');
      const haltReason = badLinesStopBucket(decoded.malformed, task.skipOnError)
        ? `${where} has ${decoded.malformed} bad line(s) and skip_on_error is no: this bucket stopped`
        : null;
      return result('done', counts, { readWhole: true, haltReason, runFailure });
    } catch (err) {
      const ours = err instanceof OutputError || err instanceof StateError;
      if (task.abandon.aborted && !ours) return result('unfinished', counts);
      // A body cut off or reset in transit: read the object again at once, from where it stopped.
      if (err instanceof FetchError && fetch < IMMEDIATE_REFETCHES && !task.stopping.aborted) {
        log.warn({ err: describe(err), fetch }, `${where}: ${describe(err)}; reading it again`);
        continue;
      }
      return readFailed(task, err, delivered, counts, log);
    }
  }
}

/**
 * Records a failed read as the failure policy says (policy/failure.ts): how far it got, so that the
 * next pass neither loses nor repeats events, and whether it spent an attempt.
 */
function readFailed(task: ObjectTask, err: unknown, delivered: number, counts: ReadCounts, log: Logger): ObjectResult {
  const { bucket, record, previous } = task;
  const kind = classifyFailure(err);
  const limits = { skipOnError: task.skipOnError, maxAttempts: task.limits.maxAttempts };
  const decision = decideFailure(kind, previous?.attempts ?? 0, limits);
  const failure = { kind, decision };
  const haltReason = decision.halt === 'bucket' ? `${kind} failure reading s3://${bucket.name}/${record.key}: this bucket stopped` : null;
  const runFailure = kind === 'output' || kind === 'state' ? (err as OutputError | StateError) : null;
  if (kind === 'state') return result('unfinished', counts, { failure, runFailure });
  const cause = kind === 'output' ? describe(err) : explainFailure(err, bucket, 'get', record.key);
  const recorded = { ...record, events: delivered };
  try {
    task.state.markFailed(recorded, cause, { kind, countsAttempt: decision.countsAttempt });
  } catch (stateErr) {
    return result('unfinished', counts, { failure, runFailure: stateErr as StateError });
  }
  if (kind === 'output') return result('unfinished', counts, { failure, runFailure });
  if (kind === 'gone') {
    log.warn({ kind }, `${cause}; nothing to read`);
    return result('gone', counts, { failure });
  }
  counts.failed++;
  const attempts = (previous?.attempts ?? 0) + (decision.countsAttempt ? 1 : 0);
  log.error({ err: describe(err), kind, attempts }, `${cause}; ${nextForFailure(kind, decision, attempts, limits)}`);
  const maybeIsolated = kind === 'transient' && mayBeIsolated(err) ? { record: recorded, attempts: previous?.attempts ?? 0, cause } : null;
  return result(decision.next === 'give-up' ? 'failed' : 'retry', counts, { failure, haltReason, maybeIsolated });
}

/**
 * Records the object done and, with remove_from_bucket, deletes it: only once recorded, never lost.
 * Throws when it cannot be recorded; returns the state's failure when only the delete's record failed.
 */
async function commit(task: ObjectTask, record: ObjectRecord, counts: ReadCounts, versions: readonly SeenVersion[] = []): Promise<StateError | null> {
  task.state.markDone(record, task.bucket.removeFromBucket, versions);
  counts.done++;
  counts.bytes += record.size;
  if (!task.bucket.removeFromBucket) return null;
  // Deleted only once recorded as done: a crash in between leaves a delete pending, never a loss.
  try {
    if (await removeObject(task.bucket, task.client, task.state, record.key, task.log)) counts.deleted++;
    return null;
  } catch (err) {
    if (err instanceof StateError) return err;
    throw err;
  }
}

/**
 * Deletes a key remove_from_bucket asked for and records it; false when S3 refused, which is tried
 * again on a later pass (its events are delivered and recorded: never a reason to read it again).
 */
export async function removeObject(bucket: BucketConfig, client: BucketClient, state: StateStore, key: string, log: Logger): Promise<boolean> {
  try {
    await client.deleteObject(key);
  } catch (err) {
    log.warn({ key, err: describe(err) }, `${explainFailure(err, bucket, 'delete', key)}; the delete is tried again on a later pass`);
    return false;
  }
  state.markDeleted(bucket.name, key);
  return true;
}
