import { setTimeout as sleep } from 'node:timers/promises';
import type { Running } from '../../support/cli.js';

// Waits on something a test can observe (a log line, a file, a request, a connection), each with an
// upper bound that fails the test with a message naming what never happened: no bare sleeps.

export interface WaitOptions {
  /** What is awaited, for the failure message: "timed out after 5000 ms waiting for <what>". */
  what: string;
  /** The upper bound; 10 s unless told. */
  timeoutMs?: number;
  /** How often the condition is checked; 10 ms unless told. */
  intervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Resolves once `condition` holds; throws if it still does not after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what}`);
    // The polling interval between two looks at the condition, not a wait of its own.
    await sleep(options.intervalMs ?? 10);
  }
}

/** `promise`, or a failure naming `what` if it has not settled within `timeoutMs`. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The CLI's JSON log lines on stderr until now (it may still be running). */
export function logsSoFar(running: Running): Array<Record<string, unknown>> {
  return running
    .stderrSoFar()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return []; // the last line may not be complete yet
      }
    });
}

function exited(running: Running): boolean {
  return running.child.exitCode !== null || running.child.signalCode !== null;
}

/**
 * `waitFor` while a CLI runs: fails at once if the process ends before `condition` holds, and on
 * timeout kills it (no collector outlives its test); either failure carries the end of its stderr.
 */
export async function waitForProcess(running: Running, condition: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  let ended = false;
  try {
    await waitFor(async () => {
      if (await condition()) return true;
      if (!exited(running)) return false;
      // Its last output may still be in the pipes: look once more when they are read to the end.
      await within(running.done, 5000, 'the CLI\'s output after it exited');
      if (await condition()) return true;
      ended = true;
      throw new Error(`the CLI exited before ${options.what}`);
    }, options);
  } catch (err) {
    if (!ended) running.child.kill('SIGKILL');
    const { code, signal, stderr } = await within(running.done, 5000, 'the CLI to end');
    throw new Error(`${(err as Error).message} (exit code ${code}, signal ${signal}); its stderr ends:\n${stderr.slice(-5000)}`, { cause: err });
  }
}

/** The first value `probe` gives (anything but undefined) while a CLI runs, waited for (see waitForProcess). */
export async function waitForValue<T>(running: Running, probe: () => T | undefined | Promise<T | undefined>, options: WaitOptions): Promise<T> {
  let value: T | undefined;
  await waitForProcess(running, async () => (value = await probe()) !== undefined, options);
  return value!;
}

/** The first log line of a running CLI that matches `predicate`, waited for (see waitForProcess). */
export async function waitForLog(
  running: Running,
  predicate: (line: Record<string, unknown>) => boolean,
  options: WaitOptions,
): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitForProcess(running, () => (found = logsSoFar(running).find(predicate)) !== undefined, options);
  return found!;
}
