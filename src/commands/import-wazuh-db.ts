import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { BucketConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';

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

/** Facts of Wazuh's aws-s3 wodle and its database that the import relies on. */
export const WAZUH_DB = {
  defaultPath: '/var/ossec/wodles/aws/s3_cloudtrail.db',
  /** How long to wait for the wodle to let go of its database (it locks it only while committing). */
  lockTimeoutMs: 5000,
  /** Wazuh's MAX_RECORD_RETENTION: rows kept per bucket_path and aws_account_id. */
  rowsKept: 500,
} as const;

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

function describeWazuhError(path: string, err: unknown, timeoutMs: number): string {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code === 'SQLITE_NOTADB') return `${path} is not a SQLite database, so not Wazuh's aws-s3 database (s3_cloudtrail.db): ${message}`;
  if (code === 'SQLITE_CORRUPT') return `Wazuh database ${path} is damaged (${message}); nothing imported`;
  if (code.startsWith('SQLITE_BUSY') || /locked/.test(message)) {
    return (
      `Wazuh database ${path} stayed locked for ${timeoutMs / 1000} s (Wazuh's aws-s3 wodle is writing to it): ` +
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
export function readWazuhDatabase(path: string, timeoutMs = WAZUH_DB.lockTimeoutMs): WazuhRecords {
  requireDatabaseFile(path);
  let db: Database.Database | undefined;
  try {
    const opened = new Database(path, { readonly: true, fileMustExist: true, timeout: timeoutMs });
    db = opened;
    // One read transaction: the rows and the metadata come from the same commit of Wazuh's.
    return opened.transaction(() => readRecords(opened, path))();
  } catch (err) {
    if (err instanceof WazuhDatabaseError) throw err;
    throw new WazuhDatabaseError(describeWazuhError(path, err, timeoutMs), { cause: err });
  } finally {
    db?.close();
  }
}

/** A missing file, one this user cannot reach, or a directory: said in the words of --wazuh-db rather than SQLite's. */
function requireDatabaseFile(path: string): void {
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new WazuhDatabaseError(`--wazuh-db ${path} is a directory: give the database file, s3_cloudtrail.db in it`);
  } catch (err) {
    if (err instanceof WazuhDatabaseError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') {
      throw new WazuhDatabaseError(`Wazuh database ${path} does not exist: give the path of Wazuh's s3_cloudtrail.db with --wazuh-db (default ${WAZUH_DB.defaultPath})`);
    }
    if (code === 'EACCES') throw new WazuhDatabaseError(`Wazuh database ${path} cannot be reached by this user (run as root, or copy it where this user can read it)`);
    throw new WazuhDatabaseError(`Wazuh database ${path}: ${(err as Error).message}`);
  }
}

function readRecords(db: Database.Database, path: string): WazuhRecords {
  const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name));
  const version = tables.has('metadata') ? readVersion(db) : null;
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
  return { path, version, rows: readGuarddutyRows(db, path) };
}

function readVersion(db: Database.Database): string | null {
  try {
    return (db.prepare("SELECT value FROM metadata WHERE key = 'version'").get() as { value: unknown } | undefined)?.value?.toString() ?? null;
  } catch {
    // A metadata table of another shape: not Wazuh's, told by what else is missing.
    return null;
  }
}

function readGuarddutyRows(db: Database.Database, path: string): WazuhRow[] {
  const columns = new Set((db.pragma('table_info(guardduty)') as Array<{ name: string }>).map((c) => c.name));
  const missing = ['bucket_path', 'aws_account_id', 'log_key'].filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new WazuhDatabaseError(`${path}: its guardduty table has no ${missing.join(', ')} column: it is not the table Wazuh's aws-s3 wodle writes`);
  }
  const processed = columns.has('processed_date') ? 'processed_date' : 'NULL';
  return (
    db.prepare(`SELECT bucket_path, aws_account_id, log_key, ${processed} AS processed_date FROM guardduty ORDER BY bucket_path, aws_account_id, log_key`).all() as Array<{
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
