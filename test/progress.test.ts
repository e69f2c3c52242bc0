// The progress bar of --once: on a terminal only, never on a pipe or in the logs; honest about totals,
// never on top of a log line, and the terminal left as it was found. Drawn here on a stand-in terminal;
// a process exiting mid-pass, and the CLI on a real pseudo-terminal: process/progress-terminal.test.ts.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import pino from 'pino';
import { wantsProgress } from '../src/progress-choice.js';
import { ProgressBar } from '../src/progress.js';
import type { PassOutcome } from '../src/vocabulary.js';
import { screenOf } from './helpers/terminal.js';

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

function outcome(listed: number): PassOutcome {
  const summary: PassOutcome['buckets'][number] = { interrupted: null, left: 0, bucket: 'b', layout: 'native' as const, ok: true, partitions: 1, listed, new: listed, retried: 0, done: listed, failed: 0, events: 0, critical: 0, suppressed: 0, discarded: 0, skipped: 0, malformed: 0, bytes: 0, deleted: 0, durationMs: 5 };
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
});
