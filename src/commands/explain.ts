import { PRUNE_MARGIN_DAYS } from '../vocabulary.js';
import type { BucketConfig, Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { ReadOnlyState, type RecordedObject } from '../state/report.js';
import { FAILURE_TEXT, nextReadOfFailed } from '../policy/failure.js';
import { owedDelete } from '../policy/deletes.js';
import { GRANULARITY, knownLayout, nativeRoot, placeKey, type LayoutName, type PlacedKey } from '../policy/layout.js';
import { judgeKey, keyFacts, type Verdict } from '../policy/verdict.js';
import { GRACE_HOURS, listingStart, rescanStart } from '../walk/window.js';
import { humanTime, isoTime, plural, withoutLocation } from './format.js';
import { OUTCOME, type Decision, type ExplainInput, type Explanation, type Outcome, type StateFact } from './explain-types.js';

export type { Decision, ExplainInput, Explanation, Outcome, StateFact } from './explain-types.js';

// `guardduty-wodle explain <bucket> <key>`: whether the collector read that key or would read it, and
// if not, why — from the configuration and the state only, never from S3. The checks run in the order
// the collector applies them; the first that stops the key is the answer.

const NATIVE_SHAPE = 'AWSLogs/<path_suffix><account>/GuardDuty/<region>/YYYY/MM/DD/<name>';
const FIREHOSE_SHAPE = 'YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[ext]';

function stateFact(row: RecordedObject | undefined): StateFact | null {
  if (!row) return null;
  return {
    status: row.status,
    at: isoTime(row.processedAt),
    events: row.events,
    malformed: row.malformed,
    deletePending: row.deletePending,
    attempts: row.attempts,
    delivered: row.delivered,
    failure: row.failure,
    error: row.error,
    etag: row.etag,
    size: row.size,
  };
}

/** Every fact, in the order `explain --json` prints them whatever the decision; placing the key fills in the nulls. */
function configFacts(input: ExplainInput): Explanation['facts'] {
  const { bucket } = input;
  return {
    config: input.where,
    skipOnError: input.wodle.skipOnError,
    maxAttempts: input.maxAttempts,
    layout: null,
    layoutBasis: '',
    account: null,
    region: null,
    day: null,
    folder: null,
    accountIds: bucket.accountIds,
    regions: bucket.regions,
    onlyLogsAfter: bucket.onlyLogsAfter,
    partition: null,
    windowStart: null,
    rescanSince: input.rescanSince,
    window: null,
    state: stateFact(input.object),
  };
}

/** Notes that hold whatever the decision: a bucket configured twice, and discard_regex, which no key escapes. */
function configNotes(input: ExplainInput): string[] {
  const { bucket } = input;
  const notes: string[] = [];
  if (input.otherBlocks > 0) notes.push(`the bucket is configured ${input.otherBlocks + 1} times; this answer is for the block at ${input.where}`);
  if (bucket.discardRegex.length > 0) {
    const rules = bucket.discardRegex.map((r) => `${r.field} ~ ${r.pattern}`).join(', ');
    notes.push(`discard_regex applies to each finding, not to the key: findings of this object matching ${rules} are dropped, the others delivered`);
  }
  return notes;
}

/**
 * The layout the collector reads the bucket by (policy/layout.ts): the one the state knows, else (explain
 * does not ask S3) the one the key's shape suggests, said to be assumed.
 */
function layoutOf(input: ExplainInput, facts: Explanation['facts']): LayoutName | null {
  const { bucket, key } = input;
  const root = nativeRoot(bucket);
  const known = knownLayout(bucket.path, input.partitions);
  if (known !== null) {
    facts.layout = known;
    facts.layoutBasis = known === 'native' ? `the state has native partitions under ${root}: the collector reads native exports` : `the state has the Firehose partition "${bucket.path}"`;
    return known;
  }
  const assumed: LayoutName | null = placeKey(bucket, 'native', key) ? 'native' : placeKey(bucket, 'firehose', key) ? 'firehose' : null;
  facts.layout = assumed;
  facts.layoutBasis =
    assumed === 'native'
      ? `the key is under ${root}, so the bucket is read as native GuardDuty exports (the state has no partition of this bucket yet)`
      : assumed === 'firehose'
        ? `Firehose, assuming ${root} holds nothing (explain does not ask S3, and the state has no partition of this bucket yet)`
        : 'unknown (nothing in the state yet)';
  return assumed;
}

/** Why a key the bucket's layout does not place is ignored. */
function outsideLayoutReason(input: ExplainInput, layout: LayoutName | null): string {
  const { bucket, key } = input;
  const other: LayoutName | null = layout === 'native' ? 'firehose' : layout === 'firehose' ? 'native' : null;
  if (other !== null && placeKey(bucket, other, key)) {
    return `not read: the key is in the ${other === 'firehose' ? 'Firehose' : 'native'} layout, but the bucket is read as ${layout === 'native' ? 'native exports' : 'Firehose'} (the state knows it so); the collector ignores it`;
  }
  const where = key.startsWith(bucket.path) ? '' : ` (it does not start with the bucket's path "${bucket.path}")`;
  return `not read: the key is outside both layouts, neither ${bucket.path}${NATIVE_SHAPE} nor ${bucket.path}${FIREHOSE_SHAPE}${where}; the collector ignores it`;
}

/** The key's folder and partition, and where the partition's next listing starts, as the collector would compute them. */
function windowOf(input: ExplainInput, facts: Explanation['facts'], placed: PlacedKey) {
  const { bucket } = input;
  const granularity = GRANULARITY[placed.layout];
  facts.day = placed.day;
  facts.folder = placed.folder;
  if (placed.layout === 'native') {
    facts.account = placed.partition.account;
    facts.region = placed.partition.region;
  }
  const prefix = placed.partition.prefix;
  facts.windowStart = input.partitions.find((p) => p.prefix === prefix)?.windowStart ?? null;
  const normal = listingStart(facts.windowStart, bucket.onlyLogsAfter, input.now, granularity);
  const first = rescanStart(normal, input.rescanSince, bucket.onlyLogsAfter, granularity);
  facts.window = { first };
  return { first, normal };
}

export function explainKey(input: ExplainInput): Explanation {
  const facts = configFacts(input);
  const notes = configNotes(input);
  const answer = (decision: Decision, reason: string): Explanation => ({
    bucket: input.bucket.name,
    key: input.key,
    decision,
    outcome: OUTCOME[decision],
    reason,
    notes,
    facts,
  });
  const layout = layoutOf(input, facts);
  if (input.wodle.disabled) return answer('disabled', `not read: the <wodle name="aws-s3"> block holding this bucket is disabled`);
  const placed = layout === null ? null : placeKey(input.bucket, layout, input.key);
  if (placed === null) return answer('outside-layout', outsideLayoutReason(input, layout));
  const { first, normal } = windowOf(input, facts, placed);
  const context = { bucket: input.bucket, skipOnError: input.wodle.skipOnError, maxAttempts: input.maxAttempts, rescan: input.rescanSince !== null };
  const verdict = judgeKey(keyFacts(context, placed, input.object, first));
  if (verdict.why !== 'account-not-configured' && verdict.why !== 'region-not-configured' && verdict.why !== 'not-a-region') facts.partition = placed.partition.prefix;
  return explainVerdict(verdict, { input, facts, notes, answer, first, normal });
}

interface VerdictContext {
  input: ExplainInput;
  facts: Explanation['facts'];
  notes: string[];
  answer: (decision: Decision, reason: string) => Explanation;
  /** Where the next pass lists from, and where it would without the rescan. */
  first: string;
  normal: string;
}

function lastError(row: RecordedObject, { bucket, key }: ExplainInput): string {
  return row.error === null ? 'none recorded' : withoutLocation(row.error, bucket.name, key);
}

function doneReason(done: RecordedObject, { input }: VerdictContext): string {
  const bad = done.malformed > 0 ? ` and ${plural(done.malformed, 'bad line')}` : '';
  const deletion = {
    none: '',
    owed: '; its delete (remove_from_bucket) is pending and is carried out at the start of the next pass',
    kept: '; a delete was pending, but remove_from_bucket is now no: it stays in the bucket',
  }[owedDelete(done.deletePending, input.bucket.removeFromBucket)];
  return `processed: done at ${humanTime(done.processedAt)} with ${plural(done.events, 'event')}${bad}${deletion}`;
}

/** Names what put the listing's start past the key's folder; notes a pruned row, whose absence looks like a key never read. */
function beforeWindowReason({ input, facts, notes, first, normal }: VerdictContext): string {
  const { bucket } = input;
  const row = input.object;
  const why =
    input.rescanSince !== null && first !== normal
      ? `the rescan from ${input.rescanSince}`
      : facts.windowStart === null
        ? `the partition was never listed to the end, so its first pass lists from ${bucket.onlyLogsAfter === null ? 'today (only_logs_after is not set)' : 'only_logs_after'}`
        : `the newest object settled there less ${plural(GRACE_HOURS / 24, 'day')} of grace, or where it was first listed or imported from Wazuh if later`;
  const failed = row?.status === 'failed' ? `; it failed ${plural(row.attempts, 'time')} (${lastError(row, input)}) and is not retried` : '';
  if (!row && facts.windowStart !== null) {
    notes.push(`the state has no row for this key: if it was read, its row was pruned since (rows are kept ${PRUNE_MARGIN_DAYS} days behind the window)`);
  }
  return (
    `not read: its folder ${facts.folder} is before where the partition's listing starts (${first}; ${why}): it will not be listed again ` +
    `unless a --rescan-since on or before ${facts.day} asks${failed}`
  );
}

function retryReason(row: RecordedObject, { input, facts, first }: VerdictContext): string {
  const limits = { skipOnError: input.wodle.skipOnError, maxAttempts: input.maxAttempts };
  const read = nextReadOfFailed(row.attempts, limits, input.rescanSince !== null);
  const next =
    read.kind === 'rescan'
      ? `the rescan gives it one more read after ${plural(row.attempts, 'attempt')}`
      : read.kind === 'attempt'
        ? `attempt ${read.attempt} of ${read.of}`
        : 'every pass until it succeeds, since skip_on_error is no';
  const byKey = facts.folder !== null && facts.folder < first ? `; its folder ${facts.folder} is before where the listing starts (${first}), so it is read by its key` : '';
  return `will be read again on the next pass (${next}): failed ${plural(row.attempts, 'time')}, last error: ${lastError(row, input)}${byKey}`;
}

/** The verdict in words, naming the fact that decided it. */
function explainVerdict(verdict: Verdict, context: VerdictContext): Explanation {
  const { input, facts, answer, first } = context;
  const { bucket } = input;
  const row = input.object;
  switch (verdict.why) {
    case 'outside-layout':
      return answer('outside-layout', 'not read: the key is outside the layout; the collector ignores it');
    case 'account-not-configured':
      return answer('account-not-configured', `not read: account ${facts.account} is not among the configured aws_account_id (${bucket.accountIds!.join(', ')})`);
    case 'region-not-configured':
      return answer('region-not-configured', `not read: region ${facts.region} is not among the configured regions (${bucket.regions!.join(', ')})`);
    case 'not-a-region':
      return answer('region-not-configured', `not read: the folder "${facts.region}" is not a region name, and region discovery (regions is not set) skips it`);
    case 'before-only-logs-after':
      return answer('before-only-logs-after', `not read: its day ${facts.day} is before only_logs_after ${bucket.onlyLogsAfter}`);
    case 'done':
      return answer('done', doneReason(row!, context));
    case 'failed-final':
      return answer(
        'failed-final',
        `not read: failed ${plural(row!.attempts, 'time')}, the most --max-attempts (${input.maxAttempts}) allows under skip_on_error: ` +
          `it stays failed and is not read again; last error: ${lastError(row!, input)} (a --rescan-since gives it one more read)`,
      );
    case 'before-window':
      return answer('before-window', beforeWindowReason(context));
    case 'retry':
      return answer('failed-retry', retryReason(row!, context));
    case 'new':
      return answer('will-read', `would be read on the next pass: its folder ${facts.folder} is inside the listing window (from ${first} to the end of the listing) and the state has no row for it`);
  }
}

export function formatExplanation(e: Explanation): string {
  const f = e.facts;
  const lead: Record<Outcome, string> = { processed: 'PROCESSED', 'will-be-read': 'WILL BE READ', 'not-read': 'NOT READ' };
  const reason = e.reason.replace(/^(processed|not read): /, '');
  const lines = [`s3://${e.bucket}/${e.key}`, `${lead[e.outcome]}: ${reason}`, ''];
  const fact = (name: string, value: string) => lines.push(`  ${name.padEnd(16)} ${value}`);
  fact('config', `${f.config} (skip_on_error ${f.skipOnError ? 'yes' : 'no'}, --max-attempts ${f.maxAttempts})`);
  fact('layout', f.layout === null ? f.layoutBasis : `${f.layout}: ${f.layoutBasis}`);
  if (f.layout === 'native' && f.account !== null) {
    fact('account', `${f.account} (aws_account_id: ${f.accountIds ? f.accountIds.join(', ') : 'not set, every account folder'})`);
    fact('region', `${f.region} (regions: ${f.regions ? f.regions.join(', ') : 'not set, every region folder'})`);
  }
  if (f.folder !== null) fact('day', f.folder === f.day ? f.folder : `${f.day} (folder ${f.folder})`);
  fact('only_logs_after', f.onlyLogsAfter ?? 'not set (a new partition starts today)');
  if (f.partition !== null) fact('partition', f.partition === '' ? '(bucket root)' : f.partition);
  if (f.window !== null && f.partition !== null) {
    fact('listed from', f.windowStart ?? 'none (the partition was never listed to the end)');
    if (f.rescanSince !== null) fact('rescan since', f.rescanSince);
    fact('window', `from ${f.window.first} to the end of the listing`);
  }
  const s = f.state;
  if (s === null) fact('state', 'no row for this key');
  else if (s.status === 'done') {
    fact('state', `done at ${humanTime(Date.parse(s.at))}: ${plural(s.events, 'event')}, ${plural(s.malformed, 'bad line')}, delete pending ${s.deletePending ? 'yes' : 'no'}, ETag ${s.etag}, ${s.size} bytes`);
  } else {
    const error = s.error === null ? 'no error recorded' : withoutLocation(s.error, e.bucket, e.key);
    fact('state', `failed, ${plural(s.attempts, 'attempt')}, last at ${humanTime(Date.parse(s.at))}, ${plural(s.delivered, 'event')} delivered before it failed: ${error}`);
    if (s.failure !== null) fact('last failure', FAILURE_TEXT[s.failure]);
  }
  for (const note of e.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

/** The bucket's block in the configuration, preferring one whose path the key is under. */
export function findBucket(config: Config, name: string, key: string): { bucket: BucketConfig; wodle: { disabled: boolean; skipOnError: boolean }; others: number } {
  const blocks = config.wodles.flatMap((wodle) => wodle.buckets.filter((b) => b.name === name).map((bucket) => ({ bucket, wodle })));
  if (blocks.length === 0) {
    const names = [...new Set(config.wodles.flatMap((w) => w.buckets.map((b) => b.name)))];
    throw new ConfigError(`bucket ${name} is not in ${config.file} (${names.length > 0 ? `configured: ${names.join(', ')}` : 'no <bucket type="guardduty"> there'})`);
  }
  const chosen = blocks.find((b) => key.startsWith(b.bucket.path) && !b.wodle.disabled) ?? blocks.find((b) => key.startsWith(b.bucket.path)) ?? blocks[0]!;
  return { bucket: chosen.bucket, wodle: chosen.wodle, others: blocks.length - 1 };
}

export interface ExplainOptions {
  maxAttempts: number;
  now: Date;
  rescanSince: string | null;
}

export function readExplanation(config: Config, statePath: string, bucketName: string, key: string, options: ExplainOptions): Explanation {
  const { bucket, wodle, others } = findBucket(config, bucketName, key);
  const reader = ReadOnlyState.open(statePath);
  try {
    return explainKey({
      bucket,
      where: `${config.file}:${bucket.line}`,
      otherBlocks: others,
      wodle,
      key,
      partitions: reader.partitions(bucket.name),
      object: reader.object(bucket.name, key),
      ...options,
    });
  } finally {
    reader.close();
  }
}
