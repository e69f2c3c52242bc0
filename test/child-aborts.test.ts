// Reads and the run's abandon signal (issue 13): many reads in flight share one listener on it, so that
// Node never warns of a listener leak (the CLI run with 32 reads in flight: process/lossless.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChildAborts } from '../src/concurrency.js';

describe('reads and the run\'s abandon signal', () => {
  test('reads share one listener on the run\'s abandon signal, removed when they end', () => {
    const parent = new AbortController();
    const aborts = new ChildAborts(parent.signal);
    const reads = Array.from({ length: 40 }, () => aborts.take());
    assert.equal(aborts.size, 40);
    reads.slice(0, 39).forEach((r) => r.release());
    parent.abort();
    assert.equal(reads[39]!.signal.aborted, true, 'a live read is aborted with the run');
    assert.equal(reads[0]!.signal.aborted, false, 'an ended read is left alone');
    reads[39]!.release();
    assert.equal(aborts.size, 0);
    assert.equal(aborts.take().signal.aborted, true, 'a read taken after the abort starts aborted');
  });
});
