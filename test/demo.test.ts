import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, readSample, sampleNames } from './helpers/paths.js';

test('npm run demo: events on stdout, a one-line summary on stderr, exit 0', async () => {
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
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0]!, new RegExp(`^demo: ${events.length} events from \\d+ objects`));
});
