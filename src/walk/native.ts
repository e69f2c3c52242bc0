import type { BucketConfig } from '../config/load.js';
import { parseRegion } from '../config/values.js';
import { dayFromFolder } from './dates.js';
import type { Partition } from './partition.js';

// Native GuardDuty export layout:
//   <path>AWSLogs/<path_suffix><account>/GuardDuty/<region>/YYYY/MM/DD/<uuid>.jsonl.gz

export interface NativeKey {
  account: string;
  region: string;
  day: string;
}

/** Why the configuration leaves a key's partition out. */
export type Exclusion = 'account-not-configured' | 'region-not-configured' | 'not-a-region';

type Layout = Pick<BucketConfig, 'path' | 'pathSuffix'>;
type Selection = Pick<BucketConfig, 'accountIds' | 'regions'>;

export function logsRoot(bucket: Layout): string {
  return `${bucket.path}AWSLogs/${bucket.pathSuffix}`;
}

export function accountPrefix(bucket: Layout, account: string): string {
  return `${logsRoot(bucket)}${account}/GuardDuty/`;
}

export function partitionOf(bucket: Layout, account: string, region: string): Partition & { kind: 'native' } {
  return { kind: 'native', account, region, prefix: `${accountPrefix(bucket, account)}${region}/` };
}

/** Reads account, region and day out of a key; null for a key outside the native layout. */
export function parseNativeKey(bucket: Layout, key: string): NativeKey | null {
  const root = logsRoot(bucket);
  if (!key.startsWith(root)) return null;
  const match = /^(\d{12})\/GuardDuty\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\/[^/]+$/.exec(key.slice(root.length));
  if (!match) return null;
  const [, account, region, year, month, dayOfMonth] = match as unknown as [string, string, string, string, string, string];
  const day = dayFromFolder(year, month, dayOfMonth);
  return day === null ? null : { account, region, day };
}

/** The last path segment of a common prefix: `a/b/c/` → `c`. */
export function lastSegment(prefix: string): string {
  const parts = prefix.split('/');
  return parts[parts.length - 2] ?? '';
}

/**
 * Why the configuration leaves a partition out, or null when it is read: accounts and regions not
 * listed in `aws_account_id` and `regions`, and, when regions are discovered, folders that are not
 * region names.
 */
export function partitionExclusion(bucket: Selection, account: string, region: string): Exclusion | null {
  if (bucket.accountIds && !bucket.accountIds.includes(account)) return 'account-not-configured';
  if (bucket.regions) return bucket.regions.includes(region) ? null : 'region-not-configured';
  return parseRegion(region).ok ? null : 'not-a-region';
}
