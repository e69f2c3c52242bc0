import { utcDay } from './dates.js';

// Where a partition's listing starts. One paginated ListObjectsV2 per partition and pass, from a start
// folder to the end of the listing: every key after it is judged against the state, so an object that
// lands late in any folder from there on is read, however its name sorts. The start follows the data
// (the newest object settled, less a grace day), not the clock, so a quiet partition keeps finding
// late objects in its newest folder.

/** Native exports are filed in day folders, Firehose objects in hour folders. */
export type Granularity = 'day' | 'hour';

/**
 * A folder of a partition's date tree: `YYYY-MM-DD` (a day folder) or `YYYY-MM-DDTHH` (an hour folder).
 * Both sort as the folders do, and a day sorts just before its own first hour.
 */
export type FolderTime = string;

const HOUR_MS = 3_600_000;
/** How far the window stays behind the newest object settled: late writes, replication, clock skew. */
export const GRACE_HOURS = 24;

export function toMs(time: FolderTime): number {
  return Date.parse(time.length === 10 ? `${time}T00:00:00Z` : `${time}:00:00Z`);
}

export function fromMs(ms: number, granularity: Granularity): FolderTime {
  const iso = new Date(ms).toISOString();
  return granularity === 'day' ? iso.slice(0, 10) : iso.slice(0, 13);
}

/** The folder a key of that day (and hour, for Firehose) sits in. */
export function folderTime(day: string, hour: number | null): FolderTime {
  return hour === null ? day : `${day}T${String(hour).padStart(2, '0')}`;
}

/** `2026-11-29` → `2026/11/29/`; `2026-11-29T13` → `2026/11/29/13/`: the folder below a partition's prefix. */
export function folderPath(time: FolderTime): string {
  const day = time.slice(0, 10).replaceAll('-', '/');
  return time.length === 10 ? `${day}/` : `${day}/${time.slice(11, 13)}/`;
}

function later(a: FolderTime, b: FolderTime): FolderTime {
  return toMs(a) >= toMs(b) ? a : b;
}

/**
 * Where this pass lists a partition from: the start the state keeps for it, never before
 * `only_logs_after`; for a partition never listed, `only_logs_after`, else today.
 */
export function listingStart(stored: FolderTime | null, onlyLogsAfter: string | null, now: Date, granularity: Granularity): FolderTime {
  const floor = fromMs(toMs(onlyLogsAfter ?? utcDay(now)), granularity);
  if (stored === null) return floor;
  const start = fromMs(toMs(stored), granularity);
  return onlyLogsAfter === null ? start : later(start, floor);
}

/** An operator's rescan lists from its day instead, unless the window already starts earlier (never before `only_logs_after`). */
export function rescanStart(normal: FolderTime, rescanSince: string | null, onlyLogsAfter: string | null, granularity: Granularity): FolderTime {
  if (rescanSince === null) return normal;
  const from = fromMs(toMs(onlyLogsAfter === null ? rescanSince : later(rescanSince, onlyLogsAfter)), granularity);
  return toMs(from) < toMs(normal) ? from : normal;
}

export interface WindowProgress {
  /** The newest folder holding an object settled (done, or failed for good), this pass or before. */
  newestSettled: FolderTime | null;
  /** The oldest folder holding an object left to read again. */
  firstUnfinished: FolderTime | null;
}

/**
 * Where the next pass starts, after a pass that listed to the end: the newest folder settled (never
 * past now: an object filed ahead of the clock must not move the window past today) less the grace,
 * never behind where this pass started unless an object there is still to be read. A partition that
 * never had an object keeps its start.
 */
export function nextListingStart(current: FolderTime, found: WindowProgress, now: Date, granularity: Granularity): FolderTime {
  let next = toMs(current);
  if (found.newestSettled !== null) {
    const newest = Math.min(toMs(found.newestSettled), toMs(fromMs(now.getTime(), granularity)));
    next = Math.max(next, newest - GRACE_HOURS * HOUR_MS);
  }
  if (found.firstUnfinished !== null) next = Math.min(next, toMs(found.firstUnfinished));
  return fromMs(next, granularity);
}

/** Rows of keys in folders before this one may be forgotten: listing never starts before it again. */
export function pruneBefore(start: FolderTime, marginDays: number, granularity: Granularity): FolderTime {
  return fromMs(toMs(start) - marginDays * 24 * HOUR_MS, granularity);
}

/**
 * Whether a key (less its partition prefix) sorts after every date folder: S3 lists in key order and
 * every folder starts with a four-digit year, so nothing after such a key can be in the layout.
 */
export function pastDateFolders(relativeKey: string): boolean {
  return relativeKey > '9999/' && !relativeKey.startsWith('9999/');
}
