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

/** `2026-11-29` when the text is a real calendar day written YYYY-MM-DD, else null. */
export function parseIsoDay(text: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return match ? dayFromFolder(match[1]!, match[2]!, match[3]!) : null;
}

const DATE_FOLDERS = /^(\d{4})\/(\d{2})\/(\d{2})\//;
/** A key under no known partition: its last `YYYY/MM/DD/` folders (Firehose adds an `HH/` after them). */
const LOOSE_DATE_FOLDERS = /(?:^|\/)(\d{4})\/(\d{2})\/(\d{2})\/(?:\d{2}\/)?[^/]+$/;

/**
 * The day of a key from its date folders, right after its partition's prefix (native and Firehose
 * keys both start their dates there), or, with no prefix known, from its last date folders; null when
 * it has none, or they name no real day.
 */
export function dayOfKey(key: string, prefix: string | null): string | null {
  const match = prefix === null ? LOOSE_DATE_FOLDERS.exec(key) : DATE_FOLDERS.exec(key.slice(prefix.length));
  return match ? dayFromFolder(match[1]!, match[2]!, match[3]!) : null;
}
