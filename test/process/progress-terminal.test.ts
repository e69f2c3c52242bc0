// The progress bar of --once where a terminal sees it: a process that exits mid-pass leaves the terminal
// as it found it, and the CLI on a pseudo-terminal (util-linux `script`) draws the bar to the end without
// covering a log line, while on a pipe it writes nothing but JSON logs. The bar itself: progress.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FAKE_AWS_ENV, runCli, writeConfig } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { CLI, ROOT } from '../../support/paths.js';
import { useFakeS3 } from '../../support/s3.js';
import { tempDir } from '../helpers/files.js';
import { screenOf } from '../helpers/terminal.js';

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
  test('a process that exits mid-pass clears the bar, shows the cursor and turns autowrap on', async () => {
    const progress = pathToFileURL(join(ROOT, 'dist', 'src', 'progress.js')).href;
    const script = `
      import { ProgressBar } from ${JSON.stringify(progress)};
      const terminal = { isTTY: true, columns: 80, write: (s) => process.stdout.write(s) };
      const bar = new ProgressBar(terminal);
      bar.passStarted();
      bar.objectListed('b');
      process.exit(3);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 3, err);
    assert.ok(out.startsWith('\x1b[?25l\rlisting… 0 objects found'), JSON.stringify(out));
    assert.ok(out.endsWith('\r\x1b[K\x1b[?25h\x1b[?7h'), JSON.stringify(out));
  });

  test('a --once backfill on a terminal draws the bar to the end without covering a log line; on a pipe nothing but JSON logs', async () => {
    const bucket = 'gd-progress';
    fake.s3.createBucket(bucket);
    for (let i = 0; i < 5; i++) await fake.s3.put(bucket, nativeKey('777777777777', 'us-east-1', today()), jsonlGz([makeFinding('777777777777', 'us-east-1', `p${i}`)]));
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const args = (state: string) => ['--config', config, '--once', '--state', join(dir, state), '--output', `file:${join(dir, `${state}.out`)}`];
    const terminal = await onTerminal(args('tty.db'));
    assert.equal(terminal.code, 0, terminal.screen);
    assert.match(terminal.screen, /objects 5\/5 \[=+\] 100% \| 5 events/);
    assert.doesNotMatch(terminal.screen, /0\/0/);
    assert.match(terminal.screen, /\x1b\[\?7h/, 'autowrap on when the bar stops');
    assert.doesNotMatch(terminal.screen, /\x1b\[\?7l/);
    // What stays on the screen: whole JSON log lines, and the final bar on a line of its own after the pass line.
    const screen = screenOf(terminal.screen);
    const bars = screen.flatMap((line, i) => (/^objects 5\/5 \[={30}\] 100% \| 5 events in [\d.hms]+$/.test(line) ? [i] : []));
    assert.equal(bars.length, 1, screen.join('\n'));
    for (const [i, line] of screen.entries()) {
      if (i !== bars[0]) assert.doesNotThrow(() => JSON.parse(line), `a log line drawn over or cut: ${JSON.stringify(line)}`);
    }
    const pass = screen.findIndex((line) => line.includes('"msg":"bucket pass done'));
    assert.ok(pass >= 0 && pass < bars[0]!, screen.join('\n'));
    assert.equal(JSON.parse(screen[pass]!)['listed'], 5);

    const piped = await runCli(args('pipe.db'));
    assert.equal(piped.code, 0, piped.stderr);
    assert.doesNotMatch(piped.stderr, /objects \d+\/\d+ \[|listing…/);
    for (const line of piped.stderr.trim().split('\n')) assert.ok(line.startsWith('{'), `not a JSON log line: ${line}`);
  });
});
