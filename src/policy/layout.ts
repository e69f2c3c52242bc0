import type { BucketConfig } from '../config/load.js';
import { parseFirehoseKey } from '../walk/firehose.js';
import { logsRoot, parseNativeKey, partitionOf } from '../walk/native.js';
import { fromStored, type Partition, type StoredPartition } from '../walk/partition.js';
import { folderTime, type FolderTime, type Granularity } from '../walk/window.js';

// Which layout a bucket is read by, and where a key sits in it: the one answer for the listing pass,
// the SQS subscriber and `explain`. A bucket keeps the layout the state knows it by; only a bucket the
// state has never seen is told by one listing (native exports when `<path>AWSLogs/` holds anything).

/** Native GuardDuty exports, or Firehose's date folders. */
export type LayoutName = 'native' | 'firehose';

export const GRANULARITY: Record<LayoutName, Granularity> = { native: 'day', firehose: 'hour' };

/** The layout the state's partitions of the bucket show, or null for a bucket never read. */
export function knownLayout(path: string, partitions: readonly StoredPartition[]): LayoutName | null {
  const stored = partitions.map(fromStored);
  if (stored.some((p) => p.kind === 'native' && p.prefix.startsWith(`${path}AWSLogs/`))) return 'native';
  if (stored.some((p) => p.kind === 'firehose' && p.prefix === path)) return 'firehose';
  return null;
}

/**
 * The layout a pass reads the bucket by: the one the state knows, else native exports when the
 * listing of `<path>AWSLogs/` found anything (never guessed again from what is listed: a bucket
 * emptied by remove_from_bucket keeps its layout).
 */
export function chooseLayout(known: LayoutName | null, nativeRootHasObjects: boolean): LayoutName {
  return known ?? (nativeRootHasObjects ? 'native' : 'firehose');
}

/** Where a key sits in a layout: its partition, and its day folder (native) or hour folder (Firehose). */
export type PlacedKey =
  | { layout: 'native'; partition: Partition & { kind: 'native' }; day: string; folder: FolderTime }
  | { layout: 'firehose'; partition: Partition & { kind: 'firehose' }; day: string; folder: FolderTime };

/** The key placed in the layout, or null for a key outside it (a folder marker included). */
export function placeKey(bucket: Pick<BucketConfig, 'path' | 'pathSuffix'>, layout: LayoutName, key: string): PlacedKey | null {
  if (key.endsWith('/')) return null;
  if (layout === 'native') {
    const parsed = parseNativeKey(bucket, key);
    return parsed && { layout, partition: partitionOf(bucket, parsed.account, parsed.region), day: parsed.day, folder: folderTime(parsed.day, null) };
  }
  const parsed = parseFirehoseKey(bucket.path, key);
  return parsed && { layout, partition: { kind: 'firehose', prefix: bucket.path }, day: parsed.day, folder: folderTime(parsed.day, parsed.hour) };
}

/** What the native root is, for the words that explain a layout. */
export function nativeRoot(bucket: Pick<BucketConfig, 'path' | 'pathSuffix'>): string {
  return logsRoot(bucket);
}
