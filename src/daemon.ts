import { FINDING_VERSIONS_KEPT_DAYS } from './policy/updates.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBucketClient } from './aws/s3.js';
import { BucketCollector } from './collector.js';
import type { Config, WodleConfig } from './config/load.js';
import { OutputError, StateError, describe } from './errors.js';
import { firstRun, nextRun } from './schedule.js';
import type { SqsSubscriber } from './sqs/subscriber.js';
import { LISTINGS_IN_FLIGHT, type PassOutcome, type RunContext } from './vocabulary.js';

function enabledWodles(config: Config): WodleConfig[] {
  return config.wodles.filter((wodle) => !wodle.disabled);
}

/** One pass over every bucket of the given wodles. Never throws: failures are logged and make `ok` false. */
export async function runPass(wodles: WodleConfig[], ctx: RunContext): Promise<PassOutcome> {
  ctx.telemetry?.passStarted?.();
  const result = await passOver(wodles, ctx);
  ctx.telemetry?.passFinished?.(result);
  return result;
}

async function passOver(wodles: WodleConfig[], ctx: RunContext): Promise<PassOutcome> {
  const result: PassOutcome = { ok: true, outputFailure: null, buckets: [] };
  try {
    await ctx.outputs.open();
  } catch (err) {
    ctx.log.error({ err: describe(err) }, `${describe(err)}; nothing was read`);
    return { ok: false, outputFailure: describe(err), buckets: [] };
  }
  try {
    const pruned = ctx.state.pruneFindingVersions(ctx.now().getTime() - FINDING_VERSIONS_KEPT_DAYS * 86_400_000);
    if (pruned > 0) ctx.log.debug({ pruned }, `forgot the versions of findings not seen for ${FINDING_VERSIONS_KEPT_DAYS} days`);
  } catch (err) {
    ctx.log.error({ err: describe(err) }, `${describe(err)}; nothing was read`);
    return { ok: false, outputFailure: null, stateFailure: describe(err), buckets: [] };
  }
  for (const wodle of wodles) {
    for (const bucket of wodle.buckets) {
      if (ctx.stop.aborted) return result;
      const reader = await createBucketClient(bucket, {
        // One keep-alive pool for the bucket: its object reads and its listings at once.
        maxSockets: ctx.concurrency + LISTINGS_IN_FLIGHT,
        timeoutMs: ctx.s3TimeoutMs,
        onRequest: (operation) => ctx.telemetry?.s3Request?.(bucket.name, operation),
        onFallback: (what, why) => ctx.log.debug({ bucket: bucket.name, key: what, why }, `direct request not answered 200 (${why}): asking through the AWS SDK`),
      });
      try {
        const collector = new BucketCollector(bucket, reader, { ...ctx, skipOnError: wodle.skipOnError });
        const summary = await collector.run();
        result.buckets.push(summary);
        if (!summary.ok) result.ok = false;
      } catch (err) {
        // Only an output or state failure gets here: every other bucket would fail the same way.
        const message = describe(err);
        if (err instanceof StateError) {
          ctx.log.error({ bucket: bucket.name, err: message }, `${message}; the pass stops: what was delivered but not recorded is read again once the state can be written`);
          return { ok: false, outputFailure: null, stateFailure: message, buckets: result.buckets };
        }
        ctx.log.error({ bucket: bucket.name, err: message }, `${message}; the pass stops, and what was not delivered will be read again`);
        return { ok: false, outputFailure: err instanceof OutputError ? message : describe(err), buckets: result.buckets };
      } finally {
        reader.close();
      }
    }
  }
  return result;
}

/**
 * The SQS subscribers of the enabled blocks, each a consumer of its queue. The SQS client is loaded
 * only when a subscriber is configured: most set-ups have none, and every run pays for what it loads.
 */
export async function subscribersOf(config: Config, ctx: RunContext, options: { once: boolean; sqsWaitSeconds: number }): Promise<SqsSubscriber[]> {
  if (enabledWodles(config).every((wodle) => wodle.subscribers.length === 0)) return [];
  const { SqsSubscriber } = await import('./sqs/subscriber.js');
  const polledBuckets = new Set(enabledWodles(config).flatMap((wodle) => wodle.buckets.map((bucket) => bucket.name)));
  return enabledWodles(config).flatMap((wodle) =>
    wodle.subscribers.map((subscriber) => new SqsSubscriber(subscriber, ctx, { once: options.once, waitSeconds: options.sqsWaitSeconds, polledBuckets })),
  );
}

/** Runs every subscriber until stopped (or drained); false when one failed. Outputs are opened first. */
export async function runSubscribers(subscribers: SqsSubscriber[], ctx: RunContext): Promise<boolean> {
  if (subscribers.length === 0) return true;
  try {
    await ctx.outputs.open();
  } catch (err) {
    ctx.log.error({ err: describe(err) }, `${describe(err)}; no SQS message was taken`);
    return false;
  }
  const results = await Promise.all(subscribers.map((subscriber) => subscriber.run()));
  return results.every(Boolean);
}

/** `--once`: one pass over every enabled bucket and a drain of every subscriber's queue; true when all succeeded. */
export async function runOnce(config: Config, ctx: RunContext, sqsWaitSeconds: number): Promise<boolean> {
  const wodles = enabledWodles(config).filter((wodle) => wodle.buckets.length > 0);
  const subscribers = await subscribersOf(config, ctx, { once: true, sqsWaitSeconds });
  if (wodles.length === 0 && subscribers.length === 0) {
    ctx.log.warn({ file: config.file }, 'no enabled <bucket type="guardduty"> or <subscriber type="buckets"> in the configuration; nothing to do');
    return true;
  }
  const [pass, drained] = await Promise.all([wodles.length > 0 ? runPass(wodles, ctx).then((r) => r.ok) : true, runSubscribers(subscribers, ctx)]);
  return pass && drained;
}

interface Scheduled {
  wodle: WodleConfig;
  /** When its next pass is due. */
  due: Date;
}

function sameSchedule(a: WodleConfig, b: WodleConfig): boolean {
  return (
    a.intervalSeconds === b.intervalSeconds &&
    a.intervalMonths === b.intervalMonths &&
    a.day === b.day &&
    a.wday === b.wday &&
    a.time === b.time
  );
}

function describeSchedule(wodle: WodleConfig): string {
  if (wodle.day !== null) return `day ${wodle.day} at ${wodle.time} every ${wodle.intervalMonths} month(s)`;
  if (wodle.wday !== null) return `wday ${wodle.wday} at ${wodle.time} every ${wodle.intervalSeconds / 604_800} week(s)`;
  if (wodle.time !== null) return `at ${wodle.time} every ${wodle.intervalSeconds / 86_400} day(s)`;
  return `every ${wodle.intervalSeconds} s`;
}

/**
 * The daemon: each enabled wodle block on its own schedule (interval, day, wday, time, run_on_start),
 * one pass at a time, until `ctx.stop` fires. A pass that runs past a block's next time is followed at
 * once by the next ("interval overtaken"). A new configuration (SIGHUP) takes effect between passes.
 */
export class Daemon {
  private scheduled: Scheduled[];
  private pending: Config | null = null;
  private wake = new AbortController();
  private running = false;
  /** `--rescan-since` applies to the daemon's next pass only. */
  private rescanSince: string | null;
  private readonly startedAt = Date.now();

  constructor(
    config: Config,
    private readonly ctx: RunContext,
  ) {
    this.scheduled = this.plan(config, null);
    this.rescanSince = ctx.rescanSince ?? null;
  }

  /** Takes a new configuration: at once when idle, else when the pass in progress ends. */
  reload(config: Config): void {
    this.pending = config;
    if (!this.running) this.applyPending();
    this.wake.abort();
  }

  private applyPending(): void {
    if (!this.pending) return;
    this.scheduled = this.plan(this.pending, this.scheduled);
    this.pending = null;
    this.ctx.log.info({ wodles: this.scheduled.length }, `configuration reloaded: ${this.scheduled.length} aws-s3 block(s) scheduled`);
  }

  /** Blocks in order; one that kept its place and schedule keeps its next time, a new one waits for its first slot. */
  /** Each scheduled block: its configuration line, buckets, schedule in words and next pass. */
  describe(): Array<{ line: number; buckets: string[]; schedule: string; next: string }> {
    return this.scheduled.map((entry) => ({
      line: entry.wodle.line,
      buckets: entry.wodle.buckets.map((b) => b.name),
      schedule: describeSchedule(entry.wodle),
      next: entry.due.toISOString(),
    }));
  }

  /** Tells the state when the next pass is due, for `status` (a failure to write it only loses that). */
  private publishSchedule(): void {
    const next = this.scheduled.length > 0 ? Math.min(...this.scheduled.map((entry) => entry.due.getTime())) : null;
    try {
      this.ctx.state.recordDaemon({ pid: process.pid, startedAt: this.startedAt, nextPassAt: next });
    } catch (err) {
      this.ctx.log.warn({ err: describe(err) }, `${describe(err)}; status will not show the next pass`);
    }
  }

  private plan(config: Config, previous: Scheduled[] | null): Scheduled[] {
    const now = this.ctx.now();
    const wodles = enabledWodles(config).filter((wodle) => wodle.buckets.length > 0);
    if (wodles.length === 0 && enabledWodles(config).every((wodle) => wodle.subscribers.length === 0)) {
      this.ctx.log.warn({ file: config.file }, 'no enabled <bucket type="guardduty"> in the configuration; waiting for a stop signal');
    }
    return wodles.map((wodle, index) => {
      const before = previous?.[index];
      const due = before && sameSchedule(before.wodle, wodle) ? before.due : firstRun(previous ? { ...wodle, runOnStart: false } : wodle, now);
      this.ctx.log.debug({ line: wodle.line, schedule: describeSchedule(wodle), next: due.toISOString() }, 'aws-s3 block scheduled');
      return { wodle, due };
    });
  }

  async run(): Promise<void> {
    this.publishSchedule();
    while (!this.ctx.stop.aborted) {
      const now = this.ctx.now();
      const due = this.scheduled.filter((entry) => entry.due.getTime() <= now.getTime());
      if (due.length > 0) {
        await this.pass(due);
        continue;
      }
      const next = Math.min(...this.scheduled.map((entry) => entry.due.getTime()));
      const wait = Number.isFinite(next) ? Math.max(next - now.getTime(), 0) : 3_600_000;
      this.wake = new AbortController();
      await sleep(Math.min(wait, 2_147_000_000), undefined, { signal: AbortSignal.any([this.ctx.stop, this.wake.signal]) }).catch(() => undefined);
    }
  }

  private async pass(due: Scheduled[]): Promise<void> {
    this.running = true;
    try {
      await runPass(
        due.map((entry) => entry.wodle),
        { ...this.ctx, rescanSince: this.rescanSince },
      );
    } finally {
      this.running = false;
      this.rescanSince = null;
    }
    const ended = this.ctx.now();
    for (const entry of due) {
      const next = nextRun(entry.wodle, entry.due, ended);
      if (next.overtaken && !this.ctx.stop.aborted) {
        this.ctx.log.warn(
          { line: entry.wodle.line, due: entry.due.toISOString() },
          `interval overtaken: the pass outlasted the schedule (${describeSchedule(entry.wodle)}); the next pass starts now`,
        );
      }
      entry.due = next.at;
    }
    this.applyPending();
    this.publishSchedule();
  }
}
