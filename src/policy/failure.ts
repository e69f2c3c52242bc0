import { networkCode, type AwsLikeError } from '../aws/errors.js';
import { FetchError, ShortBodyError } from '../aws/body.js';
import { OutputError, StateError } from '../errors.js';

// Why a read failed, and what follows from it: the one failure policy, for the collector, the SQS
// subscriber and `explain` alike. Pure: an error (or its recorded kind) and the limits in, a decision out.

/**
 * - `transient`: the network, a timeout, S3 answering 5xx or throttling, credentials expired, a body
 *   cut off in transit. Says nothing about the object.
 * - `denied`: S3 or KMS refused this object (AccessDenied, another 4xx). Also not the object's fault:
 *   an operator fixes the policy.
 * - `gone`: the object was deleted between the listing and the read; there is nothing to read.
 * - `content`: the bytes cannot be turned into findings (bad compression, over a cap). Only these
 *   spend the object's attempts.
 * - `isolated`: this object's body ended short of its size, without a transport error, on every read,
 *   while other objects of the bucket were read whole in the same pass: S3 serves it incomplete.
 *   Recorded `transient` at first; the pass's end decides it was the object's own
 *   (isolatedFailuresAreTheObjects), and then it spends an attempt as content does. A reset, a
 *   timeout or a 5xx never does (CONTRACT.md): those only let the bucket go on.
 * - `output`: an output refused events.
 * - `state`: the state database cannot record (disk full, read-only, gone).
 */
export type FailureKind = 'transient' | 'denied' | 'gone' | 'content' | 'isolated' | 'output' | 'state';

const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
]);

const CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'TokenRefreshRequired',
  'InvalidToken',
  'RequestExpired',
  'RequestTimeTooSkewed',
]);

export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof OutputError) return 'output';
  if (err instanceof StateError) return 'state';
  if (err instanceof FetchError) return 'transient';
  const e = (err ?? {}) as AwsLikeError & { $retryable?: unknown };
  if (networkCode(e) !== null) return 'transient';
  const code = e.name ?? e.Code ?? '';
  if (THROTTLING.has(code) || CREDENTIALS.has(code) || e.$retryable !== undefined) return 'transient';
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) {
    if (status >= 500 || status === 429 || status === 408) return 'transient';
    if (code === 'NoSuchKey' || status === 404) return 'gone';
    return 'denied';
  }
  return 'content';
}

/** Whether a transient failure may turn out to be the object's own: a body served short of its size. */
export function mayBeIsolated(err: unknown): boolean {
  return err instanceof ShortBodyError;
}

/**
 * Objects in a row that fail transiently, with no object read whole between them, that make an outage
 * rather than one object's trouble: the bucket stops at the last of them.
 */
export const TRANSIENT_FAILURES_FOR_AN_OUTAGE = 3;

/** What a bucket's pass has seen of its reads so far: all the policy remembers within a pass. */
export interface PassTally {
  /** Objects read whole (their GET and decode went through). */
  readWhole: number;
  /** Transient failures since the last object read whole. */
  transientInARow: number;
  /** TRANSIENT_FAILURES_FOR_AN_OUTAGE came in a row: the bucket stopped, and it stays an outage. */
  outage: boolean;
}

export const NO_READS: PassTally = { readWhole: 0, transientInARow: 0, outage: false };

/** The tally after one more read that went through (`whole`) or failed transiently. */
export function tallyAfter(tally: PassTally, read: 'whole' | 'transient'): PassTally {
  if (read === 'whole') return { ...tally, readWhole: tally.readWhole + 1, transientInARow: 0 };
  const inARow = tally.transientInARow + 1;
  return { ...tally, transientInARow: inARow, outage: tally.outage || inARow >= TRANSIENT_FAILURES_FOR_AN_OUTAGE };
}

/**
 * At the end of a bucket's pass: whether its transient failures were those objects' own. Other objects
 * of the bucket were read whole meanwhile, and no outage stopped the bucket.
 */
export function isolatedFailuresAreTheObjects(tally: PassTally): boolean {
  return tally.readWhole > 0 && !tally.outage;
}

export interface FailureLimits {
  skipOnError: boolean;
  maxAttempts: number;
}

export interface FailureDecision {
  /** Whether this failure counts against `--max-attempts`. */
  countsAttempt: boolean;
  /**
   * What stops: nothing, this bucket's pass (start no more objects), the whole pass, or this bucket's
   * pass if the tally says an outage (tallyAfter).
   */
  halt: 'none' | 'bucket' | 'pass' | 'on-outage';
  /** Whether the pass still counts as a success (exit 0). */
  passOk: boolean;
  /** read again on a later pass; failed for good; or nothing left to read. */
  next: 'retry' | 'give-up' | 'nothing';
}

/** Whether a failed object gets another try: always without skip_on_error, else up to `maxAttempts` passes. */
export function retryable(skipOnError: boolean, attempts: number, maxAttempts: number): boolean {
  return !skipOnError || attempts < maxAttempts;
}

/** Which read comes next for an object recorded failed that is read again (explain says it). */
export type NextRead =
  /** Given up by the policy, read once more because a --rescan-since asks. */
  | { kind: 'rescan' }
  /** Under skip_on_error: the attempt it will be, of how many. */
  | { kind: 'attempt'; attempt: number; of: number }
  /** Without skip_on_error: every pass until it succeeds. */
  | { kind: 'every-pass' };

export function nextReadOfFailed(attempts: number, limits: FailureLimits, rescan: boolean): NextRead {
  if (rescan && !retryable(limits.skipOnError, attempts, limits.maxAttempts)) return { kind: 'rescan' };
  return limits.skipOnError ? { kind: 'attempt', attempt: attempts + 1, of: limits.maxAttempts } : { kind: 'every-pass' };
}

/**
 * What follows from a failed read. `attempts` counts the object's earlier failed attempts. Content
 * errors spend an attempt; under skip_on_error the object is given up after `maxAttempts`, without it
 * the bucket stops and the object is read again next pass. Every other kind leaves the object for the
 * next pass and fails the pass (exit 1), so an operator hears of an outage, and a refused object never
 * blocks the rest; an outage, an output or the state failing stops what would fail the same way.
 */
export function decideFailure(kind: FailureKind, attempts: number, limits: FailureLimits): FailureDecision {
  switch (kind) {
    case 'isolated': {
      const spent = attempts + 1;
      return { countsAttempt: true, halt: 'none', passOk: false, next: retryable(limits.skipOnError, spent, limits.maxAttempts) ? 'retry' : 'give-up' };
    }
    case 'content': {
      const spent = attempts + 1;
      if (!limits.skipOnError) return { countsAttempt: true, halt: 'bucket', passOk: false, next: 'retry' };
      return { countsAttempt: true, halt: 'none', passOk: true, next: retryable(true, spent, limits.maxAttempts) ? 'retry' : 'give-up' };
    }
    case 'gone':
      return { countsAttempt: false, halt: 'none', passOk: true, next: 'nothing' };
    case 'denied':
      return { countsAttempt: false, halt: 'none', passOk: false, next: 'retry' };
    case 'transient':
      // One object failing is not an outage: the bucket goes on unless failures keep coming in a row.
      return { countsAttempt: false, halt: 'on-outage', passOk: false, next: 'retry' };
    case 'output':
    case 'state':
      return { countsAttempt: false, halt: 'pass', passOk: false, next: 'retry' };
  }
}

/**
 * Whether an object read to the end with bad lines stops its bucket: its good findings were delivered
 * and the bad lines cannot be mended by reading again, so it is recorded done either way; without
 * skip_on_error the operator still hears of it, through the pass failing.
 */
export function badLinesStopBucket(malformed: number, skipOnError: boolean): boolean {
  return malformed > 0 && !skipOnError;
}

/** What the error line of a failed read says happens next to the object (after `decideFailure`). */
export function nextForFailure(kind: FailureKind, decision: FailureDecision, attempts: number, limits: FailureLimits): string {
  if (kind === 'isolated') {
    const next = decision.next === 'retry' ? `attempt ${attempts} of ${limits.skipOnError ? limits.maxAttempts : 'unlimited (skip_on_error is no)'}, read again next pass` : `left failed after ${attempts} attempts`;
    return `its body was served short of its size on every read while other objects of this bucket were read whole: the object's own failure, ${next}`;
  }
  if (kind !== 'content') {
    return `not the object's fault (${kind}): no attempt spent; it is read again next pass`;
  }
  if (!limits.skipOnError) return 'stopping this bucket (skip_on_error is no), it is read again next pass';
  if (decision.next === 'retry') return `skipped (skip_on_error), attempt ${attempts} of ${limits.maxAttempts}, tried again next pass`;
  return `skipped (skip_on_error), left failed after ${attempts} attempts`;
}

/** How explain and status name a recorded failure. */
export const FAILURE_TEXT: Record<FailureKind, string> = {
  transient: 'transient (network, timeout, S3 5xx or throttling, credentials): read again next pass, no attempt spent',
  denied: 'refused by S3 or KMS (permissions): read again next pass, no attempt spent',
  gone: 'the object was gone when read',
  content: 'content (the bytes cannot be decoded): spends an attempt',
  isolated: 'its body was served short of its size on every read while other objects were read whole: spends an attempt',
  output: 'an output was down: read again next pass, no attempt spent',
  state: 'the state could not record it: read again next pass, no attempt spent',
};
