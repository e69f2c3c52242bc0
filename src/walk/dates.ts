// Days are ISO strings (YYYY-MM-DD) in UTC, the calendar GuardDuty uses for its folders.

const DAY_MS = 86_400_000;

export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return utcDay(new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS));
}

/** Every day from `first` through `last`, inclusive; empty when first is after last. */
export function daysFrom(first: string, last: string): string[] {
  const days: string[] = [];
  for (let day = first; day <= last; day = addDays(day, 1)) days.push(day);
  return days;
}

/** `2026-11-29` → `2026/11/29/`, the folder GuardDuty writes that day's objects to. */
export function dayFolder(day: string): string {
  return `${day.replaceAll('-', '/')}/`;
}

/** `2026/11/29` → `2026-11-29` when it names a real calendar day, else null. */
export function dayFromFolder(year: string, month: string, day: string): string | null {
  const iso = `${year}-${month}-${day}`;
  const parsed = Date.parse(`${iso}T00:00:00Z`);
  return Number.isNaN(parsed) || utcDay(new Date(parsed)) !== iso ? null : iso;
}

export interface Window {
  first: string;
  last: string;
}

/** How many days of grace the window keeps behind the newest completed day (late writes, clock skew). */
export const GRACE_DAYS = 1;

/**
 * The day folders one pass lists for a partition. With no state yet: from `only_logs_after` (or
 * today). Afterwards: from the newest completed day minus the grace, never before `only_logs_after`.
 * Keys inside the window are judged one by one against the state, so objects whose names sort before
 * ones already read are still found; a cursor on the last key read would lose them.
 */
export function listingWindow(cursor: string | null, onlyLogsAfter: string | null, today: string): Window {
  const floor = onlyLogsAfter ?? today;
  const first = cursor === null ? floor : maxDay(addDays(cursor, -GRACE_DAYS), onlyLogsAfter ?? '');
  return { first, last: today };
}

function maxDay(a: string, b: string): string {
  return a > b ? a : b;
}
