// The progress bar of --once: on a terminal only, never on a pipe or in the logs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { wantsProgress } from '../src/progress-choice.js';
import { FAKE_AWS_ENV, runCli, tempDir, writeConfig } from './helpers/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from './helpers/findings.js';
import { CLI } from './helpers/paths.js';
import { useFakeS3 } from './helpers/s3.js';

const fake = useFakeS3();

/** Runs the CLI with a pseudo-terminal as its stdin, stdout and stderr (util-linux `script`). */
function onTerminal(args: string[]): Promise<{ code: number | null; screen: string }> {
  const quoted = [CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-q', '-e', '-c', quoted, '/dev/null'], { env: { ...process.env, ...FAKE_AWS_ENV, TERM: 'xterm' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let screen = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (screen += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (screen += chunk));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, screen })));
}

describe('progress bar', () => {
  test('shown only for --once on a terminal, and not at debug or trace', () => {
    assert.equal(wantsProgress({ once: true, logLevel: 'info' }, { isTTY: true }), true);
    assert.equal(wantsProgress({ once: true, logLevel: 'info' }, { isTTY: false }), false);
    assert.equal(wantsProgress({ once: true, logLevel: 'info' }, {}), false);
    assert.equal(wantsProgress({ once: false, logLevel: 'info' }, { isTTY: true }), false);
    assert.equal(wantsProgress({ once: true, logLevel: 'debug' }, { isTTY: true }), false);
  });

  test('a --once backfill on a terminal draws the bar to the end; on a pipe nothing but JSON logs', async () => {
    const bucket = 'gd-progress';
    fake.s3.createBucket(bucket);
    for (let i = 0; i < 5; i++) await fake.s3.put(bucket, nativeKey('777777777777', 'us-east-1', today()), jsonlGz([makeFinding('777777777777', 'us-east-1', `p${i}`)]));
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const args = (state: string) => ['--config', config, '--once', '--state', join(dir, state), '--output', `file:${join(dir, `${state}.out`)}`];
    const terminal = await onTerminal(args('tty.db'));
    assert.equal(terminal.code, 0, terminal.screen);
    assert.match(terminal.screen, /objects 5\/5 \[=+\] 100% \| 5 events/);
    const piped = await runCli(args('pipe.db'));
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, /objects \d+\/\d+ \[/);
    for (const line of piped.stderr.trim().split('\n')) assert.ok(line.startsWith('{'), `not a JSON log line: ${line}`);
  });
});
