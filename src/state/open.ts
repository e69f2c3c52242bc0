import Database from 'better-sqlite3';
import { chmodSync, closeSync, constants, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StateError } from '../errors.js';
import { migrate } from './migrations.js';
import { specialKind, stateFileProblem, WRITER_COMPANIONS } from './path.js';

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

/** The state directory, created 0700 when missing; one open to others is warned about. */
function prepareDirectory(path: string, warn: (message: string) => void): void {
  const directory = dirname(path);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const directoryMode = statSync(directory).mode & 0o777;
  if (directoryMode & 0o077) {
    warn(`state directory ${directory} is open to other users (mode ${directoryMode.toString(8)}); chmod 700 it`);
  }
}

/**
 * The lock file, created 0600 before SQLite opens it so that it is never readable by others. Opened
 * without blocking: a FIFO put there after the check makes the open fail (ENXIO) instead of waiting
 * for a reader for ever.
 */
function createLockFile(path: string): void {
  const lockPath = `${path}.lock`;
  const fd = openSync(lockPath, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o600);
  try {
    const kind = specialKind(fstatSync(fd));
    if (kind !== null) throw new StateError(`state ${path}: ${lockPath} is ${kind}, not the file guardduty-wodle keeps beside the state; remove it`);
  } finally {
    closeSync(fd);
  }
}

/** Where open(2) would create the file: through symlinks at the path, even one whose target is missing. */
function creationPath(path: string): string {
  let at = path;
  for (let hops = 0; hops < 40; hops++) {
    let link: string;
    try {
      link = readlinkSync(at);
    } catch {
      return at;
    }
    at = resolve(dirname(at), link);
  }
  return at;
}

/** fsync of a directory, so that a file renamed into it is still there after a power cut. */
function syncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } catch (err) {
    // Some file systems cannot sync a directory (EINVAL): their entries need nothing more.
    const code = (err as { code?: string }).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP') throw err;
  } finally {
    closeSync(fd);
  }
}

/**
 * A new state is built under a temporary name (0600 from the start) and renamed into place only once it
 * holds its schema: a kill or a full disk during the creation never leaves an empty file at the state
 * path, so an empty file there is never one of ours and is refused rather than taken for a new state.
 * Called under the lock: no other collector builds it at the same time, and a leftover is ours.
 */
function createDatabase(path: string): void {
  const target = creationPath(path);
  const building = `${target}.new`;
  for (const leftover of [building, `${building}-wal`, `${building}-shm`]) rmSync(leftover, { force: true });
  closeSync(openSync(building, 'wx', 0o600));
  const db = new Database(building);
  try {
    db.pragma('journal_mode = WAL');
    migrate(db);
  } finally {
    // Folds the WAL back into the file and removes it: the file renamed holds everything.
    db.close();
  }
  renameSync(building, target);
  syncDirectory(dirname(target));
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

/**
 * Opens (creating it, mode 0600 in a 0700 directory, if missing), locks and migrates the state database.
 * What stands at the path is judged first (state/path.ts): a FIFO, a device, a socket or an empty file
 * is refused before anything is created or opened.
 */
export function openState(path: string, warn: (message: string) => void): OpenedState {
  const problem = stateFileProblem(path, WRITER_COMPANIONS);
  if (problem !== null) throw new StateError(problem);
  let lock: Database.Database | undefined;
  let db: Database.Database | undefined;
  try {
    prepareDirectory(path, warn);
    createLockFile(path);
    lock = new Database(`${path}.lock`, { timeout: 0 });
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT;');
    if (!existsSync(path)) createDatabase(path);
    db = new Database(path, { timeout: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
    restrictFileModes(path);
    return { db, lock, inode: statSync(path).ino };
  } catch (err) {
    db?.close();
    lock?.close();
    if (err instanceof StateError) throw err;
    throw new StateError(describeOpenError(path, err), { cause: err });
  }
}
