import type { UpdateReason, VersionFacts } from '../policy/updates.js';
import type { FolderTime } from '../walk/window.js';

// The shapes the state's rows take on their way in and out, apart from the store that queries them:
// the collector, the verdict and the commands speak of them without needing the database.

export type ObjectStatus = 'done' | 'failed';

/** A version of a finding seen in an object, and whether it was sent (policy/updates.ts). */
export interface SeenVersion {
  id: string;
  facts: VersionFacts;
  sent: boolean;
  why: UpdateReason;
  changed: string[];
  /** When it was seen (ms), by the run's clock: its id is forgotten 90 days after the last. */
  seenAt: number;
}

export interface ObjectRecord {
  bucket: string;
  /** The configured `path` the key was found under. */
  path: string;
  account: string;
  region: string;
  key: string;
  etag: string;
  size: number;
  events: number;
  malformed: number;
}

export interface KnownObject {
  status: ObjectStatus;
  /** remove_from_bucket asked for a delete that has not succeeded yet. */
  deletePending: boolean;
  etag: string;
  /** Passes that failed on this object. */
  attempts: number;
  /** Events of a failed object that reached every output before it failed. */
  delivered: number;
}

/** An `objects` row as SQLite returns it, for the lookup. */
export interface StoredObjectRow {
  status: ObjectStatus;
  delete_pending: number;
  etag: string;
  attempts: number;
  delivered: number;
}

/** How one pass over a partition went, as `status` and the metrics report it. */
export interface PartitionPass {
  at: number;
  ok: boolean;
  error: string | null;
  /** The newest object (by LastModified) read to the end this pass, if any. */
  newest: { key: string; modified: number } | null;
}

/** What one pass over a partition settled: its pass, and where its next listing starts if that moved. */
export interface PartitionOutcome {
  partition: PartitionRef;
  pass: PartitionPass;
  /** Set when the start moved; rows of keys in folders before `pruneBefore` are then forgotten. */
  moved?: { windowStart: FolderTime; pruneBefore: string };
}

export interface PartitionRef {
  bucket: string;
  /** The partition's key prefix; it names account, region and configured path at once. */
  prefix: string;
  account: string;
  region: string;
}
