import type Database from 'better-sqlite3';

// Each entry moves the schema one version up; PRAGMA user_version says how many have run.
// Never edit a released entry: add a new one.
const MIGRATIONS: string[] = [
  `CREATE TABLE objects (
     bucket TEXT NOT NULL,
     key TEXT NOT NULL,
     path TEXT NOT NULL,
     account TEXT NOT NULL,
     region TEXT NOT NULL,
     etag TEXT NOT NULL,
     size INTEGER NOT NULL,
     events INTEGER NOT NULL,
     malformed INTEGER NOT NULL DEFAULT 0,
     status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
     error TEXT,
     delete_pending INTEGER NOT NULL DEFAULT 0,
     processed_at INTEGER NOT NULL,
     PRIMARY KEY (bucket, key)
   ) WITHOUT ROWID;
   CREATE TABLE partitions (
     bucket TEXT NOT NULL,
     prefix TEXT NOT NULL,
     account TEXT NOT NULL,
     region TEXT NOT NULL,
     cursor_day TEXT NOT NULL,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (bucket, prefix)
   ) WITHOUT ROWID;`,
  // Failed objects are retried a bounded number of times; a retry skips the events it already delivered.
  `ALTER TABLE objects ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE objects ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;`,
  // What operators ask of each partition (status, metrics): the last pass and the newest object read.
  `CREATE TABLE partition_passes (
     bucket TEXT NOT NULL,
     prefix TEXT NOT NULL,
     account TEXT NOT NULL,
     region TEXT NOT NULL,
     last_pass_at INTEGER NOT NULL,
     last_pass_ok INTEGER NOT NULL,
     last_error TEXT,
     newest_key TEXT,
     newest_modified INTEGER,
     PRIMARY KEY (bucket, prefix)
   ) WITHOUT ROWID;`,
  // The listing window follows the data (issue 12): a partition keeps where its next listing starts,
  // no longer the day it was read through. The old next start was that day less the grace day.
  `ALTER TABLE partitions RENAME COLUMN cursor_day TO window_start;
   UPDATE partitions SET window_start = date(window_start, '-1 day');`,
  // What kind of failure an object's last failure was (issue 13): only content failures spend attempts.
  `ALTER TABLE objects ADD COLUMN failure TEXT;
   UPDATE objects SET failure = 'content' WHERE status = 'failed' AND attempts > 0;`,
  // The daemon's schedule (issue 14), so that `status` can say when the next pass is due.
  `CREATE TABLE daemon (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     pid INTEGER NOT NULL,
     started_at INTEGER NOT NULL,
     next_pass_at INTEGER,
     updated_at INTEGER NOT NULL
   );`,
  // The versions of each finding seen, sent or not (issue 26, <finding_updates>): the last one sent is
  // what a re-export is compared with; explain --finding lists them. Kept 90 days after the id was last seen.
  `CREATE TABLE finding_versions (
     bucket TEXT NOT NULL,
     id TEXT NOT NULL,
     updated_at INTEGER,
     seen_at INTEGER NOT NULL,
     key TEXT NOT NULL,
     sent INTEGER NOT NULL,
     why TEXT NOT NULL,
     changed TEXT NOT NULL,
     severity TEXT NOT NULL,
     type TEXT NOT NULL,
     resource TEXT NOT NULL,
     archived TEXT NOT NULL
   );
   CREATE INDEX finding_versions_by_id ON finding_versions (bucket, id, sent, updated_at);
   CREATE INDEX finding_versions_by_seen ON finding_versions (seen_at);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the schema up to `target` (the current version unless a test lays out an older release's database). */
export function migrate(db: Database.Database, target = SCHEMA_VERSION): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`schema version ${current} is newer than this guardduty-wodle knows (${SCHEMA_VERSION}); upgrade guardduty-wodle`);
  }
  for (let version = current; version < target; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
