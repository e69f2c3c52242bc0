import { existsSync } from 'node:fs';
import { StateError } from '../errors.js';
import { ReadOnlyState } from '../state/report.js';
import type { PartitionRef, StateStore } from '../state/store.js';
import type { FolderTime } from '../walk/window.js';

/** What the import needs of our state: the real store, a read-only view of it (dry run), or nothing. */
export interface StateView {
  windowStart(partition: PartitionRef): FolderTime | null;
  isDone(bucket: string, key: string): boolean;
}

export const EMPTY_STATE: StateView = { windowStart: () => null, isDone: () => false };

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
  const reader = ReadOnlyState.open(statePath);
  const starts = new Map(reader.partitions().map((p) => [`${p.bucket}\u0000${p.prefix}`, p.windowStart]));
  return {
    view: {
      windowStart: (partition) => starts.get(`${partition.bucket}\u0000${partition.prefix}`) ?? null,
      isDone: (bucket, key) => reader.object(bucket, key)?.status === 'done',
    },
    close: () => reader.close(),
  };
}
