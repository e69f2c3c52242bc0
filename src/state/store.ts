import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { StateError } from '../errors.js';
import type { FailureKind } from '../policy/failure.js';
import { knownLayout, type LayoutName } from '../policy/layout.js';
import type { FolderTime } from '../walk/window.js';
import { openState } from './open.js';
import type { KnownObject, ObjectRecord, StoredObjectRow, ObjectStatus, PartitionOutcome, PartitionPass, PartitionRef, SeenVersion } from './rows.js';
import type { VersionFacts } from '../policy/updates.js';

export type { KnownObject, ObjectRecord, ObjectStatus, PartitionOutcome, PartitionPass, PartitionRef } from './rows.js';

/** Why a write or read of an open state failed, in words: the disk, the directory, the file. */
function describeUseError(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code === 'SQLITE_FULL') return `the disk is full (${code}: ${message})`;
  if (code.startsWith('SQLITE_READONLY')) return `the database can no longer be written, its file system or directory is read-only (${code}: ${message})`;
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN')) {
    return `the file system failed, or the state directory was removed (${code}: ${message})`;
  }
  return `${code || 'error'}: ${message}`;
}

/**
 * Which objects were processed, per bucket and key, and where each partition's listing starts.
 * One process at a time: a lock held for the store's lifetime in a file beside the database makes a
 * second collector fail at once, while tools that only read the database can still open it.
 */
export class StateStore {
  private constructor(
    private readonly db: Database.Database,
    private readonly lock: Database.Database,
    readonly path: string,
    /** The database file's inode: a file removed or replaced under an open database takes writes to nowhere. */
    private readonly inode: number,
  ) {}

  /** Opens (creating it, mode 0600 in a 0700 directory, if missing) and locks the state database. */
  static open(path: string, warn: (message: string) => void = () => {}): StateStore {
    const { db, lock, inode } = openState(path, warn);
    return new StateStore(db, lock, path, inode);
  }

  /**
   * Runs one use of the database; a failure of the disk or the file (full, read-only, removed) becomes
   * a StateError naming the path and the cause, which stops the pass: nothing more can be recorded.
   */
  private guard<T>(what: string, use: () => T): T {
    try {
      return use();
    } catch (err) {
      if (err instanceof StateError) throw err;
      throw new StateError(`state ${this.path}: cannot ${what}: ${describeUseError(err)}`, { cause: err });
    }
  }

  private statements?: {
    lookup: Database.Statement<[string, string], StoredObjectRow>;
    record: Database.Statement<unknown[]>;
    deleted: Database.Statement<[string, string]>;
    windowStart: Database.Statement<[string, string], { window_start: string }>;
    setWindowStart: Database.Statement<unknown[]>;
    prune: Database.Statement<[string, string, string]>;
    failedBefore: Database.Statement<[string, string, string], { key: string; etag: string; size: number }>;
    recordVersion: Database.Statement<unknown[]>;
    lastSent: Database.Statement<[string, string], { updated_at: number | null; severity: string; type: string; resource: string; archived: string }>;
    pruneVersions: Database.Statement<[number]>;
    anyVersionBefore: Database.Statement<[number], { one: number }>;
    recordPass: Database.Statement<unknown[]>;
  };

  private prepared() {
    this.statements ??= {
      lookup: this.db.prepare<[string, string], StoredObjectRow>(
        'SELECT status, delete_pending, etag, attempts, delivered FROM objects WHERE bucket = ? AND key = ?',
      ),
      record: this.db.prepare(
        `INSERT INTO objects (bucket, path, account, region, key, etag, size, events, malformed, status, error, failure, delete_pending,
                              processed_at, attempts, delivered)
         VALUES (@bucket, @path, @account, @region, @key, @etag, @size, @events, @malformed, @status, @error, @failure, @deletePending,
                 @processedAt, @attempts, @delivered)
         ON CONFLICT (bucket, key) DO UPDATE SET etag = excluded.etag, size = excluded.size, events = excluded.events,
           malformed = excluded.malformed, status = excluded.status, error = excluded.error, failure = excluded.failure,
           delete_pending = excluded.delete_pending, processed_at = excluded.processed_at,
           attempts = objects.attempts + excluded.attempts, delivered = excluded.delivered`,
      ),
      deleted: this.db.prepare('UPDATE objects SET delete_pending = 0 WHERE bucket = ? AND key = ?'),
      windowStart: this.db.prepare('SELECT window_start FROM partitions WHERE bucket = ? AND prefix = ?'),
      setWindowStart: this.db.prepare(
        `INSERT INTO partitions (bucket, prefix, account, region, window_start, updated_at)
         VALUES (@bucket, @prefix, @account, @region, @windowStart, @updatedAt)
         ON CONFLICT (bucket, prefix) DO UPDATE SET window_start = excluded.window_start, updated_at = excluded.updated_at`,
      ),
      // Keys of one partition sort by day, so "older than this day's folder" is a key range.
      // Failed rows stay (but for objects found gone): a failed object is read again by key however far
      // the window has moved.
      prune: this.db.prepare(
        "DELETE FROM objects WHERE bucket = ? AND key >= ? AND key < ? AND (status = 'done' OR failure IS 'gone')",
      ),
      recordVersion: this.db.prepare(
        `INSERT INTO finding_versions (bucket, id, updated_at, seen_at, key, sent, why, changed, severity, type, resource, archived)
         VALUES (@bucket, @id, @updatedAt, @seenAt, @key, @sent, @why, @changed, @severity, @type, @resource, @archived)`,
      ),
      lastSent: this.db.prepare(
        'SELECT updated_at, severity, type, resource, archived FROM finding_versions WHERE bucket = ? AND id = ? AND sent = 1 ORDER BY updated_at DESC LIMIT 1',
      ),
      anyVersionBefore: this.db.prepare('SELECT 1 AS one FROM finding_versions WHERE seen_at < ? LIMIT 1'),
      pruneVersions: this.db.prepare(
        `DELETE FROM finding_versions WHERE (bucket, id) IN
           (SELECT bucket, id FROM finding_versions GROUP BY bucket, id HAVING max(seen_at) < ?)`,
      ),
      failedBefore: this.db.prepare(
        "SELECT key, etag, size FROM objects WHERE bucket = ? AND key >= ? AND key < ? AND status = 'failed' AND failure IS NOT 'gone' ORDER BY key",
      ),
      // The newest object only moves forward: a pass that read nothing new keeps the one before.
      recordPass: this.db.prepare(
        `INSERT INTO partition_passes (bucket, prefix, account, region, last_pass_at, last_pass_ok, last_error, newest_key, newest_modified)
         VALUES (@bucket, @prefix, @account, @region, @at, @ok, @error, @newestKey, @newestModified)
         ON CONFLICT (bucket, prefix) DO UPDATE SET last_pass_at = excluded.last_pass_at, last_pass_ok = excluded.last_pass_ok,
           last_error = excluded.last_error,
           newest_key = CASE WHEN excluded.newest_modified > coalesce(partition_passes.newest_modified, -1)
                             THEN excluded.newest_key ELSE partition_passes.newest_key END,
           newest_modified = max(coalesce(partition_passes.newest_modified, excluded.newest_modified),
                                 coalesce(excluded.newest_modified, partition_passes.newest_modified))`,
      ),
    };
    return this.statements;
  }

  lookup(bucket: string, key: string): KnownObject | undefined {
    const row = this.guard('read an object\'s row', () => this.prepared().lookup.get(bucket, key));
    return row && { status: row.status, deletePending: row.delete_pending === 1, etag: row.etag, attempts: row.attempts, delivered: row.delivered };
  }

  /**
   * Called only once every output has accepted every event of the object; the versions of findings it
   * held (finding_updates) are recorded in the same transaction, so that a version is never taken as
   * sent unless its object is recorded.
   */
  markDone(record: ObjectRecord, deletePending: boolean, versions: readonly SeenVersion[] = []): void {
    if (versions.length === 0) {
      this.write(record, 'done', null, null, deletePending, 0);
      return;
    }
    this.guard(`record ${record.key} as done`, () =>
      this.db.transaction(() => {
        this.write(record, 'done', null, null, deletePending, 0);
        for (const version of versions) {
          this.prepared().recordVersion.run({
            bucket: record.bucket,
            id: version.id,
            updatedAt: version.facts.updatedAt,
            seenAt: version.seenAt,
            key: record.key,
            sent: version.sent ? 1 : 0,
            why: version.why,
            changed: version.changed.join(','),
            severity: version.facts.severity,
            type: version.facts.type,
            resource: version.facts.resource,
            archived: version.facts.archived,
          });
        }
      })(),
    );
  }

  /** The facts of the version of a finding last sent (finding_updates), if any was. */
  lastSentVersion(bucket: string, id: string): VersionFacts | undefined {
    const row = this.guard('read the version of a finding last sent', () => this.prepared().lastSent.get(bucket, id));
    return row && { updatedAt: row.updated_at, severity: row.severity, type: row.type, resource: row.resource, archived: row.archived };
  }

  /**
   * Forgets the versions of findings whose id was last seen before `beforeMs`. Every pass asks: the
   * grouping over all versions runs only when the index on seen_at shows one that old.
   */
  pruneFindingVersions(beforeMs: number): number {
    return this.guard('prune the versions of findings', () =>
      this.prepared().anyVersionBefore.get(beforeMs) === undefined ? 0 : this.prepared().pruneVersions.run(beforeMs).changes,
    );
  }

  /**
   * An object that failed this pass: recorded with its error and the kind of failure, never as done.
   * `record.events` counts the events that reached every output before the failure.
   */
  markFailed(record: ObjectRecord, error: string, failure: { kind: FailureKind; countsAttempt: boolean }): void {
    this.write(record, 'failed', error, failure.kind, false, failure.countsAttempt ? 1 : 0);
  }

  /**
   * The partition's failed objects whose keys sort before `beforeKey` (its listing's start): those the
   * window has moved past, read again by key. Kept by prune (failed rows are never pruned).
   */
  failedBefore(partition: PartitionRef, beforeKey: string): Array<{ key: string; etag: string; size: number }> {
    return this.guard('read the failed objects behind the window', () => this.prepared().failedBefore.all(partition.bucket, partition.prefix, beforeKey));
  }

  markDeleted(bucket: string, key: string): void {
    this.guard('record a delete', () => this.prepared().deleted.run(bucket, key));
  }

  /** Keys of the bucket whose delete (remove_from_bucket) has not succeeded yet, listed or not. */
  pendingDeletes(bucket: string): string[] {
    return this.guard('read the pending deletes', () =>
      (this.db.prepare("SELECT key FROM objects WHERE bucket = ? AND status = 'done' AND delete_pending = 1 ORDER BY key").all(bucket) as Array<{ key: string }>).map(
        (row) => row.key,
      ),
    );
  }

  /**
   * The layout the state knows the bucket by (native: partitions under `<path>AWSLogs/`; Firehose: the
   * partition `<path>`), or null when it knows none: a bucket emptied by remove_from_bucket keeps its layout.
   */
  knownLayout(bucket: string, path: string): LayoutName | null {
    return knownLayout(path, this.guard('read the bucket\'s partitions', () => this.bucketPartitions(bucket)));
  }

  /**
   * SQLite goes on writing to a database file that was deleted (or renamed away) while open, and all of
   * it is lost at exit: checked before each record, one stat.
   */
  private assertPresent(): void {
    let inode: number | null = null;
    try {
      inode = statSync(this.path).ino;
    } catch {
      // Gone.
    }
    if (inode !== this.inode) {
      throw new StateError(`state ${this.path} was removed or replaced while the collector ran: nothing more is recorded; the next run starts a new state`);
    }
  }

  private write(record: ObjectRecord, status: ObjectStatus, error: string | null, failure: FailureKind | null, deletePending: boolean, attempts: number): void {
    this.assertPresent();
    this.guard(status === 'done' ? `record ${record.key} as done` : `record the failure of ${record.key}`, () =>
      this.prepared().record.run({
        ...record,
        status,
        error,
        failure,
        deletePending: deletePending ? 1 : 0,
        processedAt: Date.now(),
        attempts,
        delivered: status === 'failed' ? record.events : 0,
      }),
    );
  }

  /** Where the partition's next listing starts (a day or hour folder), or null for a partition never listed to the end. */
  windowStart(partition: PartitionRef): FolderTime | null {
    return this.guard('read where a listing starts', () => this.prepared().windowStart.get(partition.bucket, partition.prefix)?.window_start ?? null);
  }

  setWindowStart(partition: PartitionRef, windowStart: FolderTime): void {
    this.prepared().setWindowStart.run({ ...partition, windowStart, updatedAt: Date.now() });
  }

  /**
   * Forgets the partition's keys in folders before `beforeFolder` (e.g. `2026/11/01/`). Listing never
   * starts that far back again, so forgetting them cannot make a key be read twice.
   */
  prune(partition: PartitionRef, beforeFolder: string): number {
    return this.prepared().prune.run(partition.bucket, partition.prefix, `${partition.prefix}${beforeFolder}`).changes;
  }

  /**
   * Records many partitions' passes in one transaction: a bucket has hundreds of partitions, and one
   * commit each was a tenth of an idle pass. Returns the rows pruned.
   */
  recordPartitions(outcomes: PartitionOutcome[]): number {
    this.assertPresent();
    return this.guard('record the partitions\' passes', () => this.db.transaction(() => {
      let pruned = 0;
      for (const { partition, pass, moved } of outcomes) {
        this.recordPartitionPass(partition, pass);
        if (!moved) continue;
        this.setWindowStart(partition, moved.windowStart);
        pruned += this.prune(partition, moved.pruneBefore);
      }
      return pruned;
    })());
  }

  recordPartitionPass(partition: PartitionRef, pass: PartitionPass): void {
    this.prepared().recordPass.run({
      bucket: partition.bucket,
      prefix: partition.prefix,
      account: partition.account,
      region: partition.region,
      at: pass.at,
      ok: pass.ok ? 1 : 0,
      error: pass.error,
      newestKey: pass.newest?.key ?? null,
      newestModified: pass.newest?.modified ?? null,
    });
  }

  /**
   * Forgets the bucket's objects recorded done before `beforeMs`. For buckets read only through SQS,
   * whose notifications cannot come back once past the queue's retention (14 days at most).
   */
  pruneDoneBefore(bucket: string, beforeMs: number): number {
    return this.db.prepare("DELETE FROM objects WHERE bucket = ? AND status = 'done' AND processed_at < ?").run(bucket, beforeMs).changes;
  }

  /** Where the daemon in this process stands: its pid, when it started, when its next pass is due (null: none). */
  recordDaemon(daemon: { pid: number; startedAt: number; nextPassAt: number | null }): void {
    this.guard('record the schedule', () =>
      this.db
        .prepare(
          `INSERT INTO daemon (id, pid, started_at, next_pass_at, updated_at) VALUES (1, @pid, @startedAt, @nextPassAt, @updatedAt)
           ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at, next_pass_at = excluded.next_pass_at,
             updated_at = excluded.updated_at`,
        )
        .run({ ...daemon, updatedAt: Date.now() }),
    );
  }

  /** The daemon is gone: status no longer reports a next pass. */
  forgetDaemon(): void {
    this.guard('record the stop', () => this.db.prepare('DELETE FROM daemon').run());
  }

  /** Each partition's newest object read, for the lag metric. */
  partitionNewest(): Array<{ bucket: string; account: string; region: string; prefix: string; newestModified: number | null }> {
    return this.db
      .prepare('SELECT bucket, account, region, prefix, newest_modified AS newestModified FROM partition_passes ORDER BY bucket, prefix')
      .all() as Array<{ bucket: string; account: string; region: string; prefix: string; newestModified: number | null }>;
  }

  countObjects(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM objects').get() as { n: number }).n;
  }

  /** Closes the database (checkpointing its WAL) and releases the lock; always releases the lock. */
  close(): void {
    try {
      this.guard('close the database', () => this.db.close());
    } finally {
      this.lock.close();
    }
  }

  /** The bucket's partitions known from `partitions` or `partition_passes`, with their window start (for `reset`). */
  bucketPartitions(bucket: string): Array<{ prefix: string; account: string; region: string; windowStart: FolderTime | null }> {
    return this.db
      .prepare(
        `SELECT prefix, account, region, window_start AS windowStart FROM partitions WHERE bucket = @bucket
         UNION ALL
         SELECT prefix, account, region, NULL FROM partition_passes
         WHERE bucket = @bucket AND prefix NOT IN (SELECT prefix FROM partitions WHERE bucket = @bucket)
         ORDER BY prefix`,
      )
      .all({ bucket }) as Array<{ prefix: string; account: string; region: string; windowStart: FolderTime | null }>;
  }

  /** The bucket's object rows, keys and status only (for `reset`). */
  bucketObjects(bucket: string): Array<{ key: string; status: ObjectStatus }> {
    return this.db.prepare('SELECT key, status FROM objects WHERE bucket = ? ORDER BY key').all(bucket) as Array<{ key: string; status: ObjectStatus }>;
  }

  /** Forgets everything about a bucket in one transaction: its next pass starts as on a new state. */
  forgetBucket(bucket: string): { objects: number; partitions: number; passes: number; versions: number } {
    return this.db.transaction(() => ({
      objects: this.db.prepare('DELETE FROM objects WHERE bucket = ?').run(bucket).changes,
      partitions: this.db.prepare('DELETE FROM partitions WHERE bucket = ?').run(bucket).changes,
      passes: this.db.prepare('DELETE FROM partition_passes WHERE bucket = ?').run(bucket).changes,
      // Its findings are sent again when read again, as if never seen (finding_updates).
      versions: this.db.prepare('DELETE FROM finding_versions WHERE bucket = ?').run(bucket).changes,
    }))();
  }

  /**
   * Forgets the given object rows and moves window starts back, in one transaction. A start only ever
   * moves back: one already at or before the given folder is kept.
   */
  forgetObjects(bucket: string, keys: string[], starts: Array<{ prefix: string; windowStart: FolderTime }>): { objects: number; windows: number } {
    const forget = this.db.prepare('DELETE FROM objects WHERE bucket = ? AND key = ?');
    // The versions of findings those objects held are forgotten with them: read again, they are sent again.
    const forgetVersions = this.db.prepare('DELETE FROM finding_versions WHERE bucket = ? AND key = ?');
    const back = this.db.prepare('UPDATE partitions SET window_start = ?, updated_at = ? WHERE bucket = ? AND prefix = ? AND window_start > ?');
    return this.db.transaction(() => {
      let objects = 0;
      let moved = 0;
      for (const key of keys) {
        objects += forget.run(bucket, key).changes;
        forgetVersions.run(bucket, key);
      }
      for (const { prefix, windowStart } of starts) moved += back.run(windowStart, Date.now(), bucket, prefix, windowStart).changes;
      return { objects, windows: moved };
    })();
  }

  /**
   * Records keys another collector processed (Wazuh's wodle, for `import-wazuh`) as done and sets
   * partitions' window starts, all in one transaction. A key the state already has as done keeps its
   * row; a failed one becomes done. A start only moves forward: one already at or after the given
   * folder is kept (a day and its hour 00 count as the same folder).
   */
  importDone(
    records: Array<ObjectRecord & { processedAt: number }>,
    starts: Array<{ partition: PartitionRef; windowStart: FolderTime }>,
  ): { objects: number; windows: number } {
    this.assertPresent();
    return this.guard('record the imported keys', () => {
      const done = this.db.prepare(
        `INSERT INTO objects (bucket, path, account, region, key, etag, size, events, malformed, status, error, failure, delete_pending,
                              processed_at, attempts, delivered)
         VALUES (@bucket, @path, @account, @region, @key, @etag, @size, @events, @malformed, 'done', NULL, NULL, 0, @processedAt, 0, 0)
         ON CONFLICT (bucket, key) DO UPDATE SET etag = excluded.etag, size = excluded.size, events = excluded.events,
           malformed = excluded.malformed, status = 'done', error = NULL, failure = NULL, delete_pending = 0,
           processed_at = excluded.processed_at, delivered = 0
         WHERE objects.status <> 'done'`,
      );
      const forward = this.db.prepare(
        `INSERT INTO partitions (bucket, prefix, account, region, window_start, updated_at)
         VALUES (@bucket, @prefix, @account, @region, @windowStart, @updatedAt)
         ON CONFLICT (bucket, prefix) DO UPDATE SET window_start = excluded.window_start, updated_at = excluded.updated_at
         WHERE substr(partitions.window_start || 'T00', 1, 13) < substr(excluded.window_start || 'T00', 1, 13)`,
      );
      return this.db.transaction(() => {
        let objects = 0;
        let windows = 0;
        for (const record of records) objects += done.run(record).changes;
        const updatedAt = Date.now();
        for (const { partition, windowStart } of starts) windows += forward.run({ ...partition, windowStart, updatedAt }).changes;
        return { objects, windows };
      })();
    });
  }
}
