// The progress bar of --once: on a terminal only, never on a pipe or in the logs; honest about totals,
// never on top of a log line, and the terminal left as it was found.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { wantsProgress } from '../src/progress-choice.js';
import { ProgressBar } from '../src/progress.js';
import type { PassOutcome } from '../src/run.js';
import { FAKE_AWS_ENV, runCli, writeConfig } from '../support/cli.js';
import { tempDir } from './helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../support/findings.js';
import { CLI, ROOT } from '../support/paths.js';
import { useFakeS3 } from '../support/s3.js';

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

/** A terminal as the bar sees it: a TTY stream that keeps every byte written to it. */
class FakeTerminal extends Writable {
  readonly isTTY = true;
  readonly columns = 100;
  bytes = '';

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.bytes += chunk.toString();
    done();
  }
}

/**
 * The lines a terminal shows after these bytes: `\r` goes to the first column, `\n` to the next line,
 * `ESC [ K` erases to the end of the line, other escape sequences change nothing visible, and any other
 * character overwrites the one under the cursor. What one write hid under another is gone, as on a screen.
 */
function screenOf(bytes: string): string[] {
  const lines: string[][] = [[]];
  let row = 0;
  let col = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === '\r') col = 0;
    else if (c === '\n') {
      row++;
      col = 0;
      lines[row] ??= [];
    } else if (c === '\x1b') {
      const csi = /^\x1b\[\??[0-9;]*[A-Za-z]/.exec(bytes.slice(i)) ?? /^\x1b./.exec(bytes.slice(i));
      const seq = csi![0];
      if (seq === '\x1b[K') lines[row]!.length = col;
      i += seq.length - 1;
    } else {
      const line = lines[row]!;
      while (line.length < col) line.push(' ');
      line[col++] = c;
    }
  }
  return lines.map((l) => l.join('').trimEnd()).filter((l) => l !== '');
}

function outcome(listed: number): PassOutcome {
  const summary: PassOutcome['buckets'][number] = { interrupted: null, left: 0, bucket: 'b', layout: 'native' as const, ok: true, partitions: 1, listed, new: listed, retried: 0, done: listed, failed: 0, events: 0, discarded: 0, skipped: 0, malformed: 0, bytes: 0, deleted: 0, durationMs: 5 };
  return { ok: true, outputFailure: null, buckets: [summary] };
}

describe('progress bar', () => {
  test('shown only for --once on a terminal, and not at debug or trace', () => {
    assert.equal(wantsProgress({ once: true, logLevel: 'info' }, { isTTY: true }), true);
    assert.equal(wantsProgress({ once: true, logLevel: 'info' }, { isTTY: false }), false);
    assert.equal(wantsProgress({ once: true, logLevel: 'info' }, {}), false);
    assert.equal(wantsProgress({ once: false, logLevel: 'info' }, { isTTY: true }), false);
    assert.equal(wantsProgress({ once: true, logLevel: 'debug' }, { isTTY: true }), false);
  });

  test('no total while listing, the bar once listing ended, cleared around log lines, the terminal restored at the end', () => {
    const terminal = new FakeTerminal();
    // The logger writes where the CLI's does: the same terminal, behind the bar's back.
    const log = pino({ base: null, timestamp: false }, { write: (line: string) => terminal.write(line) });
    const bar = new ProgressBar(terminal, { log, redrawMs: 60_000 });
    bar.passStarted();
    assert.match(terminal.bytes, /listing… 0 objects found/);
    bar.s3Request('b', 'list');
    for (let i = 0; i < 3; i++) {
      bar.objectListed('b');
      bar.objectToRead();
    }
    bar.objectSettled('b', 'done', 100, 2);
    const beforeLog = terminal.bytes.length;
    log.info('a warning while the listing goes on');
    const aroundLog = terminal.bytes.slice(beforeLog);
    assert.ok(aroundLog.startsWith('\r\x1b[K{'), `the bar is cleared before the log line: ${JSON.stringify(aroundLog)}`);
    assert.match(aroundLog, /\n\rlisting… 3 objects found, 3 to read \| 1 read \| 2 events\x1b\[K$/, 'and drawn again after it');
    assert.doesNotMatch(terminal.bytes, /\d+\/\d+|%/, 'no total and no percentage while listing');

    bar.listingFinished('b');
    assert.match(terminal.bytes, /objects 1\/3 \[=+-+\] 33% \| 2 events/);
    bar.objectSettled('b', 'done', 100, 2);
    bar.objectSettled('b', 'done', 100, 2);
    log.info({ listed: 3 }, 'bucket pass done (native): 1 partitions, 3 objects listed');
    const beforeStop = terminal.bytes.length;
    bar.passFinished(outcome(3));
    const atStop = terminal.bytes.slice(beforeStop);
    assert.ok(atStop.startsWith('\r\x1b[K'), `the bar is cleared before its final line: ${JSON.stringify(atStop)}`);
    assert.match(atStop, /^\r\x1b\[Kobjects 3\/3 \[={30}\] 100% \| 6 events in [\d.hms]+\n/);
    assert.ok(atStop.endsWith('\x1b[?25h\x1b[?7h'), 'cursor shown and autowrap on when it stops');
    assert.doesNotMatch(terminal.bytes, /\x1b\[\?7l/, 'autowrap is never turned off');
    assert.doesNotMatch(terminal.bytes, /0\/0/);

    // What stays on the screen: each log line whole, on its own line, and the final bar last.
    const screen = screenOf(terminal.bytes);
    assert.equal(screen.length, 3, screen.join('\n'));
    assert.deepEqual(JSON.parse(screen[0]!), { level: 30, msg: 'a warning while the listing goes on' });
    assert.deepEqual(JSON.parse(screen[1]!), { level: 30, listed: 3, msg: 'bucket pass done (native): 1 partitions, 3 objects listed' });
    assert.match(screen[2]!, /^objects 3\/3 \[={30}\] 100% \| 6 events in [\d.hms]+$/);

    // After the stop the bar stays off the terminal.
    const after = terminal.bytes.length;
    log.info('after the pass');
    assert.equal(terminal.bytes.slice(after), '{"level":30,"msg":"after the pass"}\n');
  });

  test('a pass that finds nothing, or is stopped before the end, says so: never 0/0 or 100% of less', () => {
    const empty = new FakeTerminal();
    const bar = new ProgressBar(empty, { redrawMs: 60_000 });
    bar.passStarted();
    bar.s3Request('b', 'list');
    bar.passFinished(outcome(0));
    assert.deepEqual(screenOf(empty.bytes), ['no objects found']);
    assert.doesNotMatch(empty.bytes, /0\/0|%/);

    const known = new FakeTerminal();
    const again = new ProgressBar(known, { redrawMs: 60_000 });
    again.passStarted();
    again.objectListed('b');
    again.objectListed('b');
    again.listingFinished('b');
    assert.doesNotMatch(known.bytes, /0\/0|%/);
    again.passFinished(outcome(2));
    assert.deepEqual(screenOf(known.bytes), ['2 objects found, nothing new to read']);

    const stopped = new FakeTerminal();
    const cut = new ProgressBar(stopped, { redrawMs: 60_000 });
    cut.passStarted();
    for (let i = 0; i < 4; i++) {
      cut.objectListed('b');
      cut.objectToRead();
    }
    cut.objectSettled('b', 'done', 1, 1);
    cut.passFinished(outcome(4));
    assert.match(screenOf(stopped.bytes).at(-1)!, /^objects 1\/4 \[=+-+\] 25% \| 1 events \| 3 left for the next pass in [\d.hms]+$/);
  });

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
