import type { FailureKind } from '../policy/failure.js';
import type { BucketConfig } from '../config/load.js';
import type { RecordedObject, PartitionRow } from '../state/report.js';

// What `explain` answers, the shape `explain --json` prints: explain.ts works it out.

export type Decision =
  | 'disabled'
  | 'outside-layout'
  | 'account-not-configured'
  | 'region-not-configured'
  | 'before-only-logs-after'
  | 'done'
  | 'failed-final'
  | 'failed-retry'
  | 'before-window'
  | 'will-read';

export type Outcome = 'processed' | 'will-be-read' | 'not-read';

export const OUTCOME: Record<Decision, Outcome> = {
  disabled: 'not-read',
  'outside-layout': 'not-read',
  'account-not-configured': 'not-read',
  'region-not-configured': 'not-read',
  'before-only-logs-after': 'not-read',
  done: 'processed',
  'failed-final': 'not-read',
  'failed-retry': 'will-be-read',
  'before-window': 'not-read',
  'will-read': 'will-be-read',
};

export interface ExplainInput {
  bucket: BucketConfig;
  /** Where the bucket block is: `file:line`. */
  where: string;
  /** Other blocks naming the same bucket. */
  otherBlocks: number;
  wodle: { disabled: boolean; skipOnError: boolean };
  key: string;
  /** The state's partitions of this bucket. */
  partitions: PartitionRow[];
  /** The state's row for this key, if any. */
  object: RecordedObject | undefined;
  maxAttempts: number;
  now: Date;
  /** As given to the collector with `--rescan-since`. */
  rescanSince: string | null;
}

export interface StateFact {
  status: 'done' | 'failed';
  at: string;
  events: number;
  malformed: number;
  deletePending: boolean;
  attempts: number;
  delivered: number;
  failure: FailureKind | null;
  error: string | null;
  etag: string;
  size: number;
}

export interface Explanation {
  bucket: string;
  key: string;
  decision: Decision;
  outcome: Outcome;
  /** The decision in one line. */
  reason: string;
  notes: string[];
  facts: {
    config: string;
    skipOnError: boolean;
    maxAttempts: number;
    layout: 'native' | 'firehose' | null;
    /** Why that layout: explain never asks S3, so it is inferred from the key and the state. */
    layoutBasis: string;
    account: string | null;
    region: string | null;
    day: string | null;
    /** The key's folder: its day (native) or day and hour (Firehose). */
    folder: string | null;
    accountIds: string[] | null;
    regions: string[] | null;
    onlyLogsAfter: string | null;
    partition: string | null;
    /** Where the state keeps the partition's next listing starting; null when never listed to the end. */
    windowStart: string | null;
    rescanSince: string | null;
    /** The folder the next pass lists from, to the end of the listing. */
    window: { first: string } | null;
    state: StateFact | null;
  };
}
