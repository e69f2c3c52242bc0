/** A problem with the command line or the configuration: exit 2, nothing read, nothing written. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The state database cannot be used (locked, read-only, corrupt): exit 2 before anything is read. */
export class StateError extends Error {
  override name = 'StateError';
}

/** An output refused events: the pass stops, and nothing undelivered is recorded as done. */
export class OutputError extends Error {
  override name = 'OutputError';
  /** Events at the start of the failed batch that the output did take before it failed. */
  accepted: number;

  constructor(
    readonly output: string,
    message: string,
    options?: { cause?: unknown; accepted?: number },
  ) {
    super(`output ${output}: ${message}`, options);
    this.accepted = options?.accepted ?? 0;
  }
}

/** One object could not be turned into events (bad compression, unreadable body). */
export class ObjectError extends Error {
  override name = 'ObjectError';
}

export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
