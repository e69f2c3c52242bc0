import type { UpdateReason } from '../policy/updates.js';
import Database from 'better-sqlite3';
import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StateError } from '../errors.js';
import type { FailureKind } from '../policy/failure.js';
import { SCHEMA_VERSION } from './migrations.js';
import { READER_COMPANIONS, stateFileProblem } from './path.js';

// Read-only queries over a state database, for `status` and `explain`. They run beside a collector:
// the database is opened read-only, the collector's `<state>.lock` is never touched, and WAL mode lets
// them read the last committed state while the collector writes.

export interface PartitionRow {
  bucket: string;
  prefix: string;
  account: string;
  region: string;
  /** From `partitions`: where the next listing starts (a day or hour folder); null when never listed to the end. */
  windowStart: string | null;
  /** From `partition_passes` (schema v3); null when no pass was recorded. */
  lastPassAt: number | null;
  lastPassOk: boolean | null;
  lastError: string | null;
  newestKey: string | null;
  newestModified: number | null;
}

/** Object rows counted per partition (the longest partition prefix the key starts with) and status. */
export interface ObjectCountRow {
  bucket: string;
  /** null: the key is under no partition the state knows. */
  prefix: string | null;
  account: string;
  region: string;
  status: 'done' | 'failed';
  count: number;
  deletePending: number;
}

export interface RecordedObject {
  bucket: string;
  key: string;
  /** As `ObjectCountRow.prefix`. */
  prefix: string | null;
  path: string;
  account: string;
  region: string;
  etag: string;
  size: number;
  events: number;
  malformed: number;
  status: 'done' | 'failed';
  error: string | null;
  deletePending: boolean;
  processedAt: number;
  attempts: number;
  delivered: number;
  /** The kind of the last failure (schema v5); null for done objects and older rows. */
  failure: FailureKind | null;
}

function describeReadError(path: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return `state ${path} is not a guardduty-wodle database (${message})`;
  if (code === 'SQLITE_READONLY_DIRECTORY' || code.startsWith('SQLITE_CANTOPEN')) {
    return (
      `state ${path} cannot be read (${message}): reading a WAL database needs ${path}-shm, which exists while a collector ` +
      'runs and is otherwise created beside the file; run this as the user the collector runs as (or root)'
    );
  }
  return `state ${path} cannot be read: ${message}`;
}

/** The longest known partition prefix of the object's bucket that its key starts with, or NULL. */
const PARTITION_OF = `(SELECT p.prefix FROM parts p WHERE p.bucket = o.bucket AND substr(o.key, 1, length(p.prefix)) = p.prefix
                      ORDER BY length(p.prefix) DESC LIMIT 1)`;

/** A version of a finding as the state recorded it (finding_updates). */
export interface FindingVersionRow {
  bucket: string;
  id: string;
  updatedAt: number | null;
  seenAt: number;
  key: string;
  sent: boolean;
  why: UpdateReason;
  changed: string[];
}

export class ReadOnlyState {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    readonly schemaVersion: number,
    private readonly tables: Set<string>,
    private readonly objectColumns: Set<string>,
  ) {}

  /** Opens an existing state read-only; never creates it, never takes the collector's lock. */
  static open(path: string): ReadOnlyState {
    assertStateReachable(path);
    // Read-only, SQLite would wait on a FIFO for a writer, and read an empty file as an empty state.
    const problem = stateFileProblem(path, READER_COMPANIONS);
    if (problem !== null) throw new StateError(problem);
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new StateError(`state ${path} has schema version ${version}, newer than this guardduty-wodle knows (${SCHEMA_VERSION}); upgrade guardduty-wodle`);
      }
      const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name));
      const columns = tables.has('objects')
        ? new Set((db.pragma('table_info(objects)') as Array<{ name: string }>).map((c) => c.name))
        : new Set<string>();
      return new ReadOnlyState(db, path, version, tables, columns);
    } catch (err) {
      db?.close();
      if (err instanceof StateError) throw err;
      throw new StateError(describeReadError(path, err), { cause: err });
    }
  }

  /** The versions of a finding seen (finding_updates), oldest first; none in a state older than schema v7. */
  findingVersions(id: string): FindingVersionRow[] {
    if (!this.tables.has('finding_versions')) return [];
    return this.db
      .prepare(
        `SELECT bucket, id, updated_at AS updatedAt, seen_at AS seenAt, key, sent, why, changed FROM finding_versions
         WHERE id = ? ORDER BY seen_at, updated_at`,
      )
      .all(id)
      .map((row) => {
        const r = row as Omit<FindingVersionRow, 'sent' | 'changed'> & { sent: number; changed: string };
        return { ...r, sent: r.sent === 1, changed: r.changed === '' ? [] : r.changed.split(',') };
      });
  }

  /** Partitions known from `partitions` or `partition_passes`, ordered by bucket and prefix. */
  partitions(bucket?: string): PartitionRow[] {
    // A database of schema v3 or older, not yet opened by this release, keeps the day read through.
    const start = this.schemaVersion >= 4 ? 'window_start' : "date(cursor_day, '-1 day')";
    const starts = this.tables.has('partitions')
      ? (this.db.prepare(`SELECT bucket, prefix, account, region, ${start} AS windowStart FROM partitions`).all() as Array<
          Pick<PartitionRow, 'bucket' | 'prefix' | 'account' | 'region' | 'windowStart'>
        >)
      : [];
    const passes = this.tables.has('partition_passes')
      ? (this.db
          .prepare(
            `SELECT bucket, prefix, account, region, last_pass_at AS lastPassAt, last_pass_ok AS lastPassOk, last_error AS lastError,
                    newest_key AS newestKey, newest_modified AS newestModified FROM partition_passes`,
          )
          .all() as Array<Omit<PartitionRow, 'windowStart' | 'lastPassOk'> & { lastPassOk: number }>)
      : [];
    const byKey = new Map<string, PartitionRow>();
    const id = (row: { bucket: string; prefix: string }) => `${row.bucket}\u0000${row.prefix}`;
    for (const row of starts) {
      byKey.set(id(row), { ...row, lastPassAt: null, lastPassOk: null, lastError: null, newestKey: null, newestModified: null });
    }
    for (const row of passes) {
      const known = byKey.get(id(row));
      byKey.set(id(row), { ...row, windowStart: known?.windowStart ?? null, lastPassOk: row.lastPassOk === 1 });
    }
    return [...byKey.values()]
      .filter((row) => bucket === undefined || row.bucket === bucket)
      .sort((a, b) => (a.bucket === b.bucket ? compare(a.prefix, b.prefix) : compare(a.bucket, b.bucket)));
  }

  private partsCte(): string {
    const sources = [
      this.tables.has('partitions') ? 'SELECT bucket, prefix FROM partitions' : null,
      this.tables.has('partition_passes') ? 'SELECT bucket, prefix FROM partition_passes' : null,
    ].filter((s) => s !== null);
    return `WITH parts (bucket, prefix) AS (${sources.length > 0 ? sources.join(' UNION ') : "SELECT '', '' WHERE 0"})`;
  }

  objectCounts(): ObjectCountRow[] {
    if (!this.tables.has('objects')) return [];
    return this.db
      .prepare(
        `${this.partsCte()}
         SELECT o.bucket AS bucket, ${PARTITION_OF} AS prefix, o.account AS account, o.region AS region, o.status AS status,
                count(*) AS count, sum(o.delete_pending) AS deletePending
         FROM objects o GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
      )
      .all() as ObjectCountRow[];
  }

  private objectSelect(where: string): string {
    const optional = (column: string) => (this.objectColumns.has(column) ? `o.${column}` : '0');
    return `${this.partsCte()}
      SELECT o.bucket AS bucket, o.key AS key, ${PARTITION_OF} AS prefix, o.path AS path, o.account AS account, o.region AS region,
             o.etag AS etag, o.size AS size, o.events AS events, o.malformed AS malformed, o.status AS status, o.error AS error,
             o.delete_pending AS deletePending, o.processed_at AS processedAt, ${optional('attempts')} AS attempts,
             ${optional('delivered')} AS delivered, ${this.objectColumns.has('failure') ? 'o.failure' : 'NULL'} AS failure
      FROM objects o WHERE ${where} ORDER BY o.bucket, o.key`;
  }

  /** Every failed object, ordered by bucket and key. */
  failedObjects(): RecordedObject[] {
    if (!this.tables.has('objects')) return [];
    return (this.db.prepare(this.objectSelect("o.status = 'failed'")).all() as RawRecordedObject[]).map(toObject);
  }

  object(bucket: string, key: string): RecordedObject | undefined {
    if (!this.tables.has('objects')) return undefined;
    const row = this.db.prepare(this.objectSelect('o.bucket = ? AND o.key = ?')).get(bucket, key) as RawRecordedObject | undefined;
    return row && toObject(row);
  }

  /** What the daemon last recorded of its schedule (schema v6), or null when none runs on this state. */
  daemon(): { pid: number; startedAt: number; nextPassAt: number | null } | null {
    if (!this.tables.has('daemon')) return null;
    return (
      (this.db.prepare('SELECT pid, started_at AS startedAt, next_pass_at AS nextPassAt FROM daemon WHERE id = 1').get() as
        | { pid: number; startedAt: number; nextPassAt: number | null }
        | undefined) ?? null
    );
  }

  close(): void {
    this.db.close();
  }
}

type RawRecordedObject = Omit<RecordedObject, 'deletePending'> & { deletePending: number };

function toObject(row: RawRecordedObject): RecordedObject {
  return { ...row, deletePending: row.deletePending === 1 };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Fails with the real reason a state file cannot be reached: missing, or in a directory this user
 * cannot enter (the state directory is 0700, the collector's user's), which is not "no collector ran".
 */
export function assertStateReachable(path: string): void {
  try {
    statSync(path);
    return;
  } catch (err) {
    if ((err as { code?: string }).code === 'EACCES') {
      throw new StateError(`state ${path} cannot be read by this user: ${dirname(path)} cannot be entered (run as the user the collector runs as, or root)`);
    }
  }
  try {
    accessSync(dirname(path), constants.X_OK);
  } catch (err) {
    if ((err as { code?: string }).code === 'EACCES') {
      throw new StateError(`state ${path} cannot be read by this user: ${dirname(path)} cannot be entered (run as the user the collector runs as, or root)`);
    }
  }
  throw new StateError(`state ${path} does not exist (no collector has run with this --state; check the path)`);
}
