import { assertStateReachable } from '../state/report.js';
import { StateError } from '../errors.js';
import type { ObjectStatus, StateStore } from '../state/store.js';
import { partitionLabel, plural, table } from './format.js';
import { dayOfKey } from '../walk/dates.js';

// `guardduty-wodle reset <bucket> [--since DAY]`: the supported way to make the collector read a bucket
// (or its days from DAY on) again, instead of deleting rows by hand. It takes the collector's lock.

export interface ResetPartition {
  prefix: string;
  account: string;
  region: string;
  windowStart: string | null;
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
  /** Where the partition's next listing starts, before and after the reset. */
  window: { from: string | null; to: string | null };
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

/** What a reset would forget, from the bucket's rows. Window starts only ever move back. */
export function planReset(bucket: string, partitions: ResetPartition[], objects: ResetObject[], since: string | null): ResetPlan {
  const byPrefix = [...partitions].sort((a, b) => b.prefix.length - a.prefix.length);
  const plans = new Map<string | null, PartitionPlan>();
  for (const p of [...partitions].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0))) {
    // A day sorts just before its own first hour, so the comparison holds for Firehose hour folders too.
    const to = p.windowStart === null || since === null ? null : p.windowStart <= since ? p.windowStart : since;
    plans.set(p.prefix, { prefix: p.prefix, label: partitionLabel(p.prefix, p.account, p.region), done: 0, failed: 0, keys: [], window: { from: p.windowStart, to } });
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
    if (!plans.has(prefix)) plans.set(prefix, { prefix, label: '(objects under no known partition)', done: 0, failed: 0, keys: [], window: { from: null, to: null } });
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
  return plan.objects === 0 && plan.partitions.every((p) => p.window.from === p.window.to);
}

export function formatPlan(plan: ResetPlan, statePath: string): string {
  const what = plan.since === null ? 'everything about it' : `what was read from day folders on or after ${plan.since}`;
  const lines = [`reset bucket ${plan.bucket} in ${statePath}: forgetting ${what}`];
  if (plan.partitions.length === 0) {
    lines.push(`  the state holds nothing about bucket ${plan.bucket}; nothing to do`);
    return `${lines.join('\n')}\n`;
  }
  const rows = [['PARTITION', 'OBJECTS', 'DONE', 'FAILED', 'LISTED FROM']];
  for (const p of plan.partitions) {
    let window: string;
    if (p.window.from === null) window = p.prefix === null ? '' : 'none (never listed to the end: starts at only_logs_after, else today)';
    else if (plan.since === null) window = `${p.window.from} → forgotten`;
    else if (p.window.to === p.window.from) window = `${p.window.from} (kept: the window already starts on or before ${plan.since})`;
    else window = `${p.window.from} → ${p.window.to}`;
    rows.push([p.label, String(p.keys.length), String(p.done), String(p.failed), window]);
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

export function applyPlan(store: StateStore, plan: ResetPlan): { objects: number; windows: number } {
  if (plan.since === null) {
    const forgotten = store.forgetBucket(plan.bucket);
    return { objects: forgotten.objects, windows: forgotten.partitions };
  }
  const starts = plan.partitions.flatMap((p) =>
    p.prefix !== null && p.window.to !== null && p.window.to !== p.window.from ? [{ prefix: p.prefix, windowStart: p.window.to }] : [],
  );
  return store.forgetObjects(
    plan.bucket,
    plan.partitions.flatMap((p) => p.keys),
    starts,
  );
}

/** Opens the state with the collector's lock; a running collector makes it refuse. */
export function openForReset(statePath: string, open: (path: string) => StateStore): StateStore {
  assertStateReachable(statePath);
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
