import { retryable } from './failure.js';
import type { BucketConfig } from '../config/load.js';
import { partitionExclusion, type Exclusion } from '../walk/native.js';
import type { PlacedKey } from './layout.js';
import { toMs, type FolderTime } from '../walk/window.js';
import type { KnownObject } from '../state/rows.js';

// The one answer to "read this key, or not, and why", for the collector's listing, the SQS subscriber
// and `explain` alike. Pure: what the layout, the configuration, the state row and the window say of
// a key goes in, a verdict comes out.

export interface KeyFacts {
  /** The folder the key sits in within its partition; null for a key outside the bucket's layout. */
  folder: FolderTime | null;
  /** Set when the configuration leaves the key's partition out. */
  excluded: Exclusion | null;
  onlyLogsAfter: string | null;
  /** The state's row for the key. */
  known: KnownObject | undefined;
  /** Where this pass lists the partition from; null for a key a notification named, read whatever its folder. */
  windowStart: FolderTime | null;
  skipOnError: boolean;
  maxAttempts: number;
  /** An operator's rescan: objects left failed for good get one more read. */
  rescan: boolean;
}

export type Verdict =
  | { read: false; why: 'outside-layout' | Exclusion | 'before-only-logs-after' | 'before-window' }
  /** Settled already; a delete remove_from_bucket asked for may still be pending. */
  | { read: false; why: 'done'; deletePending: boolean }
  | { read: false; why: 'failed-final' }
  /** `resume` is what an earlier attempt left (events already delivered); undefined for a new key. */
  | { read: true; why: 'new' | 'retry'; resume: KnownObject | undefined };

/** The checks run in the order the collector meets them; the first that stops the key is the answer. */
export function judgeKey(facts: KeyFacts): Verdict {
  if (facts.folder === null) return { read: false, why: 'outside-layout' };
  if (facts.excluded !== null) return { read: false, why: facts.excluded };
  if (facts.onlyLogsAfter !== null && facts.folder.slice(0, 10) < facts.onlyLogsAfter) return { read: false, why: 'before-only-logs-after' };
  const known = facts.known;
  if (known?.status === 'done') return { read: false, why: 'done', deletePending: known.deletePending };
  if (known && retryable(facts.skipOnError, known.attempts, facts.maxAttempts)) return { read: true, why: 'retry', resume: known };
  if (known && !facts.rescan) return { read: false, why: 'failed-final' };
  // A failed key the policy still retries is read by key wherever its folder is (above): the window
  // moves past it rather than waiting, and its day is not listed again for it.
  if (facts.windowStart !== null && toMs(facts.folder) < toMs(facts.windowStart)) return { read: false, why: 'before-window' };
  return { read: true, why: known ? 'retry' : 'new', resume: known };
}

/** What a key's verdict depends on besides the key and its row: the bucket's configuration and the run's limits. */
export interface JudgeContext {
  bucket: Pick<BucketConfig, 'onlyLogsAfter' | 'accountIds' | 'regions'>;
  skipOnError: boolean;
  maxAttempts: number;
  /** An operator's rescan (`--rescan-since`) is asked for. */
  rescan: boolean;
}

/**
 * A key's facts, built the one way the listing pass, the SQS subscriber and `explain` all use: the key
 * placed in the bucket's layout (null: outside it), the state's row, and where the partition's listing
 * starts (null for a key a notification named, read whatever its folder).
 */
export function keyFacts(context: JudgeContext, placed: PlacedKey | null, known: KnownObject | undefined, windowStart: FolderTime | null): KeyFacts {
  return {
    folder: placed?.folder ?? null,
    excluded: placed?.layout === 'native' ? partitionExclusion(context.bucket, placed.partition.account, placed.partition.region) : null,
    onlyLogsAfter: context.bucket.onlyLogsAfter,
    known,
    windowStart,
    skipOnError: context.skipOnError,
    maxAttempts: context.maxAttempts,
    rescan: context.rescan,
  };
}
