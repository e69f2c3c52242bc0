// When each <wodle name="aws-s3"> block runs, as Wazuh's module scheduler decides it: every `interval`,
// or at a `time` of day every N days, on a `wday` every N weeks, on a `day` of the month every N
// months. Calendar times are the host's local time, as in Wazuh. Pure functions of a clock reading.

export interface Schedule {
  /** Plain interval in seconds (a month counts as 30 days here, as Wazuh's own interval does). */
  intervalSeconds: number;
  /** Whole months between runs when `interval` was given in months (`NM`), else null. */
  intervalMonths: number | null;
  /** Day of the month, 1–31 (a shorter month runs on its last day). */
  day: number | null;
  /** Day of the week, 0 = Sunday. */
  wday: number | null;
  /** Time of day, `hh:mm`. */
  time: string | null;
  runOnStart: boolean;
}

const DAY_SECONDS = 86_400;
const WEEK_SECONDS = 7 * DAY_SECONDS;

function atTime(date: Date, time: string): Date {
  const [hours, minutes] = time.split(':').map(Number) as [number, number];
  const at = new Date(date);
  at.setHours(hours, minutes, 0, 0);
  return at;
}

function daysInMonth(year: number, month: number): number {
  return new Date(year, month + 1, 0).getDate();
}

/** The `day` of the month `offset` months after `from`'s month, at `time`. */
function monthDay(from: Date, offset: number, day: number, time: string): Date {
  const year = from.getFullYear();
  const month = from.getMonth() + offset;
  const first = new Date(year, month, 1);
  const date = new Date(first.getFullYear(), first.getMonth(), Math.min(day, daysInMonth(first.getFullYear(), first.getMonth())));
  return atTime(date, time);
}

function addDays(date: Date, days: number): Date {
  const next = new Date(date);
  next.setDate(next.getDate() + days);
  return next;
}

/** The first calendar slot at or after `now` (calendar schedules only). */
function firstSlot(schedule: Schedule, now: Date): Date {
  const time = schedule.time ?? '00:00';
  if (schedule.day !== null) {
    const thisMonth = monthDay(now, 0, schedule.day, time);
    return thisMonth >= now ? thisMonth : monthDay(now, 1, schedule.day, time);
  }
  let slot = atTime(now, time);
  if (schedule.wday !== null) slot = addDays(slot, (schedule.wday - slot.getDay() + 7) % 7);
  return slot >= now ? slot : addDays(slot, schedule.wday !== null ? 7 : 1);
}

/** The slot after `slot`, one interval later. */
function followingSlot(schedule: Schedule, slot: Date): Date {
  if (schedule.day !== null) return monthDay(slot, schedule.intervalMonths ?? 1, schedule.day, schedule.time ?? '00:00');
  const days = Math.max(1, Math.round(schedule.intervalSeconds / DAY_SECONDS));
  return atTime(addDays(slot, days), schedule.time ?? '00:00');
}

export function isCalendar(schedule: Schedule): boolean {
  return schedule.day !== null || schedule.wday !== null || schedule.time !== null;
}

/** When the first pass runs after start: at once with run_on_start, else at the first slot. */
export function firstRun(schedule: Schedule, now: Date): Date {
  if (schedule.runOnStart) return now;
  if (!isCalendar(schedule)) return new Date(now.getTime() + schedule.intervalSeconds * 1000);
  return firstSlot(schedule, now);
}

export interface NextRun {
  at: Date;
  /** The pass ran past the slot it should have left room for: the next one starts at once. */
  overtaken: boolean;
}

/**
 * When the pass after one that was due at `due` and ended at `now` runs. A pass that outlasts its
 * interval is followed at once (Wazuh logs "Interval overtaken"); passes never overlap.
 */
export function nextRun(schedule: Schedule, due: Date, now: Date): NextRun {
  let next: Date;
  if (!isCalendar(schedule)) {
    next = new Date(due.getTime() + schedule.intervalSeconds * 1000);
  } else {
    // The slot grid is anchored at the first slot at or after the due time (a run_on_start pass is
    // due at start, off the grid).
    const anchor = firstSlot(schedule, due);
    next = anchor.getTime() > due.getTime() ? anchor : followingSlot(schedule, anchor);
  }
  if (next.getTime() <= now.getTime()) return { at: now, overtaken: true };
  return { at: next, overtaken: false };
}

export const WEEK = WEEK_SECONDS;
export const DAY = DAY_SECONDS;
