import type { Logger } from 'pino';
import type { BucketClient } from './aws/s3.js';
import type { BucketConfig } from './config/load.js';
import { describe } from './errors.js';
import { noCounts } from './read-object.js';
import type { BucketPassSummary } from './vocabulary.js';
import { logsRoot } from './walk/native.js';

// What a bucket pass tells the operator: its one line, and, when it found nothing, where it looked.

export function emptySummary(bucket: string): BucketPassSummary {
  return {
    bucket,
    layout: 'native',
    ok: true,
    partitions: 0,
    listed: 0,
    new: 0,
    retried: 0,
    ...noCounts(),
    durationMs: 0,
    interrupted: null,
    left: 0,
  };
}

/** The summary of a pass that ended, early when `interrupted` says why (and then not ok). */
export function finishedSummary(s: BucketPassSummary, interrupted: string | null): BucketPassSummary {
  return { ...s, interrupted, ok: s.ok && interrupted === null };
}

/** The one line per bucket pass: what happened, and, when it ended early, why and what is left. */
export function logPass(s: BucketPassSummary, log: Logger): void {
  const { bucket: _bucket, ...fields } = s;
  const outcome = s.interrupted !== null ? 'INTERRUPTED' : s.ok ? 'done' : 'FAILED';
  const counts =
    `${s.partitions} partitions, ${s.listed} objects listed, ${s.new} new, ${s.retried} retried, ${s.done} done, ` +
    `${s.failed} failed, ${s.events} events${s.critical > 0 ? ` (${s.critical} critical)` : ''}` +
    `${s.suppressed > 0 ? `, ${s.suppressed} re-exports held back (finding_updates)` : ''} in ${s.durationMs} ms`;
  const why = s.interrupted !== null ? `: ${s.interrupted}; ${s.left} object(s) left for the next pass` : '';
  log.info(fields, `bucket pass ${outcome} (${s.layout}): ${counts}${why}`);
}

/**
 * A pass that found nothing: say where it looked and, when the bucket shows why, what to change (the
 * worst aws-s3 complaint is a wrong prefix that silently reads nothing). Costs requests only then.
 */
export async function warnIfEmpty(bucket: BucketConfig, summary: BucketPassSummary, reader: BucketClient, listedAny: boolean, log: Logger): Promise<void> {
  try {
    const prefix = summary.layout === 'native' ? logsRoot(bucket) : bucket.path;
    // A <path> holding AWSLogs/ can never match either layout, whatever is under it.
    const misplaced = bucket.path.startsWith('AWSLogs/');
    if (!misplaced && (summary.partitions > 0 || listedAny) && (await reader.exists(prefix))) return;
    const hints: string[] = [];
    if (misplaced) hints.push(`<path> "${bucket.path}" starts with AWSLogs/, which the collector adds itself: drop it from <path>`);
    if (summary.layout === 'native' && summary.partitions === 0 && (await reader.exists(prefix))) {
      hints.push(
        `objects exist under ${prefix} but discovering its account and region folders returned none (some S3-compatible stores return no CommonPrefixes for nested prefixes): ` +
          'set <aws_account_id> and <regions>',
      );
    } else if (bucket.path !== '' && !hints.length) {
      const top = [];
      for await (const folder of reader.listFolders('')) {
        top.push(folder);
        if (top.length >= 20) break;
      }
      if (top.includes('AWSLogs/')) hints.push(`AWSLogs/ is at the bucket root while <path> is "${bucket.path}": remove <path>, or check it`);
      else if (top.length > 0) hints.push(`the bucket root holds ${top.slice(0, 5).join(', ')}${top.length > 5 ? ' …' : ''}`);
    }
    const where = `s3://${bucket.name}/${prefix}`;
    log.warn({ prefix, hints }, `nothing found under ${where} this pass${hints.length ? `; ${hints.join('; ')}` : ''}`);
  } catch (err) {
    log.debug({ err: describe(err) }, 'looking for why the bucket is empty failed');
  }
}
