import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createBucketReader } from './aws/s3.js';
import { BucketCollector, type BucketPassSummary, type Limits } from './collector.js';
import type { Config, WodleConfig } from './config/load.js';
import type { Outputs } from './emit/index.js';
import { OutputError, describe } from './errors.js';
import type { StateStore } from './state/store.js';

export interface RunContext {
  log: Logger;
  state: StateStore;
  outputs: Outputs;
  concurrency: number;
  limits: Limits;
  s3TimeoutMs: number;
  stop: AbortSignal;
  abandon: AbortSignal;
  now(): Date;
}

export interface PassResult {
  ok: boolean;
  buckets: BucketPassSummary[];
}

function enabledWodles(config: Config): WodleConfig[] {
  return config.wodles.filter((wodle) => !wodle.disabled);
}

/** One pass over every bucket of the given wodles. Never throws: failures are logged and make `ok` false. */
export async function runPass(wodles: WodleConfig[], ctx: RunContext): Promise<PassResult> {
  const result: PassResult = { ok: true, buckets: [] };
  try {
    await ctx.outputs.open();
  } catch (err) {
    ctx.log.error({ err: describe(err) }, `${describe(err)}; nothing was read`);
    return { ok: false, buckets: [] };
  }
  for (const wodle of wodles) {
    for (const bucket of wodle.buckets) {
      if (ctx.stop.aborted) return result;
      const reader = await createBucketReader(bucket, { maxSockets: ctx.concurrency + 4, timeoutMs: ctx.s3TimeoutMs });
      try {
        const collector = new BucketCollector(bucket, reader, { ...ctx, skipOnError: wodle.skipOnError });
        const summary = await collector.run();
        result.buckets.push(summary);
        if (!summary.ok) result.ok = false;
      } catch (err) {
        // Only an output failure gets here: every other bucket would fail the same way.
        const message = err instanceof OutputError ? err.message : describe(err);
        ctx.log.error({ bucket: bucket.name, err: message }, `${message}; the pass stops, and what was not delivered will be read again`);
        return { ok: false, buckets: result.buckets };
      } finally {
        reader.close();
      }
    }
  }
  return result;
}

/** `--once`: a single pass over every enabled bucket; true when every bucket succeeded. */
export async function runOnce(config: Config, ctx: RunContext): Promise<boolean> {
  const wodles = enabledWodles(config);
  if (wodles.every((wodle) => wodle.buckets.length === 0)) {
    ctx.log.warn({ file: config.file }, 'no enabled <bucket type="guardduty"> in the configuration; nothing to do');
    return true;
  }
  return (await runPass(wodles, ctx)).ok;
}

/**
 * Runs each enabled wodle at start (run_on_start) and then every `interval`, one pass at a time, until
 * `ctx.stop` fires. A pass that runs past its wodle's next time is followed at once by the next one.
 */
export async function runDaemon(config: Config, ctx: RunContext): Promise<void> {
  const wodles = enabledWodles(config).filter((wodle) => wodle.buckets.length > 0);
  if (wodles.length === 0) {
    ctx.log.warn({ file: config.file }, 'no enabled <bucket type="guardduty"> in the configuration; waiting for a stop signal');
  }
  const start = Date.now();
  const nextRun = new Map(wodles.map((wodle) => [wodle, wodle.runOnStart ? start : start + wodle.intervalSeconds * 1000]));
  while (!ctx.stop.aborted) {
    const now = Date.now();
    const due = wodles.filter((wodle) => nextRun.get(wodle)! <= now);
    if (due.length > 0) {
      for (const wodle of due) nextRun.set(wodle, now + wodle.intervalSeconds * 1000);
      const result = await runPass(due, ctx);
      ctx.log.debug({ ok: result.ok }, 'pass finished');
      continue;
    }
    const wait = wodles.length === 0 ? 3_600_000 : Math.min(...wodles.map((wodle) => nextRun.get(wodle)!)) - now;
    await sleep(Math.max(wait, 0), undefined, { signal: ctx.stop }).catch(() => undefined);
  }
}
