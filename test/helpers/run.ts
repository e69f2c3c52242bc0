import { pino } from 'pino';
import type { Outputs } from '../../src/emit/index.js';
import { DEFAULT_LIMITS, type RunContext } from '../../src/vocabulary.js';
import type { StateStore } from '../../src/state/store.js';

const never = new AbortController().signal;

/** A run in the test's own process (no CLI): silent logs, default limits, never stopped, the clock at `now`. */
export function inProcessRun(state: StateStore, outputs: Outputs, now: Date, concurrency: number, extra: Partial<RunContext> = {}): RunContext {
  return {
    log: pino({ level: 'silent' }),
    state,
    outputs,
    concurrency,
    limits: DEFAULT_LIMITS,
    s3TimeoutMs: 10_000,
    stop: never,
    abandon: never,
    now: () => now,
    ...extra,
  };
}
