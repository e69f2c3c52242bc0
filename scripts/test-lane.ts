// `npm test` and `npm run test:process`: node's test runner over the built files of one lane.
//
//   node dist/scripts/test-lane.js in-process|process [node --test options…]
//
// The lanes are folders. test/*.test.ts run in the test process: unit tests, and the pipeline run
// through its seams (BucketClient, Outputs, StateStore, the run context) against fauxqs in-process, on
// real sockets and files. test/process/*.test.ts start the CLI or other processes: signals, exit
// codes, stderr, strace, systemd-analyze, the Docker files, the 1 GiB object, the demo.
//
// Files run as many at once as the machine has cores; node's own default leaves one core idle
// (availableParallelism() - 1), which on this project's 2-core machine runs them one at a time. Measured
// there, the in-process lane: 16 s at 2, 26 s at node's default; 4 took 14 s, but twice as many files
// as cores makes the tests' own time bounds race each other, for little. A --test-concurrency given to
// the script wins.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/paths.js';

const LANES: Record<string, string> = { 'in-process': 'test', process: join('test', 'process') };

const [lane = '', ...options] = process.argv.slice(2);
const folder = LANES[lane];
if (folder === undefined) {
  process.stderr.write(`usage: node dist/scripts/test-lane.js ${Object.keys(LANES).join('|')} [node --test options…]\n`);
  process.exit(2);
}

// The sources name the files: dist/ may still hold the build of a test file since moved or removed.
const files = readdirSync(join(ROOT, folder))
  .filter((name) => name.endsWith('.test.ts'))
  .sort()
  .map((name) => join(ROOT, 'dist', folder, name.replace(/\.ts$/, '.js')));
const missing = files.filter((file) => !existsSync(file));
if (missing.length > 0) {
  process.stderr.write(`test-lane: not built (run npm run build): ${missing.join(', ')}\n`);
  process.exit(2);
}

const concurrency = options.some((option) => option.startsWith('--test-concurrency')) ? [] : [`--test-concurrency=${availableParallelism()}`];
const child = spawn(process.execPath, ['--test', ...concurrency, ...options, ...files], { stdio: 'inherit' });
// A stop asked of this runner (a CI timeout, Ctrl-C) reaches the test runner and its files too.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('close', (code) => process.exit(code ?? 1));
