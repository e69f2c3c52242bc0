// The failure policy (src/failure.ts), case by case: what kind a failure is, what follows from it,
// and what the operator is told happens next.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FetchError, ShortBodyError } from '../src/aws/body.js';
import { ObjectError, OutputError, StateError } from '../src/errors.js';
import {
  NO_READS,
  TRANSIENT_FAILURES_FOR_AN_OUTAGE,
  badLinesStopBucket,
  classifyFailure,
  decideFailure,
  isolatedFailuresAreTheObjects,
  mayBeIsolated,
  nextForFailure,
  nextReadOfFailed,
  retryable,
  tallyAfter,
} from '../src/policy/failure.js';

describe('one object failing transiently, or an outage', () => {
  const limits = { skipOnError: true, maxAttempts: 2 };
  test('a transient failure stops the bucket only if the tally says an outage: the third in a row with none read whole', () => {
    assert.equal(TRANSIENT_FAILURES_FOR_AN_OUTAGE, 3);
    assert.deepEqual(decideFailure('transient', 0, limits), { countsAttempt: false, halt: 'on-outage', passOk: false, next: 'retry' });
    let tally = tallyAfter(NO_READS, 'transient');
    tally = tallyAfter(tally, 'transient');
    assert.equal(tally.outage, false, 'two in a row');
    assert.equal(tallyAfter(tallyAfter(tally, 'whole'), 'transient').outage, false, 'a whole read between them starts the count again');
    tally = tallyAfter(tally, 'transient');
    assert.deepEqual(tally, { readWhole: 0, transientInARow: 3, outage: true });
    assert.equal(tallyAfter(tally, 'whole').outage, true, 'an outage stays one for the pass');
    assert.match(nextForFailure('transient', decideFailure('transient', 0, limits), 0, limits), /not the object's fault \(transient\): no attempt spent; it is read again next pass/);
  });

  test('at the pass\'s end they are the objects\' own when others were read whole and no outage stopped the bucket', () => {
    assert.equal(isolatedFailuresAreTheObjects(tallyAfter(tallyAfter(NO_READS, 'transient'), 'whole')), true);
    assert.equal(isolatedFailuresAreTheObjects(tallyAfter(NO_READS, 'transient')), false, 'nothing read whole: it may be the service');
    const outage = [1, 2, 3].reduce((t) => tallyAfter(t, 'transient'), tallyAfter(NO_READS, 'whole'));
    assert.equal(isolatedFailuresAreTheObjects(outage), false, 'an outage came during the pass');
  });

  test('an isolated failure spends an attempt like content, fails the pass, never stops the bucket', () => {
    assert.deepEqual(decideFailure('isolated', 0, limits), { countsAttempt: true, halt: 'none', passOk: false, next: 'retry' });
    assert.deepEqual(decideFailure('isolated', 1, limits), { countsAttempt: true, halt: 'none', passOk: false, next: 'give-up' });
    assert.deepEqual(decideFailure('isolated', 9, { skipOnError: false, maxAttempts: 2 }), { countsAttempt: true, halt: 'none', passOk: false, next: 'retry' });
    assert.match(nextForFailure('isolated', decideFailure('isolated', 0, limits), 1, limits), /the object's own failure, attempt 1 of 2, read again next pass/);
    assert.match(nextForFailure('isolated', decideFailure('isolated', 1, limits), 2, limits), /left failed after 2 attempts/);
  });

  test('only a body served short of its size may be the object\'s own; a reset, a timeout or a 5xx never is', () => {
    assert.equal(mayBeIsolated(new ShortBodyError('object body cut off after 5 of 10 bytes')), true);
    assert.equal(mayBeIsolated(new FetchError('reading the object body failed after 5 bytes: aborted')), false);
    assert.equal(mayBeIsolated(Object.assign(new Error('InternalError'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } })), false);
  });
});

describe('the failure policy', () => {
  test('network, timeouts, 5xx, throttling and expired credentials are transient; refusals denied; only content spends attempts', () => {
    const aws = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    assert.equal(classifyFailure(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), 'transient');
    assert.equal(classifyFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), 'transient');
    assert.equal(classifyFailure(Object.assign(new Error('t'), { name: 'TimeoutError' })), 'transient');
    assert.equal(classifyFailure(aws('InternalError', 500)), 'transient');
    assert.equal(classifyFailure(aws('SlowDown', 503)), 'transient');
    assert.equal(classifyFailure(aws('ExpiredToken', 400)), 'transient');
    assert.equal(classifyFailure(new FetchError('body cut off')), 'transient');
    assert.equal(classifyFailure(aws('AccessDenied', 403)), 'denied');
    assert.equal(classifyFailure(aws('NoSuchKey', 404)), 'gone');
    assert.equal(classifyFailure(new ObjectError('not valid gzip')), 'content');
    assert.equal(classifyFailure(new OutputError('file:x', 'ENOSPC')), 'output');
    assert.equal(classifyFailure(new StateError('state: disk full')), 'state');

    const limits = { skipOnError: true, maxAttempts: 2 };
    for (const kind of ['transient', 'denied', 'output', 'state'] as const) {
      const decision = decideFailure(kind, 50, limits);
      assert.equal(decision.countsAttempt, false, kind);
      assert.equal(decision.next, 'retry', kind);
      assert.equal(decision.passOk, false, `${kind} fails the pass (exit 1)`);
    }
    assert.deepEqual(decideFailure('transient', 0, limits).halt, 'on-outage');
    assert.deepEqual(decideFailure('denied', 0, limits).halt, 'none', 'one refused object never blocks the rest');
    assert.deepEqual(decideFailure('output', 0, limits).halt, 'pass');
    assert.deepEqual(decideFailure('content', 0, limits), { countsAttempt: true, halt: 'none', passOk: true, next: 'retry' });
    assert.deepEqual(decideFailure('content', 1, limits), { countsAttempt: true, halt: 'none', passOk: true, next: 'give-up' });
    assert.deepEqual(decideFailure('content', 9, { skipOnError: false, maxAttempts: 2 }), { countsAttempt: true, halt: 'bucket', passOk: false, next: 'retry' });
    assert.deepEqual(decideFailure('gone', 0, limits), { countsAttempt: false, halt: 'none', passOk: true, next: 'nothing' });
  });

  test('bad lines stop the bucket only without skip_on_error; the error line says what happens next, case by case', () => {
    assert.equal(badLinesStopBucket(0, false), false);
    assert.equal(badLinesStopBucket(3, false), true);
    assert.equal(badLinesStopBucket(3, true), false);
    const skip = { skipOnError: true, maxAttempts: 3 };
    const strict = { skipOnError: false, maxAttempts: 3 };
    const next = (kind: Parameters<typeof decideFailure>[0], earlier: number, limits: typeof skip) =>
      nextForFailure(kind, decideFailure(kind, earlier, limits), earlier + (decideFailure(kind, earlier, limits).countsAttempt ? 1 : 0), limits);
    assert.equal(next('transient', 0, skip), "not the object's fault (transient): no attempt spent; it is read again next pass");
    assert.equal(next('denied', 0, skip), "not the object's fault (denied): no attempt spent; it is read again next pass");
    assert.equal(next('content', 0, strict), 'stopping this bucket (skip_on_error is no), it is read again next pass');
    assert.equal(next('content', 0, skip), 'skipped (skip_on_error), attempt 1 of 3, tried again next pass');
    assert.equal(next('content', 2, skip), 'skipped (skip_on_error), left failed after 3 attempts');
  });
});

describe('retryable', () => {
  test('without skip_on_error a failed object is always retried', () => {
    assert.equal(retryable(false, 0, 3), true);
    assert.equal(retryable(false, 3, 3), true);
    assert.equal(retryable(false, 100, 3), true);
    assert.equal(retryable(false, 5, 0), true);
  });

  test('under skip_on_error, retried while attempts are below the limit', () => {
    assert.equal(retryable(true, 0, 3), true);
    assert.equal(retryable(true, 2, 3), true);
  });

  test('under skip_on_error, not retried at or past the limit', () => {
    assert.equal(retryable(true, 3, 3), false);
    assert.equal(retryable(true, 4, 3), false);
    assert.equal(retryable(true, 0, 0), false);
  });
});

describe('nextReadOfFailed', () => {
  const skip = { skipOnError: true, maxAttempts: 3 };
  const strict = { skipOnError: false, maxAttempts: 3 };

  test('under skip_on_error, the attempt it will be, of the limit', () => {
    assert.deepEqual(nextReadOfFailed(0, skip, false), { kind: 'attempt', attempt: 1, of: 3 });
    assert.deepEqual(nextReadOfFailed(2, skip, false), { kind: 'attempt', attempt: 3, of: 3 });
  });

  test('without skip_on_error, every pass, rescan or not', () => {
    assert.deepEqual(nextReadOfFailed(7, strict, false), { kind: 'every-pass' });
    assert.deepEqual(nextReadOfFailed(7, strict, true), { kind: 'every-pass' });
  });

  test('a rescan names itself only for an object the policy has given up', () => {
    assert.deepEqual(nextReadOfFailed(3, skip, true), { kind: 'rescan' });
    assert.deepEqual(nextReadOfFailed(1, skip, true), { kind: 'attempt', attempt: 2, of: 3 });
  });
});
