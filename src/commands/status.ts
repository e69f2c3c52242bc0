import { PRUNE_MARGIN_DAYS } from '../vocabulary.js';
import { ReadOnlyState, type ObjectCountRow, type RecordedObject, type PartitionRow } from '../state/report.js';
import type { FailureKind } from '../policy/failure.js';
import { humanDuration, humanTime, isoTime, partitionLabel, plural, table, withoutLocation } from './format.js';
import { fromStored } from '../walk/partition.js';

// `guardduty-wodle status`: per bucket and partition, the last pass, the newest object read and its
// lag, where the next listing starts, counts of done and failed objects, and the failed objects themselves.

/** Failed objects listed per bucket in plain text unless --all. */
export const FAILED_SHOWN = 20;

export interface StatusInput {
  state: string;
  schemaVersion: number;
  partitions: PartitionRow[];
  counts: ObjectCountRow[];
  failed: RecordedObject[];
  /** The daemon's record, and whether its process is alive. */
  daemon?: { pid: number; startedAt: number; nextPassAt: number | null; running: boolean } | null;
}

export interface PartitionStatus {
  /** The partition's key prefix; null for objects under no partition the state knows. */
  prefix: string | null;
  layout: 'native' | 'firehose' | null;
  account: string;
  region: string;
  /** How plain text names it: `<account> <region>` or `firehose <path>`. */
  label: string;
  lastPass: { at: string; ok: boolean; error: string | null } | null;
  /** The newest object (by LastModified) read to the end, over every pass. */
  newest: { key: string; lastModified: string } | null;
  /** Now minus the newest object's LastModified. */
  lagSeconds: number | null;
  lag: string | null;
  /** Where the next listing starts: the day (native) or hour (Firehose) folder. */
  windowStart: string | null;
  done: number;
  failed: number;
  deletePending: number;
}

export interface FailedObjectStatus {
  key: string;
  partition: string;
  attempts: number;
  error: string | null;
  lastAttemptAt: string;
  /** Events that reached every output before the last failure (a retry skips them). */
  delivered: number;
  /** The kind of the last failure: transient, denied, content … (src/failure.ts); null when not recorded. */
  failure: FailureKind | null;
}

export interface BucketStatus {
  bucket: string;
  done: number;
  failed: number;
  deletePending: number;
  partitions: PartitionStatus[];
  failedObjects: FailedObjectStatus[];
}

export interface StatusReport {
  state: string;
  at: string;
  schemaVersion: number;
  /** Nothing was collected yet: no partition listed, no object recorded. */
  empty: boolean;
  /** The daemon running on this state, with its next pass; null when none runs. */
  daemon: { pid: number; startedAt: string; nextPassAt: string | null } | null;
  buckets: BucketStatus[];
}

function layoutOf(account: string, region: string): 'native' | 'firehose' {
  return fromStored({ prefix: '', account, region }).kind;
}

/** A bucket's report while rows are added, with its partitions by id so each row finds its own. */
interface BucketEntry {
  status: BucketStatus;
  partitions: Map<string, PartitionStatus>;
}

/** Buckets appear on first mention by any kind of row: a bucket may have counts or failures but no partition row. */
function entryOf(entries: Map<string, BucketEntry>, name: string): BucketEntry {
  let entry = entries.get(name);
  if (!entry) {
    entry = { status: { bucket: name, done: 0, failed: 0, deletePending: 0, partitions: [], failedObjects: [] }, partitions: new Map() };
    entries.set(name, entry);
  }
  return entry;
}

/** Rows under no partition the state knows share a null prefix, so they are told apart by account and region. */
function partitionId(prefix: string | null, account: string, region: string): string {
  return prefix === null ? `?\u0000${account}\u0000${region}` : `=${prefix}`;
}

function blankPartition(prefix: string | null, account: string, region: string): PartitionStatus {
  return {
    prefix,
    layout: prefix === null ? null : layoutOf(account, region),
    account,
    region,
    label: partitionLabel(prefix, account, region),
    lastPass: null,
    newest: null,
    lagSeconds: null,
    lag: null,
    windowStart: null,
    done: 0,
    failed: 0,
    deletePending: 0,
  };
}

/** A partition as the state records it: its last pass, and the newest object read with its lag behind now. */
function partitionStatus(row: PartitionRow, now: number): PartitionStatus {
  const partition = blankPartition(row.prefix, row.account, row.region);
  partition.windowStart = row.windowStart;
  if (row.lastPassAt !== null) partition.lastPass = { at: isoTime(row.lastPassAt), ok: row.lastPassOk === true, error: row.lastError };
  if (row.newestKey !== null && row.newestModified !== null) {
    partition.newest = { key: row.newestKey, lastModified: isoTime(row.newestModified) };
    // A LastModified ahead of this host's clock is skew, not negative lag.
    partition.lagSeconds = Math.max(0, Math.round((now - row.newestModified) / 1000));
    partition.lag = humanDuration(partition.lagSeconds);
  }
  return partition;
}

function addCounts(entries: Map<string, BucketEntry>, counts: ObjectCountRow[]): void {
  for (const row of counts) {
    const { status: bucket, partitions } = entryOf(entries, row.bucket);
    const key = partitionId(row.prefix, row.account, row.region);
    if (!partitions.has(key)) partitions.set(key, blankPartition(row.prefix, row.account, row.region));
    const partition = partitions.get(key)!;
    partition[row.status] += row.count;
    partition.deletePending += row.deletePending;
    bucket[row.status] += row.count;
    bucket.deletePending += row.deletePending;
  }
}

/** Sorted by prefix, the partitions under no known prefix last; labels made unique before failed objects take them. */
function orderPartitions({ status: bucket, partitions }: BucketEntry): void {
  bucket.partitions = [...partitions.values()].sort((a, b) =>
    a.prefix === b.prefix ? a.label.localeCompare(b.label) : a.prefix === null ? 1 : b.prefix === null ? -1 : a.prefix < b.prefix ? -1 : 1,
  );
  // The same account and region under two configured paths: name them by prefix instead.
  const labels = bucket.partitions.map((p) => p.label);
  for (const partition of bucket.partitions) {
    if (partition.prefix !== null && labels.filter((l) => l === partition.label).length > 1) partition.label = partition.prefix;
  }
}

function addFailed(entries: Map<string, BucketEntry>, failed: RecordedObject[]): void {
  for (const row of failed) {
    const { status: bucket, partitions } = entryOf(entries, row.bucket);
    const partition = partitions.get(partitionId(row.prefix, row.account, row.region));
    bucket.failedObjects.push({
      key: row.key,
      partition: partition?.label ?? partitionLabel(row.prefix, row.account, row.region),
      attempts: row.attempts,
      error: row.error,
      lastAttemptAt: isoTime(row.processedAt),
      delivered: row.delivered,
      failure: row.failure,
    });
  }
}

/** A daemon record whose process is gone is a collector that stopped, not one running. */
function daemonStatus(daemon: StatusInput['daemon']): StatusReport['daemon'] {
  return daemon?.running
    ? { pid: daemon.pid, startedAt: isoTime(daemon.startedAt), nextPassAt: daemon.nextPassAt === null ? null : isoTime(daemon.nextPassAt) }
    : null;
}

/** The report, from plain rows of the state and the time it is made. */
export function buildStatus(input: StatusInput, now: number): StatusReport {
  const entries = new Map<string, BucketEntry>();
  for (const row of input.partitions) {
    entryOf(entries, row.bucket).partitions.set(partitionId(row.prefix, row.account, row.region), partitionStatus(row, now));
  }
  addCounts(entries, input.counts);
  for (const entry of entries.values()) orderPartitions(entry);
  addFailed(entries, input.failed);
  const list = [...entries.values()].map((e) => e.status).sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  return { state: input.state, at: isoTime(now), schemaVersion: input.schemaVersion, empty: list.length === 0, daemon: daemonStatus(input.daemon), buckets: list };
}

export function formatStatus(report: StatusReport, options: { all: boolean } = { all: false }): string {
  const when = humanTime(Date.parse(report.at));
  if (report.empty) return `state ${report.state}: nothing collected yet (no partition listed, no object recorded)\n`;
  const lines: string[] = [`state ${report.state} (schema v${report.schemaVersion}) at ${when}`];
  if (report.daemon) {
    const next = report.daemon.nextPassAt === null ? 'no pass scheduled' : `next pass ${humanTime(Date.parse(report.daemon.nextPassAt))}`;
    lines.push(`collector running (pid ${report.daemon.pid}, since ${humanTime(Date.parse(report.daemon.startedAt))}): ${next}`);
  }
  for (const bucket of report.buckets) {
    lines.push('');
    const pending = bucket.deletePending > 0 ? `, ${bucket.deletePending} deletes pending` : '';
    lines.push(
      `bucket ${bucket.bucket}: ${plural(bucket.partitions.length, 'partition')}, ${plural(bucket.done, 'object')} done, ${bucket.failed} failed${pending}`,
    );
    const rows: string[][] = [['PARTITION', 'LAST PASS', 'RESULT', 'NEWEST READ (LastModified)', 'LAG', 'LISTED FROM', 'DONE', 'FAILED']];
    const details: string[][] = [];
    for (const p of bucket.partitions) {
      rows.push([
        p.label,
        p.lastPass ? humanTime(Date.parse(p.lastPass.at)) : '-',
        p.lastPass ? (p.lastPass.ok ? 'ok' : 'FAILED') : '-',
        p.newest ? humanTime(Date.parse(p.newest.lastModified)) : '-',
        p.lag ?? '-',
        p.windowStart ?? '-',
        String(p.done),
        String(p.failed),
      ]);
      const more: string[] = [];
      if (p.lastPass && !p.lastPass.ok) more.push(`last pass failed: ${p.lastPass.error ?? 'no error recorded'}`);
      if (p.newest) more.push(`newest: ${p.newest.key}`);
      else if (p.lastPass) more.push('newest: nothing read yet');
      details.push(more);
    }
    const aligned = table(rows, [6, 7]);
    lines.push(aligned[0]!);
    aligned.slice(1).forEach((line, i) => {
      lines.push(line);
      for (const detail of details[i]!) lines.push(`      ${detail}`);
    });
    if (bucket.failedObjects.length > 0) {
      lines.push(`  failed objects (${bucket.failedObjects.length}):`);
      const shown = options.all ? bucket.failedObjects : bucket.failedObjects.slice(0, FAILED_SHOWN);
      for (const object of shown) {
        lines.push(`    ${object.key}`);
        const delivered = object.delivered > 0 ? `, ${plural(object.delivered, 'event')} delivered before it failed` : '';
        const error = object.error === null ? 'no error recorded' : withoutLocation(object.error, bucket.bucket, object.key);
        const kind = object.failure === null ? '' : ` [${object.failure}]`;
        lines.push(`      ${plural(object.attempts, 'attempt')}, last ${humanTime(Date.parse(object.lastAttemptAt))}${kind}${delivered}: ${error}`);
      }
      const hidden = bucket.failedObjects.length - shown.length;
      if (hidden > 0) lines.push(`    … and ${hidden} more (--all or --json lists them all)`);
    }
  }
  lines.push('');
  lines.push(`LAG is now minus the LastModified of the newest object read; counts cover the days the state keeps (the listing window and ${PRUNE_MARGIN_DAYS} days behind it).`);
  return `${lines.join('\n')}\n`;
}

/** Reads the state (read-only, no lock) and builds the report. */
export function readStatus(statePath: string, now: number): StatusReport {
  const reader = ReadOnlyState.open(statePath);
  try {
    return buildStatus(
      {
        state: statePath,
        schemaVersion: reader.schemaVersion,
        partitions: reader.partitions(),
        counts: reader.objectCounts(),
        failed: reader.failedObjects(),
        daemon: withLiveness(reader.daemon()),
      },
      now,
    );
  } finally {
    reader.close();
  }
}

/** Whether the process a daemon record names is alive (EPERM: alive, but another user's). */
function withLiveness(daemon: { pid: number; startedAt: number; nextPassAt: number | null } | null) {
  if (daemon === null) return null;
  let running = true;
  try {
    process.kill(daemon.pid, 0);
  } catch (err) {
    running = (err as { code?: string }).code === 'EPERM';
  }
  return { ...daemon, running };
}
