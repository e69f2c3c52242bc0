// The targets `npm run bench` checks its measures against, each met or not: issue 16's bounds on the
// collector against the floor, its peak RSS and its idle pass, and issue 12's request counts and times
// for dataset d (those are set where dataset d is measured, bench/measures.ts).

export interface Target {
  target: string;
  value: number;
  bound: number;
  met: boolean;
}

/** Issue 16's bound on the collector against the floor, in time and in CPU. */
export const FLOOR_RATIO_BOUND = 1.3;
export const RSS_BOUND_MB = 128;
export const IDLE_BOUND_SECONDS = 0.3;

/** Records a target: met when `value` is at most `bound`. */
export function target(targets: Target[], text: string, value: number, bound: number): void {
  targets.push({ target: text, value: +value.toFixed(2), bound, met: value <= bound });
}
