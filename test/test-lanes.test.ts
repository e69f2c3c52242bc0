// The two lanes stay what scripts/test-lane.ts says they are: a test file in test/ (npm test) starts no
// process, so that the lane keeps to its time; one that starts the CLI or another program belongs in
// test/process/ (npm run test:process). Read from the test sources, as a reviewer would.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../support/paths.js';

/** What starts a process: node's child_process, the CLI launcher's starts, the helpers built on them. */
const STARTS_A_PROCESS = [
  /from 'node:child_process'/,
  /\b(runCli|startCli|bucketOnDisk)\(/,
  /from '\.\/helpers\/processes\.js'/,
];

function testFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder)).filter((name) => name.endsWith('.test.ts'));
}

test('no test file of the in-process lane starts a process', () => {
  const files = testFiles('test');
  assert.ok(files.length > 30, `${files.length} files in test/`);
  // This file names the patterns it looks for, and starts nothing.
  const starting = files.filter((name) => name !== 'test-lanes.test.ts').filter((name) => {
    const source = readFileSync(join(ROOT, 'test', name), 'utf8');
    return STARTS_A_PROCESS.some((pattern) => pattern.test(source));
  });
  assert.deepEqual(starting, [], 'these start processes: they belong in test/process/');
});

test('every test file of the process lane starts one (else it belongs in the faster lane)', () => {
  const files = testFiles(join('test', 'process'));
  assert.ok(files.length > 20, `${files.length} files in test/process/`);
  const helpers = ['processes.js', 'collector-runs.js'].map((helper) => new RegExp(`from '\\.\\./helpers/${helper.replace('.', '\\.')}'`));
  const idle = files.filter((name) => {
    const source = readFileSync(join(ROOT, 'test', 'process', name), 'utf8');
    return !STARTS_A_PROCESS.some((pattern) => pattern.test(source)) && !helpers.some((pattern) => pattern.test(source));
  });
  assert.deepEqual(idle, []);
});
