import { PRUNE_MARGIN_DAYS } from '../vocabulary.js';
import type { BucketConfig, Config } from '../config/load.js';
import type { ObjectRecord, PartitionRef, StateStore } from '../state/store.js';
import { parseFirehoseKey } from '../walk/firehose.js';
import { parseNativeKey, partitionExclusion, partitionOf } from '../walk/native.js';
import { folderTime, listingStart, pruneBefore, toMs, type FolderTime, type Granularity } from '../walk/window.js';
import { partitionLabel, plural, table } from './format.js';
import { WAZUH_DB, wazuhBucketPath, type WazuhRecords, type WazuhRow } from './import-wazuh-db.js';
import type { StateView } from './import-wazuh-state.js';
import { toStored } from '../walk/partition.js';

export { WAZUH_DB, readWazuhDatabase } from './import-wazuh-db.js';
export { openForImport, readOnlyView, storeView } from './import-wazuh-state.js';

// `guardduty-wodle import-wazuh`: switch over from Wazuh's aws-s3 wodle without a gap or a duplicate.
// What Wazuh records, and how it is read: import-wazuh-db.ts.
//
// The rule, per partition of ours (native: account and region, from the key; Firehose: the path): every
// key Wazuh recorded is done; the listing window starts at the day of the newest key Wazuh recorded there
// (Firehose: that day's hour 00), so the days before count as handled by Wazuh and the keys of that day it
// did not record are read. A partition with no row is left alone: it starts as a new one, at
// only_logs_after. It takes the collector's lock and writes in one transaction.

/** The ETag recorded for an imported key: `explain` shows it, so an imported row is told from one read here. */
export const IMPORTED_ETAG = 'wazuh-import';

export interface ImportedRecord extends ObjectRecord {
  processedAt: number;
}

export interface PartitionImport {
  partition: PartitionRef;
  granularity: Granularity;
  label: string;
  /** Wazuh's rows for the partition. */
  rows: number;
  /** The folder of the newest key Wazuh recorded: the window starts there (Firehose: that day's hour 00). */
  wazuhStart: FolderTime;
  /** Keys to record as done. */
  records: ImportedRecord[];
  /** Wazuh's keys our state already has as done: kept as they are. */
  alreadyDone: number;
  /** Wazuh's keys in folders our state already forgot (behind its window): not recorded again. */
  behind: number;
  /** Where our state starts the partition now (null: never listed). */
  ours: FolderTime | null;
  /** The start to store, or null to keep ours (already at or after Wazuh's). */
  store: FolderTime | null;
  /** Where the next pass lists from (never before only_logs_after). */
  listedFrom: FolderTime;
  notes: string[];
}

export interface BucketImport {
  bucket: BucketConfig;
  bucketPath: string;
  partitions: PartitionImport[];
  /** Rows under the bucket path in neither layout (another path_suffix, a key Firehose did not name). */
  outside: number;
  /** Rows of partitions the configuration leaves out (aws_account_id, regions), by partition label. */
  excluded: Array<{ label: string; rows: number; why: string }>;
  notes: string[];
}

export interface ImportPlan {
  wazuh: { path: string; version: string | null; rows: number };
  config: string;
  buckets: BucketImport[];
  /** Rows of bucket paths no configured bucket has. */
  ignored: Array<{ bucketPath: string; rows: number; hint: string | null }>;
  records: number;
  windows: number;
}

const EXCLUSION_WORDS: Record<string, string> = {
  'account-not-configured': 'account not in aws_account_id',
  'region-not-configured': 'region not in regions',
  'not-a-region': 'not a region name',
};

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What importing Wazuh's rows into our state would do, per configured bucket and partition. Pure: the
 * state is only read through `view`.
 */
export function planImport(config: Config, wazuh: WazuhRecords, view: StateView, now: Date): ImportPlan {
  const byPath = new Map<string, BucketConfig>();
  for (const bucket of config.wodles.flatMap((w) => w.buckets)) {
    const path = wazuhBucketPath(bucket);
    if (!byPath.has(path)) byPath.set(path, bucket);
  }
  const rowsByPath = new Map<string, WazuhRow[]>();
  for (const row of wazuh.rows) {
    const rows = rowsByPath.get(row.bucketPath) ?? [];
    rows.push(row);
    rowsByPath.set(row.bucketPath, rows);
  }
  const ignored: ImportPlan['ignored'] = [];
  for (const [bucketPath, rows] of [...rowsByPath].sort(([a], [b]) => compareText(a, b))) {
    if (byPath.has(bucketPath)) continue;
    const name = bucketPath.slice(0, bucketPath.indexOf('/') < 0 ? bucketPath.length : bucketPath.indexOf('/'));
    const same = [...byPath.values()].filter((b) => b.name === name).map((b) => `'${b.path}'`);
    const hint = same.length > 0 ? `bucket ${name} is configured with <path> ${same.join(', ')}, Wazuh read it under another` : null;
    ignored.push({ bucketPath, rows: rows.length, hint });
  }
  const buckets = [...byPath].map(([bucketPath, bucket]) => planBucket(bucket, bucketPath, rowsByPath.get(bucketPath) ?? [], view, now));
  const partitions = buckets.flatMap((b) => b.partitions);
  return {
    wazuh: { path: wazuh.path, version: wazuh.version, rows: wazuh.rows.length },
    config: config.file,
    buckets,
    ignored,
    records: partitions.reduce((n, p) => n + p.records.length, 0),
    windows: partitions.filter((p) => p.store !== null).length,
  };
}

/** A row of Wazuh's, in the folder of our layout its key names. */
interface LocatedRow {
  row: WazuhRow;
  folder: FolderTime;
  day: string;
}

interface LocatedPartition {
  ref: PartitionRef;
  granularity: Granularity;
  rows: LocatedRow[];
}

/** Wazuh's retention is per bucket_path and aws_account_id: its oldest row and its row count. */
interface RetentionGroup {
  rows: number;
  oldest: string;
}

function planBucket(bucket: BucketConfig, bucketPath: string, rows: WazuhRow[], view: StateView, now: Date): BucketImport {
  const groups = retentionGroups(rows);
  const { partitions, excluded, outside } = locateRows(bucket, rows);
  const planned = partitions
    .sort((a, b) => compareText(a.ref.prefix, b.ref.prefix))
    .map((found) => planPartition(bucket, bucketPath, found, groups, view, now));
  return { bucket, bucketPath, partitions: planned, outside, excluded, notes: accountRetentionNotes(groups, planned) };
}

/** By aws_account_id, as Wazuh keeps them. */
function retentionGroups(rows: WazuhRow[]): Map<string, RetentionGroup> {
  const groups = new Map<string, RetentionGroup>();
  for (const row of rows) {
    const group = groups.get(row.account);
    if (!group) groups.set(row.account, { rows: 1, oldest: row.key });
    else {
      group.rows++;
      if (row.key < group.oldest) group.oldest = row.key;
    }
  }
  return groups;
}

/** Sorts the rows into our partitions by their keys: those the configuration leaves out, and those in neither layout, are counted. */
function locateRows(bucket: BucketConfig, rows: WazuhRow[]): Pick<BucketImport, 'excluded' | 'outside'> & { partitions: LocatedPartition[] } {
  const partitions = new Map<string, LocatedPartition>();
  const excluded = new Map<string, { label: string; rows: number; why: string }>();
  let outside = 0;
  for (const row of rows) {
    const native = parseNativeKey(bucket, row.key);
    if (native) {
      const partition = partitionOf(bucket, native.account, native.region);
      const why = partitionExclusion(bucket, native.account, native.region);
      if (why !== null) {
        const label = partitionLabel(partition.prefix, native.account, native.region);
        const entry = excluded.get(label) ?? { label, rows: 0, why: EXCLUSION_WORDS[why] ?? why };
        entry.rows++;
        excluded.set(label, entry);
        continue;
      }
      const entry = partitions.get(partition.prefix) ?? { ref: { bucket: bucket.name, ...partition }, granularity: 'day' as Granularity, rows: [] };
      entry.rows.push({ row, folder: folderTime(native.day, null), day: native.day });
      partitions.set(partition.prefix, entry);
      continue;
    }
    const firehose = parseFirehoseKey(bucket.path, row.key);
    if (firehose) {
      const entry = partitions.get(bucket.path) ?? {
        ref: { bucket: bucket.name, ...toStored({ kind: 'firehose', prefix: bucket.path }) },
        granularity: 'hour' as Granularity,
        rows: [],
      };
      entry.rows.push({ row, folder: folderTime(firehose.day, firehose.hour), day: firehose.day });
      partitions.set(bucket.path, entry);
      continue;
    }
    outside++;
  }
  return { partitions: [...partitions.values()], excluded: [...excluded.values()], outside };
}

function planPartition(
  bucket: BucketConfig,
  bucketPath: string,
  { ref, granularity, rows: found }: LocatedPartition,
  groups: Map<string, RetentionGroup>,
  view: StateView,
  now: Date,
): PartitionImport {
  // Keys of a partition sort by their date folders: the newest key is in the newest folder.
  const newestDay = found.reduce((day, r) => (r.day > day ? r.day : day), found[0]!.day);
  const wazuhStart = granularity === 'day' ? newestDay : folderTime(newestDay, 0);
  const ours = view.windowStart(ref);
  const store = ours === null || toMs(ours) < toMs(wazuhStart) ? wazuhStart : null;
  // Rows our collector already forgot stay forgotten: it never lists that far back again.
  const horizon = ours === null ? null : toMs(pruneBefore(ours, PRUNE_MARGIN_DAYS, granularity));
  const records: ImportedRecord[] = [];
  let alreadyDone = 0;
  let behind = 0;
  for (const { row, folder } of found) {
    if (horizon !== null && toMs(folder) < horizon) behind++;
    else if (view.isDone(ref.bucket, row.key)) alreadyDone++;
    else {
      records.push({
        bucket: ref.bucket,
        path: bucket.path,
        account: ref.account,
        region: ref.region,
        key: row.key,
        etag: IMPORTED_ETAG,
        size: 0,
        events: 0,
        malformed: 0,
        processedAt: row.processedAt ?? now.getTime(),
      });
    }
  }
  return {
    partition: ref,
    granularity,
    label: partitionLabel(ref.prefix, ref.account, ref.region),
    rows: found.length,
    wazuhStart,
    records,
    alreadyDone,
    behind,
    ours,
    store,
    listedFrom: listingStart(store ?? ours, bucket.onlyLogsAfter, now, granularity),
    notes: partitionRetentionNotes(bucketPath, ref, found, newestDay, groups),
  };
}

function partitionRetentionNotes(bucketPath: string, ref: PartitionRef, found: LocatedRow[], newestDay: string, groups: Map<string, RetentionGroup>): string[] {
  const notes: string[] = [];
  for (const [account, group] of groups) {
    if (group.rows < WAZUH_DB.rowsKept || !group.oldest.startsWith(ref.prefix)) continue;
    const oldest = found.find((r) => r.row.key === group.oldest);
    if (oldest && oldest.day === newestDay) {
      notes.push(
        `Wazuh had dropped older rows of ${bucketPath} account ${account} (it keeps ${WAZUH_DB.rowsKept}) down into ${newestDay}: ` +
          `keys of that day sorting before ${group.oldest} that Wazuh read are no longer recorded and will be sent again`,
      );
    }
  }
  return notes;
}

function accountRetentionNotes(groups: Map<string, RetentionGroup>, planned: PartitionImport[]): string[] {
  const notes: string[] = [];
  for (const [account, group] of groups) {
    if (group.rows < WAZUH_DB.rowsKept || !/^\d{12}$/.test(account)) continue;
    const first = planned.find((p) => group.oldest.startsWith(p.partition.prefix) && p.granularity === 'day');
    if (!first) continue;
    notes.push(
      `Wazuh reached its ${WAZUH_DB.rowsKept}-row limit for account ${account} and dropped its oldest rows (by key): a region of that account ` +
        `sorting before ${first.partition.region} whose rows were all dropped looks never reached and starts at only_logs_after, ` +
        'so what Wazuh sent from it would be sent again (an only_logs_after no later than the earliest LISTED FROM above bounds that)',
    );
  }
  return notes;
}

/** True when applying the plan would change nothing. */
export function planIsEmpty(plan: ImportPlan): boolean {
  return plan.records === 0 && plan.windows === 0;
}

function startWords(bucket: BucketConfig): string {
  return bucket.onlyLogsAfter === null ? 'today (no only_logs_after)' : `only_logs_after ${bucket.onlyLogsAfter}`;
}

export function formatImport(plan: ImportPlan, statePath: string, dryRun: boolean): string {
  const version = plan.wazuh.version === null ? 'no version recorded' : `Wazuh ${plan.wazuh.version}`;
  const lines = [
    `import-wazuh${dryRun ? ' --dry-run' : ''}: ${plan.wazuh.path} (${version}, table guardduty: ${plural(plan.wazuh.rows, 'row')}) into state ${statePath}`,
  ];
  if (plan.buckets.length === 0) lines.push(`  ${plan.config} configures no <bucket type="guardduty">`);
  for (const b of plan.buckets) {
    const rows = b.partitions.reduce((n, p) => n + p.rows, 0) + b.outside + b.excluded.reduce((n, e) => n + e.rows, 0);
    if (rows === 0) {
      lines.push(`bucket ${b.bucket.name} (Wazuh's bucket_path ${b.bucketPath}): no row in Wazuh's table; its partitions start as new ones, at ${startWords(b.bucket)}`);
      continue;
    }
    lines.push(`bucket ${b.bucket.name} (Wazuh's bucket_path ${b.bucketPath}): ${plural(rows, 'row')}, ${plural(b.partitions.length, 'partition')}`);
    if (b.partitions.length > 0) {
      const table_ = [['PARTITION', 'WAZUH ROWS', 'MARKED DONE', 'ALREADY DONE', "WAZUH'S NEWEST", 'LISTED FROM']];
      for (const p of b.partitions) {
        let from: string = p.listedFrom;
        const stored = p.store ?? p.ours;
        if (p.store === null) from += ' (kept: the state already lists from there)';
        else if (stored !== null && toMs(p.listedFrom) > toMs(stored)) from += ' (only_logs_after)';
        table_.push([
          p.label,
          String(p.rows),
          String(p.records.length),
          String(p.alreadyDone + p.behind),
          p.granularity === 'day' ? p.wazuhStart : p.wazuhStart.slice(0, 10),
          from,
        ]);
      }
      lines.push(...table(table_, [1, 2, 3]));
    }
    for (const p of b.partitions) {
      for (const note of p.notes) lines.push(`  note: ${p.label}: ${note}`);
    }
    for (const e of b.excluded) lines.push(`  ignored: ${plural(e.rows, 'row')} of ${e.label} (${e.why}: the collector does not read it)`);
    if (b.outside > 0) {
      lines.push(
        `  ignored: ${plural(b.outside, 'row')} whose key is in neither layout under this path ` +
          `(not ${b.bucket.path}AWSLogs/${b.bucket.pathSuffix}<account>/GuardDuty/<region>/YYYY/MM/DD/…, nor Firehose's ${b.bucket.path}YYYY/MM/DD/HH/…)`,
      );
    }
    for (const note of b.notes) lines.push(`  note: ${note}`);
    lines.push(`  partitions with no row in Wazuh's table start as new ones, at ${startWords(b.bucket)}`);
  }
  for (const i of plan.ignored) {
    lines.push(`ignored: ${plural(i.rows, 'row')} of bucket_path ${i.bucketPath}: no <bucket type="guardduty"> of ${plan.config} has it${i.hint ? ` (${i.hint})` : ''}`);
  }
  const what = `${plural(plan.records, 'key')} as done and ${plural(plan.windows, 'partition window start')}`;
  if (dryRun) lines.push(`dry run: would record ${what}; nothing written`);
  else if (planIsEmpty(plan)) lines.push('nothing to import: the state already holds all of it');
  else lines.push(`recorded ${what}`);
  if (plan.buckets.some((b) => b.partitions.length > 0)) {
    lines.push(
      'the next pass lists each partition above from LISTED FROM and reads only the keys Wazuh did not record; the days before it count as read by Wazuh.',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the plan in one transaction. */
export function applyImport(store: StateStore, plan: ImportPlan): { objects: number; windows: number } {
  const partitions = plan.buckets.flatMap((b) => b.partitions);
  return store.importDone(
    partitions.flatMap((p) => p.records),
    partitions.filter((p) => p.store !== null).map((p) => ({ partition: p.partition, windowStart: p.store! })),
  );
}
