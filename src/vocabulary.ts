// The vocabulary of a run, shared by the collector, the daemon, the SQS subscriber, telemetry and the
// commands: what a pass is given (RunContext, Limits), what it reports (BucketPassSummary, PassOutcome,
// Telemetry) and the constants the state's readers must agree on. Types and constants only.
import type { Logger } from 'pino';
import type { S3Operation } from './aws/errors.js';
import type { LayoutName } from './policy/layout.js';
import type { SeverityClass } from './decode/finding.js';
import { DEFAULT_MAX_OBJECT_BYTES } from './decode/decompress.js';
import { DEFAULT_MAX_DOCUMENT_BYTES } from './decode/documents.js';
import type { Outputs } from './emit/index.js';
import type { StateStore } from './state/store.js';

/** Days of processed keys kept behind the listing window before they are pruned. */
export const PRUNE_MARGIN_DAYS = 2;
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
  maxObjectBytes: DEFAULT_MAX_OBJECT_BYTES,
  maxDocumentBytes: DEFAULT_MAX_DOCUMENT_BYTES,
};


/** What reading objects adds up to: one read's (read-object.ts), a pass's. */
export interface ReadCounts {
  done: number;
  /** Objects that failed. */
  failed: number;
  events: number;
  /** Findings of severity 9.0-10.0 (AWS's critical class) delivered. */
  critical: number;
  /** Re-exports of findings already sent that finding_updates held back. */
  suppressed: number;
  discarded: number;
  /** Documents that hold no finding (other EventBridge detail-types …). */
  skipped: number;
  malformed: number;
  bytes: number;
  deleted: number;
}

export interface BucketPassSummary extends ReadCounts {
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
  durationMs: number;
  /** Why the pass ended early (a stop signal, an output or the state down, a halt on an error), or null. */
  interrupted: string | null;
  /** Objects left to read on a later pass: failed for now, or not started because the pass ended early. */
  left: number;
}

/** What every pass of a run shares: where it logs, records and delivers, its limits and its stop signals. */
export interface RunContext {
  log: Logger;
  state: StateStore;
  outputs: Outputs;
  /** GetObject streams in flight at once, across all partitions of a bucket. */
  concurrency: number;
  limits: Limits;
  /** An S3 connection silent this long fails the request or the body being read. */
  s3TimeoutMs: number;
  /** Stop requested: start no new object; those in flight finish. */
  stop: AbortSignal;
  /** Give up on objects in flight too; they are not recorded and are read again next time. */
  abandon: AbortSignal;
  now(): Date;
  /** An operator's rescan (`--rescan-since`): the next pass of each bucket lists every partition from this day. */
  rescanSince?: string | null;
  telemetry?: Telemetry;
}

/** A bucket's pass: the run's context and its wodle's skip_on_error. */
export interface CollectorContext extends RunContext {
  skipOnError: boolean;
}

/**
 * How one object's read ended: `done`; `failed` for good; `gone`, deleted since it was listed or
 * notified (nothing to read); `retry`, recorded failed and read again by key on a later pass, wherever
 * the listing window is by then; `unfinished`, not recorded (a stop, an output or the state down), so
 * the listing must come back for it.
 */
export type ObjectOutcome = 'done' | 'failed' | 'gone' | 'retry' | 'unfinished';

/** How one pass over the configured buckets ended, as the daemon and health checks see it. */
export interface PassOutcome {
  ok: boolean;
  /** The output failure that ended the pass early, if one did. */
  outputFailure: string | null;
  /** The state failure (disk full, read-only, removed) that ended the pass early, if one did. */
  stateFailure?: string | null;
  buckets: BucketPassSummary[];
}

/**
 * What a run reports as it goes, for the metrics endpoint and the progress bar. Every method is
 * optional to implement and cheap to call; nothing here may throw into the pipeline.
 */
export interface Telemetry {
  passStarted?(): void;
  passFinished?(outcome: PassOutcome): void;
  /** A key inside the layout and the day window was listed. */
  objectListed?(bucket: string): void;
  /**
   * Every partition of the bucket has been listed to the end in this pass (its objects may still be
   * being read): from then on the number of objects to read in it is known.
   */
  listingFinished?(bucket: string): void;
  /** A listed object is new (or failed before) and will be read. */
  objectToRead?(bucket: string): void;
  /** An object was read to the end (done), failed, was gone, or was left for the next pass. */
  objectSettled?(bucket: string, outcome: ObjectOutcome, bytes: number, events: number): void;
  s3Request?(bucket: string, operation: S3Operation): void;
  /** The findings of an object read whole, by AWS's severity class. */
  findingsDelivered?(bucket: string, severities: Record<SeverityClass, number>): void;
  /** Re-exports of findings already sent that finding_updates held back, in an object read whole. */
  updatesSuppressed?(bucket: string, count: number): void;
}

