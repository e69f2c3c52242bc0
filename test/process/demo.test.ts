// `npm run demo` as the README runs it: events on stdout, and on stderr the pass line and a closing line
// whose numbers add up.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, readSample, sampleNames } from '../../support/paths.js';

test('npm run demo: events on stdout; on stderr the pass line and a closing line that adds up; exit 0', async () => {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'demo.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { integration: string; aws: Record<string, any> });
  assert.ok(events.length > 40);
  assert.ok(events.every((e) => e.integration === 'aws' && e.aws['source'] === 'guardduty'));
  assert.ok(new Set(events.map((e) => e.aws['accountId'])).size >= 4, 'sample accounts and three generated ones');
  assert.ok(new Set(events.map((e) => e.aws['region'])).size >= 3);
  const sampleIds = sampleNames()
    .map((name) => JSON.parse(readSample(name)) as Record<string, unknown>)
    .filter((doc) => typeof doc['id'] === 'string' && typeof doc['type'] === 'string')
    .map((doc) => doc['id']);
  for (const id of sampleIds) assert.ok(events.some((e) => e.aws['id'] === id), `sample finding ${String(id)} is in the demo`);

  // stderr: the collector's own pass line, then the closing line, whose numbers add up.
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 2, stderr);
  const pass = JSON.parse(lines[0]!) as Record<string, any>;
  assert.match(pass['msg'], /^bucket pass done \(native\): /);
  const closing =
    /^demo: (\d+) events on stdout = (\d+) findings \((\d+) public samples \+ (\d+) generated\) \+ (\d+) more from port probes split one event per probe; (\d+) objects put, (\d+) listed, (\d+) done, in (\d+) account\/region partitions of s3:\/\/demo-guardduty-exports, in (\d+) ms$/.exec(
      lines[1]!,
    );
  assert.ok(closing, lines[1]);
  const [shown, findings, samples, generated, split, put, listed, done, partitions, ms] = closing.slice(1).map(Number) as number[];
  // With the events on stdout: one event per finding, and one more per extra port-probe detail.
  assert.equal(shown, events.length);
  assert.equal(findings, samples! + generated!);
  assert.equal(shown, findings! + split!);
  const perFinding = new Map<string, number>();
  for (const e of events) perFinding.set(e.aws['id'], (perFinding.get(e.aws['id']) ?? 0) + 1);
  assert.equal(perFinding.size, findings, 'one finding per id');
  assert.equal([...perFinding.values()].reduce((sum, count) => sum + count - 1, 0), split);
  assert.ok(split! >= 1, 'the port-probe sample is split');
  assert.equal(samples, sampleIds.length);
  // With the pass line: the collector's own counts.
  assert.equal(pass['events'], shown);
  assert.deepEqual([pass['listed'], pass['done'], pass['new']], [put, put, put]);
  assert.deepEqual([listed, done, partitions, ms], [pass['listed'], pass['done'], pass['partitions'], pass['durationMs']]);
  assert.deepEqual([pass['failed'], pass['discarded'], pass['malformed']], [0, 0, 0]);
  assert.ok(pass['msg'].includes(`${put} objects listed`) && pass['msg'].includes(`${shown} events in ${ms} ms`), pass['msg']);
});
