// How the process ends. process.exit shuts Node's platform down while the isolate lives, and a V8
// background compile waiting for a collection then hangs the exit for ever (nodejs/node#64274, seen
// here on Node 24): the CLI ends by letting its event loop drain instead, and names what kept it.
// 'beforeExit' is emitted only when the loop drained, never on process.exit: that is what is observed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { DatagramSink } from '../helpers/wazuh-queue.js';
import { runCli, startCli, writeConfig } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { waitForLog, within } from '../helpers/wait.js';
import { CLI } from '../../support/paths.js';
import { useFakeS3 } from '../../support/s3.js';

const ACCOUNT = '151515151515';
const REGION = 'eu-north-1';
const fake = useFakeS3();

/** Loaded before the CLI (NODE_OPTIONS=--import): writes a file when the event loop drained. */
const DRAIN_PROBE = (() => {
  const file = join(tempDir(), 'drain-probe.mjs');
  writeFileSync(file, "import { writeFileSync } from 'node:fs';\nprocess.on('beforeExit', () => writeFileSync(process.env.GDW_TEST_DRAINED_FILE, 'drained'));\n");
  return pathToFileURL(file).href;
})();

function probed(): { env: Record<string, string>; drained: () => boolean } {
  const file = join(tempDir(), 'drained');
  return { env: { NODE_OPTIONS: `--import=${DRAIN_PROBE}`, GDW_TEST_DRAINED_FILE: file }, drained: () => existsSync(file) };
}

/** Runs a small module beside the built CLI and returns how it ended. */
async function script(body: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(tempDir(), 'script.mjs');
  writeFileSync(file, `import { endProcess } from ${JSON.stringify(pathToFileURL(CLI).href)};\n${body}\n`);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await within(new Promise<number | null>((resolve) => child.on('close', resolve)), 20_000, 'the script to end');
  return { code, stdout, stderr };
}

describe('the process ends by draining its event loop', () => {
  test('endProcess keeps the exit code and exits once nothing is left to do, without process.exit', async () => {
    const ended = await script("process.on('beforeExit', () => process.stdout.write('drained'));\nendProcess(3);");
    assert.equal(ended.code, 3);
    assert.equal(ended.stdout, 'drained');
    assert.equal(ended.stderr, '');
  });

  test('a handle left open is named in one warning after the grace, and the process exits with its code', async () => {
    const ended = await script(
      "import { createServer } from 'node:net';\nprocess.on('beforeExit', () => process.stdout.write('drained'));\n" +
        "createServer().listen(0, '127.0.0.1', () => endProcess(4, 100));",
    );
    assert.equal(ended.code, 4);
    assert.equal(ended.stdout, '', 'the loop never drained: the open server kept it');
    const lines = ended.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.equal(lines.length, 1, ended.stderr);
    assert.equal(lines[0]!['level'], 40);
    // Besides the server, its stdout and stderr pipes are open (they hold no loop alive).
    assert.ok((lines[0]!['open'] as string[]).includes('TCPServerWrap'), ended.stderr);
    assert.match(String(lines[0]!['msg']), /^still running 0\.1 s after its work ended \(open: [^)]*TCPServerWrap[^)]*\); exiting$/);
  });

  test('a pass with --once, a command, and a usage error all end by draining', async () => {
    const bucket = 'exit-once';
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'exit-once-1')]));
    const dir = tempDir();
    const state = join(dir, 'state.db');
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);

    const pass = probed();
    const once = await runCli(['--config', config, '--once', '--state', state, '--output', `file:${join(dir, 'out')}`], { env: pass.env });
    assert.equal(once.code, 0, once.stderr);
    assert.match(readFileSync(join(dir, 'out'), 'utf8'), /exit-once-1/);
    assert.ok(pass.drained(), once.stderr);

    const command = probed();
    const status = await runCli(['status', '--state', state], { env: command.env });
    assert.equal(status.code, 0, status.stderr);
    assert.ok(command.drained(), status.stderr);

    const usage = probed();
    const refused = await runCli(['reset', bucket, '--since', '2026-02-30', '--state', state, '--yes'], { env: usage.env });
    assert.equal(refused.code, 2, refused.stderr);
    assert.ok(usage.drained(), refused.stderr);
  });

  test('a daemon with the Wazuh socket and /metrics ends by draining on SIGTERM, nothing left open', async () => {
    const bucket = 'exit-daemon';
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'exit-daemon-1')]));
    const dir = tempDir();
    const sink = new DatagramSink(join(dir, 'queue'));
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const daemon = probed();
    try {
      const running = startCli(
        ['--config', config, '--state', join(dir, 'state.db'), '--output', `wazuh:${join(dir, 'queue')}`, '--metrics-port', '0'],
        { env: daemon.env },
      );
      await waitForLog(running, (line) => String(line['msg']).startsWith('bucket pass'), { what: 'the first pass' });
      running.child.kill('SIGTERM');
      const result = await within(running.done, 15_000, 'the daemon to stop');
      assert.equal(result.code, 0, result.stderr);
      assert.ok(sink.messages.some((message) => message.includes('exit-daemon-1')));
      assert.ok(!/after its work ended/.test(result.stderr), result.stderr);
      assert.ok(daemon.drained(), result.stderr);
    } finally {
      sink.close();
    }
  });
});
