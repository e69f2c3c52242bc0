import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judgeKey, type KeyFacts } from '../src/policy/verdict.js';
import type { KnownObject } from '../src/state/store.js';

function facts(overrides: Partial<KeyFacts> = {}): KeyFacts {
  return {
    folder: '2026-03-04',
    excluded: null,
    onlyLogsAfter: null,
    known: undefined,
    windowStart: '2026-03-01',
    skipOnError: true,
    maxAttempts: 3,
    rescan: false,
    ...overrides,
  };
}

function done(deletePending = false): KnownObject {
  return { status: 'done', deletePending, etag: '"done-etag"', attempts: 0, delivered: 0 };
}

function failed(attempts: number, delivered = 0): KnownObject {
  return { status: 'failed', deletePending: false, etag: '"failed-etag"', attempts, delivered };
}

describe('judgeKey: outside the layout', () => {
  test('a key with no folder is outside the layout', () => {
    assert.deepEqual(judgeKey(facts({ folder: null })), { read: false, why: 'outside-layout' });
  });

  test('outside-layout is checked before everything else', () => {
    assert.deepEqual(
      judgeKey(facts({ folder: null, excluded: 'account-not-configured', onlyLogsAfter: '2026-01-01', known: done(true), windowStart: null })),
      { read: false, why: 'outside-layout' },
    );
  });
});

describe('judgeKey: configuration exclusions', () => {
  for (const excluded of ['account-not-configured', 'region-not-configured', 'not-a-region'] as const) {
    test(`${excluded} is the verdict`, () => {
      assert.deepEqual(judgeKey(facts({ excluded })), { read: false, why: excluded });
    });
  }

  test('an exclusion comes before only_logs_after', () => {
    assert.deepEqual(
      judgeKey(facts({ excluded: 'region-not-configured', folder: '2026-01-01', onlyLogsAfter: '2026-02-01' })),
      { read: false, why: 'region-not-configured' },
    );
  });

  test('an exclusion comes before the state row (done or failed)', () => {
    assert.deepEqual(judgeKey(facts({ excluded: 'not-a-region', known: done(true) })), { read: false, why: 'not-a-region' });
    assert.deepEqual(judgeKey(facts({ excluded: 'account-not-configured', known: failed(1) })), { read: false, why: 'account-not-configured' });
  });

  test('an exclusion comes before the window', () => {
    assert.deepEqual(
      judgeKey(facts({ excluded: 'account-not-configured', folder: '2026-02-01', windowStart: '2026-03-01' })),
      { read: false, why: 'account-not-configured' },
    );
  });
});

describe('judgeKey: only_logs_after', () => {
  test('a day folder before only_logs_after is not read', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-09', onlyLogsAfter: '2026-01-10', windowStart: null })), {
      read: false,
      why: 'before-only-logs-after',
    });
  });

  test('an hour folder of the day before only_logs_after is not read', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-09T23', onlyLogsAfter: '2026-01-10', windowStart: null })), {
      read: false,
      why: 'before-only-logs-after',
    });
  });

  test('the day of only_logs_after itself is read (day and hour folders)', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-10', onlyLogsAfter: '2026-01-10', windowStart: null })), {
      read: true,
      why: 'new',
      resume: undefined,
    });
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-10T00', onlyLogsAfter: '2026-01-10', windowStart: null })), {
      read: true,
      why: 'new',
      resume: undefined,
    });
  });

  test('before-only-logs-after comes before a done row', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-05', onlyLogsAfter: '2026-01-10', known: done(true) })), {
      read: false,
      why: 'before-only-logs-after',
    });
  });

  test('before-only-logs-after comes before a failed-final row', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-05', onlyLogsAfter: '2026-01-10', known: failed(3) })), {
      read: false,
      why: 'before-only-logs-after',
    });
  });

  test('before-only-logs-after applies to a key a notification named (windowStart null)', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-01-05', onlyLogsAfter: '2026-01-10', windowStart: null })), {
      read: false,
      why: 'before-only-logs-after',
    });
  });
});

describe('judgeKey: done', () => {
  test('a done key is not read, no delete pending', () => {
    assert.deepEqual(judgeKey(facts({ known: done(false) })), { read: false, why: 'done', deletePending: false });
  });

  test('a done key is not read, delete pending', () => {
    assert.deepEqual(judgeKey(facts({ known: done(true) })), { read: false, why: 'done', deletePending: true });
  });

  test('a rescan does not read a done key again', () => {
    assert.deepEqual(judgeKey(facts({ known: done(false), rescan: true })), { read: false, why: 'done', deletePending: false });
  });

  test('a done key named by a notification (windowStart null) is still done', () => {
    assert.deepEqual(judgeKey(facts({ known: done(true), windowStart: null })), { read: false, why: 'done', deletePending: true });
  });
});

describe('judgeKey: failed objects', () => {
  test('at the limit under skip_on_error: failed-final', () => {
    assert.deepEqual(judgeKey(facts({ known: failed(3), maxAttempts: 3, skipOnError: true })), { read: false, why: 'failed-final' });
  });

  test('past the limit under skip_on_error: failed-final', () => {
    assert.deepEqual(judgeKey(facts({ known: failed(7), maxAttempts: 3, skipOnError: true })), { read: false, why: 'failed-final' });
  });

  test('below the limit under skip_on_error: retry, resuming from the row', () => {
    const known = failed(2, 5);
    const verdict = judgeKey(facts({ known, maxAttempts: 3, skipOnError: true }));
    assert.deepEqual(verdict, { read: true, why: 'retry', resume: { status: 'failed', deletePending: false, etag: '"failed-etag"', attempts: 2, delivered: 5 } });
    assert.ok(verdict.read);
    assert.equal(verdict.resume, known);
  });

  test('with rescan, a failed-final object is read again: retry, resume the known row', () => {
    const known = failed(3, 4);
    const verdict = judgeKey(facts({ known, maxAttempts: 3, skipOnError: true, rescan: true }));
    assert.deepEqual(verdict, { read: true, why: 'retry', resume: { status: 'failed', deletePending: false, etag: '"failed-etag"', attempts: 3, delivered: 4 } });
    assert.ok(verdict.read);
    assert.equal(verdict.resume, known);
  });

  test('without skip_on_error a failed object is always retried, whatever its attempts', () => {
    const known = failed(50, 1);
    const verdict = judgeKey(facts({ known, maxAttempts: 3, skipOnError: false }));
    assert.deepEqual(verdict, { read: true, why: 'retry', resume: { status: 'failed', deletePending: false, etag: '"failed-etag"', attempts: 50, delivered: 1 } });
    assert.ok(verdict.read);
    assert.equal(verdict.resume, known);
  });

  test('a known failed key inside the window: retry with the row', () => {
    const known = failed(1);
    const verdict = judgeKey(facts({ folder: '2026-03-01', windowStart: '2026-03-01', known }));
    assert.deepEqual(verdict, { read: true, why: 'retry', resume: known });
    assert.ok(verdict.read);
    assert.equal(verdict.resume, known);
  });
});

describe('judgeKey: the window', () => {
  test('a day folder before windowStart is not read', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-28', windowStart: '2026-03-01' })), { read: false, why: 'before-window' });
  });

  test('the day folder of windowStart itself is read', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-03-01', windowStart: '2026-03-01' })), { read: true, why: 'new', resume: undefined });
  });

  test('an hour folder before windowStart is not read', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-03-01T05', windowStart: '2026-03-01T06' })), { read: false, why: 'before-window' });
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-28T23', windowStart: '2026-03-01T00' })), { read: false, why: 'before-window' });
  });

  test('the hour folder of windowStart and later are read', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-03-01T06', windowStart: '2026-03-01T06' })), { read: true, why: 'new', resume: undefined });
    assert.deepEqual(judgeKey(facts({ folder: '2026-03-01T07', windowStart: '2026-03-01T06' })), { read: true, why: 'new', resume: undefined });
  });

  test('folders compare by time across month and year boundaries', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-12-31T23', windowStart: '2027-01-01T00' })), { read: false, why: 'before-window' });
    assert.deepEqual(judgeKey(facts({ folder: '2027-01-01', windowStart: '2026-12-31' })), { read: true, why: 'new', resume: undefined });
  });

  test('a key named by a notification (windowStart null) is read whatever its folder', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2001-01-01', windowStart: null })), { read: true, why: 'new', resume: undefined });
    assert.deepEqual(judgeKey(facts({ folder: '2001-01-01T03', windowStart: null })), { read: true, why: 'new', resume: undefined });
    const known = failed(1);
    assert.deepEqual(judgeKey(facts({ folder: '2001-01-01', windowStart: null, known })), { read: true, why: 'retry', resume: known });
  });

  test('a rescan does not read a failed-final key before the window', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-01', windowStart: '2026-03-01', known: failed(3), rescan: true })), {
      read: false,
      why: 'before-window',
    });
  });
});

describe('judgeKey: a new key', () => {
  test('is read, why new, resume undefined', () => {
    const verdict = judgeKey(facts());
    assert.deepEqual(verdict, { read: true, why: 'new', resume: undefined });
    assert.ok(verdict.read);
    assert.ok('resume' in verdict);
    assert.equal(verdict.resume, undefined);
  });
});

describe('judgeKey: precedence against the window', () => {
  test('a done key before the window is done', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-01', windowStart: '2026-03-01', known: done(true) })), {
      read: false,
      why: 'done',
      deletePending: true,
    });
  });

  test('a failed-final key before the window is failed-final', () => {
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-01', windowStart: '2026-03-01', known: failed(3) })), {
      read: false,
      why: 'failed-final',
    });
  });

  test('a retryable failed key before the window is retried (by key: the window does not wait for it)', () => {
    const once = failed(1);
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-01', windowStart: '2026-03-01', known: once })), { read: true, why: 'retry', resume: once });
    const often = failed(9);
    assert.deepEqual(judgeKey(facts({ folder: '2026-02-01', windowStart: '2026-03-01', known: often, skipOnError: false })), {
      read: true,
      why: 'retry',
      resume: often,
    });
  });
});
