import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';

// What stands at the state's paths, judged before SQLite or an open(2) of ours touches them: opening a
// FIFO for writing blocks until a reader comes (the collector hung at start without a word), and
// SQLite takes an empty file, or /dev/null, for a new empty database and sends everything again.
// Nothing here imports SQLite, so `--check-config` can use it too.

/** What a path is, in words, when it is not a regular file: null for a regular file or nothing at all. */
export function specialKind(stats: Stats): string | null {
  if (stats.isFile()) return null;
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function statIfPresent(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    // Missing (or a dangling symlink) is created afresh; any other failure is left to the open, whose
    // error names it as before.
    return null;
  }
}

/** `a FIFO (named pipe)`, with where a symlink leads: `a character device (a symlink to /dev/null)`. */
function describeKind(path: string, kind: string): string {
  try {
    if (lstatSync(path).isSymbolicLink()) return `${kind} (a symlink to ${readlinkSync(path)})`;
  } catch {
    // Gone since the stat: the kind found is still the best description.
  }
  return kind;
}

/** A file at the state's paths that must not be opened: which, what it is, and what to do. */
export interface StateFileProblem {
  file: string;
  is: string;
  advice: string;
}

/**
 * Why the state at `path` must not be opened, or null. `companions` are the files beside it that the
 * opener touches too (`-wal`, `-shm`, and for the collector `.lock`): none may be special. The database
 * itself must also not be empty: guardduty-wodle creates it under another name and renames it into
 * place once it holds its schema (state/open.ts), so an empty file there was never one of its own.
 */
export function findStateFileProblem(path: string, companions: readonly string[]): StateFileProblem | null {
  const found = statIfPresent(path);
  if (found) {
    const kind = specialKind(found);
    if (kind !== null) return { file: path, is: describeKind(path, kind), advice: 'not a guardduty-wodle state database; give --state the path of a regular file' };
    if (found.size === 0) {
      return {
        file: path,
        is: 'empty (0 bytes)',
        advice: 'not a guardduty-wodle state (those are never empty); move it aside or delete it to start afresh, which reads and sends again everything from only_logs_after',
      };
    }
  }
  for (const companion of companions) {
    const at = `${path}${companion}`;
    const stats = statIfPresent(at);
    const kind = stats && specialKind(stats);
    if (kind) return { file: at, is: describeKind(at, kind), advice: 'not the file guardduty-wodle keeps beside the state; remove it' };
  }
  return null;
}

/** The problem as one line: `state PATH is …`, or `state PATH: PATH.lock is …` for a companion. */
export function stateFileProblem(path: string, companions: readonly string[]): string | null {
  const problem = findStateFileProblem(path, companions);
  if (problem === null) return null;
  return `state ${path}${problem.file === path ? '' : `: ${problem.file}`} is ${problem.is}, ${problem.advice}`;
}

/** The companions a collector opens (the lock) and that a reader of a WAL database opens. */
export const WRITER_COMPANIONS = ['.lock', '-wal', '-shm'];
export const READER_COMPANIONS = ['-wal', '-shm'];
