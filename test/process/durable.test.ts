// `file:` outputs are durable before the state records what they hold: the built CLI runs `--once`
// under strace (no mock of the file system), and the order of its system calls is read back: each
// object's lines are written to the output file, then an fdatasync of that file ends, and only then
// does the state database (state.db-wal, or state.db) receive the row that records the object.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import { FAKE_AWS_ENV, runCli, writeConfig } from '../../support/cli.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { CLI } from '../../support/paths.js';
import { useFakeS3 } from '../../support/s3.js';
import { stateRows } from '../helpers/state.js';

const ACCOUNT = '555555555555';
const REGIONS = ['us-east-1', 'eu-west-1'];
const OBJECTS = 40;
const PER_OBJECT = 2;

const fake = useFakeS3();

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** strace, if it is installed and may trace here; otherwise why the test is skipped (nothing is installed). */
async function findStrace(): Promise<{ path: string } | { skip: string }> {
  const path = ['/usr/bin', ...(process.env['PATH'] ?? '').split(delimiter)].map((dir) => join(dir, 'strace')).find((p) => existsSync(p));
  if (!path) return { skip: 'strace is not installed (this test installs nothing)' };
  const probe = await run(path, ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync', 'true']);
  if (probe.code !== 0) return { skip: `strace cannot trace here (ptrace refused?): ${probe.stderr.trim()}` };
  return { path };
}

const strace = await findStrace();

interface Call {
  pid: string;
  syscall: string;
  /** The file its first argument names (strace -y), '' if none. */
  path: string;
  /** What strace printed of the arguments: the data written, escaped. */
  args: string;
  /** Trace lines where the call began and where it returned (the same line unless another thread interleaved). */
  start: number;
  end: number;
  result: string;
}

/** The calls of an `strace -f -y -o` trace, in order, with the unfinished/resumed halves joined. */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, Call>();
  text.split('\n').forEach((line, index) => {
    const resumed = /^(\d+)\s+<\.\.\. (\w+) resumed>.*\)\s+=\s+(-?\d+(?: \w+ \([^)]*\))?)$/.exec(line);
    if (resumed) {
      const call = open.get(resumed[1]!);
      assert.ok(call && call.syscall === resumed[2], `trace line ${index + 1} resumes a call never started: ${line.slice(0, 200)}`);
      call.end = index;
      call.result = resumed[3]!;
      open.delete(resumed[1]!);
      return;
    }
    const started = /^(\d+)\s+(\w+)\((?:\d+<((?:[^>\\]|\\.)*)>)?(.*)$/.exec(line);
    if (!started) return;
    const call: Call = { pid: started[1]!, syscall: started[2]!, path: started[3] ?? '', args: started[4]!, start: index, end: index, result: '' };
    calls.push(call);
    const finished = /\)\s+=\s+(-?\d+(?: \w+ \([^)]*\))?)$/.exec(call.args);
    if (call.args.endsWith('<unfinished ...>')) open.set(call.pid, call);
    else if (finished) call.result = finished[1]!;
  });
  return calls;
}

function ok(call: Call): boolean {
  return /^\d+/.test(call.result);
}

describe('file: outputs are on disk before the state records their objects', () => {
  test(
    `under strace: every object's lines are written, then fdatasync'd, before the state's row for it is written (${OBJECTS} objects, 8 at a time)`,
    { skip: 'skip' in strace ? strace.skip : false, timeout: 180_000 },
    async (t) => {
      const straceBin = (strace as { path: string }).path;
      const dir = realpathSync(tempDir());
      const bucket = 'gd-durable';
      fake.s3.createBucket(bucket);
      // The object's key is in each of its events (aws.log_info.log_file) and in its state row; the
      // UUID file name tells objects apart in both.
      const names: string[] = [];
      const ids: string[] = [];
      for (let o = 0; o < OBJECTS; o++) {
        const region = REGIONS[o % REGIONS.length]!;
        const name = `${String(o).padStart(8, '0')}-d00d-4000-8000-${String(o).padStart(12, '0')}.jsonl.gz`;
        const findings = Array.from({ length: PER_OBJECT }, (_, f) => makeFinding(ACCOUNT, region, `durable-${o}-${f}`));
        ids.push(...findings.map((f) => f.id));
        names.push(name);
        await fake.s3.put(bucket, nativeKey(ACCOUNT, region, today(), name), jsonlGz(findings));
      }
      const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
      // Not there yet: the output creates it, so its directory entry must be made durable too (in a
      // directory of its own: SQLite fsyncs the state's directory itself).
      const outDir = join(dir, 'out');
      mkdirSync(outDir);
      const out = join(outDir, 'events.jsonl');
      const state = join(dir, 'state.db');
      const trace = join(dir, 'trace.txt');
      const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
      const cli = await run(
        straceBin,
        [
          '-f', '-y', '-qq', '-s', '16777216', '-o', trace,
          '-e', 'trace=write,writev,pwrite64,pwritev,pwritev2,fdatasync,fsync',
          CLI, '--config', config, '--once', '--state', state, '--output', `file:${out}`, '--concurrency', '8',
        ],
        { ...clean, ...FAKE_AWS_ENV },
      );
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id as string).sort(), [...ids].sort());
      assert.equal(stateRows(state).filter((row) => row.status === 'done').length, OBJECTS);

      const calls = parseTrace(readFileSync(trace, 'utf8'));
      const writes = calls.filter((c) => c.path === out && /^(p?writev?|pwritev2|pwrite64)$/.test(c.syscall));
      const syncs = calls.filter((c) => c.path === out && (c.syscall === 'fdatasync' || c.syscall === 'fsync'));
      const stateWrites = calls.filter((c) => (c.path === state || c.path === `${state}-wal` || c.path === `${state}-journal`) && c.syscall.startsWith('pwrite'));
      assert.ok(writes.length > 0, 'no write to the output file in the trace');
      assert.ok(writes.every(ok) && syncs.every(ok), 'a write or fdatasync of the output file failed');
      // strace printed every byte written (no "..." after the data), so each object's key can be looked for.
      assert.ok(writes.every((w) => !/(?<!\\)"\.\.\.,/.test(w.args)), 'strace cut the data written short');
      assert.equal(writes.reduce((sum, w) => sum + Number(w.result), 0), readFileSync(out).length);
      t.diagnostic(`${writes.length} writes and ${syncs.length} fdatasyncs of the output file for ${OBJECTS} objects`);
      // One fdatasync per write batch at most, never one per object more than batches.
      assert.ok(syncs.length <= writes.length, `${syncs.length} fdatasyncs for ${writes.length} writes`);

      for (const name of names) {
        const wrote = writes.filter((w) => w.args.includes(name));
        assert.ok(wrote.length > 0, `no write of ${name}'s events to the output`);
        const written = Math.max(...wrote.map((w) => w.end));
        const recorded = stateWrites.find((w) => w.args.includes(name));
        assert.ok(recorded, `the state never received ${name}`);
        const synced = syncs.find((s) => s.start > written && s.end < recorded.start);
        assert.ok(
          synced,
          `${name}: no fdatasync of ${out} between the end of its last write (trace line ${written + 1}) and the state write recording it (line ${recorded.start + 1})`,
        );
      }

      // The file was created by this run: its directory was fsync'd before the first object was recorded.
      const firstRecorded = Math.min(...names.map((name) => stateWrites.find((w) => w.args.includes(name))!.start));
      const dirSync = calls.find((c) => c.path === outDir && c.syscall === 'fsync');
      assert.ok(dirSync && ok(dirSync), `no fsync of the output's directory ${outDir}`);
      assert.ok(dirSync.end < firstRecorded, 'the directory was fsync\'d only after an object was recorded');
    },
  );

  test('file:/dev/null (not a regular file, nothing to fdatasync) still takes every event and records every object', async () => {
    const dir = tempDir();
    const bucket = 'gd-durable-null';
    fake.s3.createBucket(bucket);
    for (let o = 0; o < 5; o++) await fake.s3.put(bucket, nativeKey(ACCOUNT, REGIONS[0]!, today()), jsonlGz([makeFinding(ACCOUNT, REGIONS[0]!, `null-${o}`)]));
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const state = join(dir, 'state.db');
    const result = await runCli(['--config', config, '--once', '--state', state, '--output', 'file:/dev/null']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(stateRows(state).filter((row) => row.status === 'done').length, 5);
  });
});
