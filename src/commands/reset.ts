import { existsSync } from 'node:fs';
import { StateError } from '../errors.js';
import type { ObjectStatus, StateStore } from '../state/store.js';
import { GRACE_DAYS, addDays } from '../walk/dates.js';
import { partitionLabel, plural, table } from './format.js';

// `guardduty-wodle reset <bucket> [--since DAY]`: the supported way to make the collector read a bucket
// (or its days from DAY on) again, instead of deleting rows by hand. It takes the collector's lock.

export interface ResetPartition {
  prefix: string;
  account: string;
  region: string;
  cursorDay: string | null;
}

export interface ResetObject {
  key: string;
  status: ObjectStatus;
}

export interface PartitionPlan {
  /** null: object rows under no partition the state knows. */
  prefix: string | null;
  label: string;
  done: number;
  failed: number;
  /** The object rows to forget. */
  keys: string[];
  cursor: { from: string | null; to: string | null };
}

export interface ResetPlan {
  bucket: string;
  /** null: forget everything about the bucket. */
  since: string | null;
  partitions: PartitionPlan[];
  /** Object rows to forget, over every partition. */
  objects: number;
  /** With --since: rows kept because no date folder could be read from their key. */
  undated: number;
}

const DATE_FOLDERS = /^(\d{4})\/(\d{2})\/(\d{2})\//;
/** A key under no known partition: its last `YYYY/MM/DD/` folders (Firehose adds an `HH/` after them). */
const LOOSE_DATE_FOLDERS = /(?:^|\/)(\d{4})\/(\d{2})\/(\d{2})\/(?:\d{2}\/)?[^/]+$/;

/** The day of a key from its date folders, right after its partition's prefix; null when it has none. */
export function dayOfKey(key: string, prefix: string | null): string | null {
  const match = prefix === null ? LOOSE_DATE_FOLDERS.exec(key) : DATE_FOLDERS.exec(key.slice(prefix.length));
  return match ? `${match[1]}-${match[2]}-${match[3]}` : null;
}

/** The cursor that makes the next listing window start at `since` (the window starts GRACE_DAYS before it). */
export function cursorFor(since: string): string {
  return addDays(since, GRACE_DAYS);
}

/** What a reset would forget, from the bucket's rows. Cursors only ever move back. */
export function planReset(bucket: string, partitions: ResetPartition[], objects: ResetObject[], since: string | null): ResetPlan {
  const byPrefix = [...partitions].sort((a, b) => b.prefix.length - a.prefix.length);
  const plans = new Map<string | null, PartitionPlan>();
  for (const p of [...partitions].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0))) {
    const to = p.cursorDay === null ? null : since === null ? null : p.cursorDay < cursorFor(since) ? p.cursorDay : cursorFor(since);
    plans.set(p.prefix, { prefix: p.prefix, label: partitionLabel(p.prefix, p.account, p.region), done: 0, failed: 0, keys: [], cursor: { from: p.cursorDay, to } });
  }
  let undated = 0;
  for (const object of objects) {
    const prefix = byPrefix.find((p) => object.key.startsWith(p.prefix))?.prefix ?? null;
    if (since !== null) {
      const day = dayOfKey(object.key, prefix);
      if (day === null) {
        undated++;
        continue;
      }
      if (day < since) continue;
    }
    if (!plans.has(prefix)) plans.set(prefix, { prefix, label: '(objects under no known partition)', done: 0, failed: 0, keys: [], cursor: { from: null, to: null } });
    const plan = plans.get(prefix)!;
    plan[object.status]++;
    plan.keys.push(object.key);
  }
  const list = [...plans.values()];
  return { bucket, since, partitions: list, objects: list.reduce((n, p) => n + p.keys.length, 0), undated };
}

/** True when applying the plan would change nothing. */
export function planIsEmpty(plan: ResetPlan): boolean {
  if (plan.since === null) return plan.partitions.length === 0;
  return plan.objects === 0 && plan.partitions.every((p) => p.cursor.from === p.cursor.to);
}

export function formatPlan(plan: ResetPlan, statePath: string): string {
  const what = plan.since === null ? 'everything about it' : `what was read from day folders on or after ${plan.since}`;
  const lines = [`reset bucket ${plan.bucket} in ${statePath}: forgetting ${what}`];
  if (plan.partitions.length === 0) {
    lines.push(`  the state holds nothing about bucket ${plan.bucket}; nothing to do`);
    return `${lines.join('\n')}\n`;
  }
  const rows = [['PARTITION', 'OBJECTS', 'DONE', 'FAILED', 'CURSOR']];
  for (const p of plan.partitions) {
    let cursor: string;
    if (p.cursor.from === null) cursor = p.prefix === null ? '' : 'none (never completed a pass: starts at only_logs_after, else today)';
    else if (plan.since === null) cursor = `${p.cursor.from} → forgotten`;
    else if (p.cursor.to === p.cursor.from) cursor = `${p.cursor.from} (kept: the window already starts on or before ${plan.since})`;
    else cursor = `${p.cursor.from} → ${p.cursor.to}`;
    rows.push([p.label, String(p.keys.length), String(p.done), String(p.failed), cursor]);
  }
  lines.push(...table(rows, [1, 2, 3]));
  if (plan.undated > 0) lines.push(`  ${plural(plan.undated, 'row')} with no date folder in the key kept`);
  if (plan.since === null) {
    lines.push(`the next pass starts as on a new state: from only_logs_after, else today; ${plural(plan.objects, 'object row')} forgotten.`);
  } else {
    lines.push(
      `the next pass lists each partition from ${plan.since} (never before only_logs_after) and reads every object of those days again: ` +
        `the ${plural(plan.objects, 'row')} forgotten here, and any whose rows were pruned already.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function applyPlan(store: StateStore, plan: ResetPlan): { objects: number; cursors: number } {
  if (plan.since === null) {
    const forgotten = store.forgetBucket(plan.bucket);
    return { objects: forgotten.objects, cursors: forgotten.partitions };
  }
  const cursors = plan.partitions.flatMap((p) => (p.prefix !== null && p.cursor.to !== null && p.cursor.to !== p.cursor.from ? [{ prefix: p.prefix, cursorDay: p.cursor.to }] : []));
  return store.forgetObjects(
    plan.bucket,
    plan.partitions.flatMap((p) => p.keys),
    cursors,
  );
}

/** Opens the state with the collector's lock; a running collector makes it refuse. */
export function openForReset(statePath: string, open: (path: string) => StateStore): StateStore {
  if (!existsSync(statePath)) throw new StateError(`state ${statePath} does not exist (no collector has run with this --state; check the path)`);
  try {
    return open(statePath);
  } catch (err) {
    if (err instanceof StateError && /in use by another/.test(err.message)) {
      throw new StateError(`state ${statePath} is in use by a running collector (it holds ${statePath}.lock): stop the service first, then run reset again`, {
        cause: err,
      });
    }
    throw err;
  }
}
