// The collector's command line, parsed in this process (src/cli-options.ts): a flag given a value it
// cannot take is a ConfigError naming flag and value, which the CLI prints as one line with exit 2
// (that path, through the built CLI: process/command-line-errors.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCli, USAGE } from '../src/cli-options.js';
import { ConfigError } from '../src/errors.js';

describe('the command line', () => {
  test('--max-empty-passes takes a whole number from 1', () => {
    for (const bad of ['0', '-1', '1.5', 'two']) {
      assert.throws(
        () => parseCli([`--max-empty-passes=${bad}`, '--once']),
        (err) => err instanceof ConfigError && new RegExp(`--max-empty-passes ${bad.replace('.', '\\.')}: use a whole number from 1`).test(err.message),
        bad,
      );
    }
    assert.equal(parseCli(['--max-empty-passes=3', '--once']).maxEmptyPasses, 3);
    assert.match(USAGE, /--max-empty-passes N/);
  });

  test('--rescan-since takes a day that exists, as YYYY-MM-DD', () => {
    assert.throws(() => parseCli(['--rescan-since', '2026-02-30', '--once']), (err) => err instanceof ConfigError && /--rescan-since 2026-02-30: use a day as YYYY-MM-DD/.test(err.message));
    assert.equal(parseCli(['--rescan-since', '2026-02-28', '--once']).rescanSince, '2026-02-28');
  });
});
