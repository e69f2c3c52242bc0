import Database from 'better-sqlite3';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StateError } from '../errors.js';
import { migrate } from './migrations.js';

/** A state database opened for writing, with the lock that keeps other collectors off it. */
export interface OpenedState {
  db: Database.Database;
  lock: Database.Database;
  /** The database file's inode once opened, to tell later that the file is still the one open. */
  inode: number;
}

function describeOpenError(path: string, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const message = (err as Error).message;
  if (code.startsWith('SQLITE_BUSY') || /locked/.test(message)) {
    return `state ${path} is in use by another guardduty-wodle process (one collector per state file)`;
  }
  if (code === 'SQLITE_READONLY' || code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EROFS') {
    return `state ${path} cannot be opened for writing: ${message}`;
  }
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return `state ${path} is not a valid guardduty-wodle database (${message}); move it aside to start afresh`;
  }
  return `state ${path}: ${message}`;
}

/** Creates the database and lock files 0600 before SQLite does, so they are never readable by others. */
function createPrivateFiles(path: string, warn: (message: string) => void): void {
  const directory = dirname(path);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const directoryMode = statSync(directory).mode & 0o777;
  if (directoryMode & 0o077) {
    warn(`state directory ${directory} is open to other users (mode ${directoryMode.toString(8)}); chmod 700 it`);
  }
  for (const file of [path, `${path}.lock`]) closeSync(openSync(file, 'a', 0o600));
}

/** A file that existed already keeps the mode it had: narrowed here as new ones are at creation. */
function restrictFileModes(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch {
      // The WAL and shared-memory files exist only while the database is open in WAL mode.
    }
  }
}

/** Opens (creating it, mode 0600 in a 0700 directory, if missing), locks and migrates the state database. */
export function openState(path: string, warn: (message: string) => void): OpenedState {
  let lock: Database.Database | undefined;
  let db: Database.Database | undefined;
  try {
    createPrivateFiles(path, warn);
    lock = new Database(`${path}.lock`, { timeout: 0 });
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT;');
    db = new Database(path, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
    restrictFileModes(path);
    return { db, lock, inode: statSync(path).ino };
  } catch (err) {
    db?.close();
    lock?.close();
    throw new StateError(describeOpenError(path, err), { cause: err });
  }
}
