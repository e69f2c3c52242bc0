import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { PRUNE_MARGIN_DAYS } from '../collector.js';
import type { BucketConfig, Config } from '../config/load.js';
import { ConfigError, StateError } from '../errors.js';
import { StateReader } from '../state/report.js';
import { StateStore, type ObjectRecord, type PartitionRef } from '../state/store.js';
import { parseFirehoseKey } from '../walk/firehose.js';
import { parseNativeKey, partitionExclusion, partitionOf } from '../walk/native.js';
import { folderTime, listingStart, pruneBefore, toMs, type FolderTime, type Granularity } from '../walk/window.js';
import { partitionLabel, plural, table } from './format.js';

// `guardduty-wodle import-wazuh`: switch over from Wazuh's aws-s3 wodle without a gap or a duplicate.
// Wazuh records each GuardDuty object it processed in the `guardduty` table of its s3_cloudtrail.db
// (wodles/aws/buckets_s3/aws_bucket.py, AWSCustomBucket; guardduty.py):
//
//   CREATE TABLE guardduty (bucket_path 'text' NOT NULL, aws_account_id 'text' NOT NULL, log_key 'text' NOT NULL,
//     processed_date 'text' NOT NULL, created_date 'integer' NOT NULL, PRIMARY KEY (bucket_path, aws_account_id, log_key));
//
// - bucket_path is `f"{bucket}/{prefix}"` (AWSBucket.__init__; AWSCustomBucket, which the GuardDuty bucket
//   extends, does not add the path_suffix as AWSLogsBucket does), where prefix is the <path> with a '/'
//   appended when it is not empty and lacks one (aws_tools.arg_valid_key): `my-bucket/`, `my-bucket/gd/`.
// - aws_account_id is the account folder of a native key, or for Firehose (Kinesis) keys the account of
//   the reading identity (STS GetCallerIdentity): the key alone says where a row belongs.
// - Wazuh keeps the newest 500 rows (by key) per bucket_path and aws_account_id and deletes the rest.
//
// The rule, per partition of ours (native: account and region, from the key; Firehose: the path): every
// key Wazuh recorded is done; the listing window starts at the day of the newest key Wazuh recorded there
// (Firehose: that day's hour 00), so the days before count as handled by Wazuh and the keys of that day it
// did not record are read. A partition with no row is left alone: it starts as a new one, at
// only_logs_after. It takes the collector's lock and writes in one transaction.

export const DEFAULT_WAZUH_DB = '/var/ossec/wodles/aws/s3_cloudtrail.db';
/** How long to wait for Wazuh's wodle to let go of its database (it locks it only while committing). */
export const WAZUH_DB_TIMEOUT_MS = 5000;
/** Wazuh's MAX_RECORD_RETENTION: rows kept per bucket_path and aws_account_id. */
export const WAZUH_RETENTION = 500;
/** The ETag recorded for an imported key: `explain` shows it, so an imported row is told from one read here. */
export const IMPORTED_ETAG = 'wazuh-import';

export interface WazuhRow {
  bucketPath: string;
  account: string;
  key: string;
  /** When Wazuh processed it, ms (from `processed_date`, UTC); null when unreadable. */
  processedAt: number | null;
}

export interface WazuhRecords {
  path: string;
  /** From Wazuh's `metadata` table; null when it has none. */
  version: string | null;
  rows: WazuhRow[];
}

/** Wazuh's database cannot be used: one line, exit 2. */
export class WazuhDatabaseError extends ConfigError {}

function describeWazuhError(path: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code === 'SQLITE_NOTADB') return `${path} is not a SQLite database, so not Wazuh's aws-s3 database (s3_cloudtrail.db): ${message}`;
  if (code === 'SQLITE_CORRUPT') return `Wazuh database ${path} is damaged (${message}); nothing imported`;
  if (code.startsWith('SQLITE_BUSY') || /locked/.test(message)) {
    return (
      `Wazuh database ${path} stayed locked for ${WAZUH_DB_TIMEOUT_MS / 1000} s (Wazuh's aws-s3 wodle is writing to it): ` +
      'run import-wazuh again once its run is over; nothing imported'
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES') return `Wazuh database ${path} cannot be opened: ${message} (run as root or the wazuh user)`;
  return `Wazuh database ${path}: ${code ? `${code}: ` : ''}${message}`;
}

/**
 * Reads Wazuh's `guardduty` rows, opening the database read-only (Wazuh may be using it: a lock held
 * while it commits is waited for, briefly). Throws a WazuhDatabaseError naming what is wrong.
 */
export function readWazuhDatabase(path: string, timeoutMs = WAZUH_DB_TIMEOUT_MS): WazuhRecords {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new WazuhDatabaseError(`--wazuh-db ${path} is a directory: give the database file, s3_cloudtrail.db in it`);
  } catch (err) {
    if (err instanceof WazuhDatabaseError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new WazuhDatabaseError(`Wazuh database ${path} does not exist: give the path of Wazuh's s3_cloudtrail.db with --wazuh-db (default ${DEFAULT_WAZUH_DB})`);
    }
    if (code === 'EACCES') throw new WazuhDatabaseError(`Wazuh database ${path} cannot be reached by this user (run as root, or copy it where this user can read it)`);
    throw new WazuhDatabaseError(`Wazuh database ${path}: ${(err as Error).message}`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: timeoutMs });
    // One read transaction: the rows and the metadata come from the same commit of Wazuh's.
    return db.transaction(() => {
      const tables = new Set((db!.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name));
      let version: string | null = null;
      if (tables.has('metadata')) {
        try {
          version = (db!.prepare("SELECT value FROM metadata WHERE key = 'version'").get() as { value: unknown } | undefined)?.value?.toString() ?? null;
        } catch {
          // A metadata table of another shape: not Wazuh's, told below by what else is missing.
        }
      }
      if (!tables.has('guardduty')) {
        if (version !== null) {
          throw new WazuhDatabaseError(
            `Wazuh database ${path} (Wazuh ${version}) has no guardduty table: Wazuh's aws-s3 wodle never recorded a GuardDuty bucket in it; nothing to import`,
          );
        }
        const names = [...tables].sort();
        throw new WazuhDatabaseError(
          `${path} is not Wazuh's aws-s3 database (s3_cloudtrail.db): it has no guardduty table (tables: ${names.length > 0 ? names.join(', ') : 'none'})`,
        );
      }
      const columns = new Set((db!.pragma('table_info(guardduty)') as Array<{ name: string }>).map((c) => c.name));
      const missing = ['bucket_path', 'aws_account_id', 'log_key'].filter((c) => !columns.has(c));
      if (missing.length > 0) {
        throw new WazuhDatabaseError(`${path}: its guardduty table has no ${missing.join(', ')} column: it is not the table Wazuh's aws-s3 wodle writes`);
      }
      const processed = columns.has('processed_date') ? 'processed_date' : 'NULL';
      const rows = (
        db!.prepare(`SELECT bucket_path, aws_account_id, log_key, ${processed} AS processed_date FROM guardduty ORDER BY bucket_path, aws_account_id, log_key`).all() as Array<{
          bucket_path: unknown;
          aws_account_id: unknown;
          log_key: unknown;
          processed_date: unknown;
        }>
      ).map((row) => ({
        bucketPath: String(row.bucket_path),
        account: String(row.aws_account_id),
        key: String(row.log_key),
        processedAt: parseProcessedDate(row.processed_date),
      }));
      return { path, version, rows };
    })();
  } catch (err) {
    if (err instanceof WazuhDatabaseError) throw err;
    throw new WazuhDatabaseError(describeWazuhError(path, err), { cause: err });
  } finally {
    db?.close();
  }
}

/** Wazuh writes `DATETIME('now')`: `YYYY-MM-DD HH:MM:SS`, UTC. */
function parseProcessedDate(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value)) return null;
  const ms = Date.parse(`${value.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? null : ms;
}

/** Wazuh's bucket_path for a configured bucket: the name, a slash, the <path> (already '' or ending in '/'). */
export function wazuhBucketPath(bucket: Pick<BucketConfig, 'name' | 'path'>): string {
  return `${bucket.name}/${bucket.path}`;
}

/** What the import needs of our state: the real store, a read-only view of it (dry run), or nothing. */
export interface StateView {
  windowStart(partition: PartitionRef): FolderTime | null;
  isDone(bucket: string, key: string): boolean;
}

export const EMPTY_STATE: StateView = { windowStart: () => null, isDone: () => false };

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

function planBucket(bucket: BucketConfig, bucketPath: string, rows: WazuhRow[], view: StateView, now: Date): BucketImport {
  const partitions = new Map<string, { ref: PartitionRef; granularity: Granularity; rows: Array<{ row: WazuhRow; folder: FolderTime; day: string }> }>();
  const excluded = new Map<string, { label: string; rows: number; why: string }>();
  let outside = 0;
  // Wazuh's retention is per bucket_path and aws_account_id: its oldest row and its row count.
  const groups = new Map<string, { rows: number; oldest: string }>();
  for (const row of rows) {
    const group = groups.get(row.account);
    if (!group) groups.set(row.account, { rows: 1, oldest: row.key });
    else {
      group.rows++;
      if (row.key < group.oldest) group.oldest = row.key;
    }
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
        ref: { bucket: bucket.name, prefix: bucket.path, account: '', region: '' },
        granularity: 'hour' as Granularity,
        rows: [],
      };
      entry.rows.push({ row, folder: folderTime(firehose.day, firehose.hour), day: firehose.day });
      partitions.set(bucket.path, entry);
      continue;
    }
    outside++;
  }
  const planned: PartitionImport[] = [];
  for (const { ref, granularity, rows: found } of [...partitions.values()].sort((a, b) => compareText(a.ref.prefix, b.ref.prefix))) {
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
    const notes: string[] = [];
    for (const [account, group] of groups) {
      if (group.rows < WAZUH_RETENTION || !group.oldest.startsWith(ref.prefix)) continue;
      const oldest = found.find((r) => r.row.key === group.oldest);
      if (oldest && oldest.day === newestDay) {
        notes.push(
          `Wazuh had dropped older rows of ${bucketPath} account ${account} (it keeps ${WAZUH_RETENTION}) down into ${newestDay}: ` +
            `keys of that day sorting before ${group.oldest} that Wazuh read are no longer recorded and will be sent again`,
        );
      }
    }
    planned.push({
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
      notes,
    });
  }
  const notes: string[] = [];
  for (const [account, group] of groups) {
    if (group.rows < WAZUH_RETENTION || !/^\d{12}$/.test(account)) continue;
    const first = planned.find((p) => group.oldest.startsWith(p.partition.prefix) && p.granularity === 'day');
    if (!first) continue;
    notes.push(
      `Wazuh reached its ${WAZUH_RETENTION}-row limit for account ${account} and dropped its oldest rows (by key): a region of that account ` +
        `sorting before ${first.partition.region} whose rows were all dropped looks never reached and starts at only_logs_after, ` +
        'so what Wazuh sent from it would be sent again (an only_logs_after no later than the earliest LISTED FROM above bounds that)',
    );
  }
  return { bucket, bucketPath, partitions: planned, outside, excluded: [...excluded.values()], notes };
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

/** Opens the state with the collector's lock, creating it if missing; a running collector makes it refuse. */
export function openForImport(statePath: string, open: (path: string) => StateStore): StateStore {
  try {
    return open(statePath);
  } catch (err) {
    if (err instanceof StateError && /in use by another/.test(err.message)) {
      throw new StateError(`state ${statePath} is in use by a running collector (it holds ${statePath}.lock): stop the service first, then run import-wazuh again`, {
        cause: err,
      });
    }
    throw err;
  }
}

export function storeView(store: StateStore): StateView {
  return {
    windowStart: (partition) => store.windowStart(partition),
    isDone: (bucket, key) => store.lookup(bucket, key)?.status === 'done',
  };
}

/**
 * For a dry run: the state read-only, never created, never locked (it may run beside a collector).
 * Returns the view and a function closing it.
 */
export function readOnlyView(statePath: string): { view: StateView; close: () => void } {
  if (!existsSync(statePath)) return { view: EMPTY_STATE, close: () => {} };
  const reader = StateReader.open(statePath);
  const starts = new Map(reader.partitions().map((p) => [`${p.bucket}\u0000${p.prefix}`, p.windowStart]));
  return {
    view: {
      windowStart: (partition) => starts.get(`${partition.bucket}\u0000${partition.prefix}`) ?? null,
      isDone: (bucket, key) => reader.object(bucket, key)?.status === 'done',
    },
    close: () => reader.close(),
  };
}
