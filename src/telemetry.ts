import type { S3Operation } from './aws/errors.js';
import type { BucketPassSummary } from './collector.js';

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
  /** An object was read to the end (done), failed, or left for the next pass. */
  objectSettled?(bucket: string, outcome: 'done' | 'failed' | 'unfinished', bytes: number, events: number): void;
  s3Request?(bucket: string, operation: S3Operation): void;
}

/** Reports to each of several receivers. */
export function fanOut(receivers: Telemetry[]): Telemetry {
  return {
    passStarted: () => receivers.forEach((r) => r.passStarted?.()),
    passFinished: (outcome) => receivers.forEach((r) => r.passFinished?.(outcome)),
    objectListed: (bucket) => receivers.forEach((r) => r.objectListed?.(bucket)),
    listingFinished: (bucket) => receivers.forEach((r) => r.listingFinished?.(bucket)),
    objectToRead: (bucket) => receivers.forEach((r) => r.objectToRead?.(bucket)),
    objectSettled: (bucket, outcome, bytes, events) => receivers.forEach((r) => r.objectSettled?.(bucket, outcome, bytes, events)),
    s3Request: (bucket, operation) => receivers.forEach((r) => r.s3Request?.(bucket, operation)),
  };
}
