// Operator honesty (issue 14): a truthful pass line when a pass ends early, a loud warning when a
// prefix holds nothing (with a hint from what is there), start and stop lines, and `status` naming
// the next pass of a running daemon.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cliUnreachableByOthers } from '../helpers/collector-runs.js';
import { runCli, startCli, writeConfig } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy, type SeenRequest } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { logsSoFar, waitFor } from '../helpers/wait.js';

const ACCOUNT = '141414141414';
const REGION = 'ca-central-1';
const fake = useFakeS3();
const isGet = (r: SeenRequest) => r.method === 'GET' && !r.url.includes('list-type=');

async function bucketWith(bucket: string, ids: string[]): Promise<void> {
  fake.s3.createBucket(bucket);
  for (const id of ids) await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), `${id}.jsonl.gz`), jsonlGz([makeFinding(ACCOUNT, REGION, id)]));
}

const until = (what: string, check: () => boolean | Promise<boolean>): Promise<void> => waitFor(check, { what, intervalMs: 50 });

const passLine = (logs: Array<Record<string, unknown>>) => logs.find((l) => String(l['msg']).startsWith('bucket pass'));

describe('the bucket pass line tells the truth', () => {
  test('a pass stopped by SIGTERM says INTERRUPTED, why, and how many objects are left', async () => {
    const bucket = 'honest-sigterm';
    await bucketWith(bucket, ['s-0', 's-1', 's-2', 's-3']);
    let gets = 0;
    const proxy = await S3Proxy.start(fake.s3.endpoint, { delayMs: (r) => (isGet(r) && ++gets > 0 ? 1000 : 0) });
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }]);
    try {
      const running = startCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`, '--concurrency', '1']);
      await until('the first read in flight', () => gets >= 1);
      running.child.kill('SIGTERM');
      const result = await running.done;
      assert.equal(result.code, 0, 'a stop signal exits 0 (CONTRACT)');
      const line = passLine(result.logs)!;
      assert.equal(line['ok'], false);
      assert.equal(line['interrupted'], 'stopped by a signal');
      assert.ok((line['left'] as number) >= 1, JSON.stringify(line));
      assert.match(String(line['msg']), /^bucket pass INTERRUPTED \(native\): .*: stopped by a signal; \d+ object\(s\) left for the next pass$/);
      assert.ok(result.logs.some((l) => l['msg'] === 'guardduty-wodle stopped: signal SIGTERM'), result.stderr);
    } finally {
      await proxy.stop();
    }
  });

  test('a pass that ends because an output refused still gets its line, naming the output', async () => {
    const bucket = 'honest-output';
    await bucketWith(bucket, ['o-0', 'o-1']);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'file:/dev/full']);
    assert.equal(result.code, 1, result.stderr);
    const line = passLine(result.logs)!;
    assert.ok(line, result.stderr);
    assert.equal(line['ok'], false);
    assert.match(String(line['interrupted']), /^output file:\/dev\/full: /);
    assert.match(String(line['msg']), /^bucket pass INTERRUPTED \(native\)/);
  });
});

describe('a prefix with nothing under it', () => {
  test('a <path> that misses the exports: a warning naming bucket and prefix, with AWSLogs/ at the root as the hint', async () => {
    const bucket = 'honest-wrong-path';
    await bucketWith(bucket, ['w-0']);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: '<path>firehose</path>' }]);
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`]);
    assert.equal(result.code, 0, result.stderr);
    const warnings = result.logs.filter((l) => l['level'] === 40 && String(l['msg']).startsWith('nothing found under'));
    assert.equal(warnings.length, 1, 'once per pass');
    assert.match(String(warnings[0]!['msg']), /^nothing found under s3:\/\/honest-wrong-path\/firehose\/ this pass; AWSLogs\/ is at the bucket root while <path> is "firehose\/"/);
  });

  test('a <path> starting with AWSLogs/: the hint says the collector adds it', async () => {
    const bucket = 'honest-awslogs-path';
    await bucketWith(bucket, ['a-0']);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint, extra: '<path>AWSLogs</path>' }]);
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`]);
    const warning = result.logs.find((l) => String(l['msg']).startsWith('nothing found under'));
    assert.ok(warning, result.stderr);
    assert.match(String(warning['msg']), /<path> "AWSLogs\/" starts with AWSLogs\/, which the collector adds itself/);
  });

  test('a store that returns no CommonPrefixes: the warning names <aws_account_id> and <regions> as the way out', async () => {
    const bucket = 'honest-no-prefixes';
    await bucketWith(bucket, ['c-0']);
    const empty =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>${bucket}</Name><Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`;
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept: (r) => (r.url.includes('delimiter=') ? { status: 200, body: empty, headers: { 'content-type': 'application/xml' } } : undefined),
    });
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }]);
    try {
      const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`]);
      const warning = result.logs.find((l) => String(l['msg']).startsWith('nothing found under'));
      assert.ok(warning, result.stderr);
      assert.match(String(warning['msg']), /objects exist under AWSLogs\/ but discovering its account and region folders returned none .*set <aws_account_id> and <regions>/);
    } finally {
      await proxy.stop();
    }
  });
});

describe('stderr', () => {
  test('a Node warning raised in the process becomes a JSON log line; nothing else reaches stderr', async () => {
    const bucket = 'honest-warning';
    await bucketWith(bucket, ['n-0']);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    // A module preloaded into the collector's process raises a warning at its first S3 request.
    const emit = join(dir, 'warn.mjs');
    writeFileSync(
      emit,
      "import dc from 'node:diagnostics_channel';\nlet once = false;\n" +
        "dc.subscribe('http.client.request.start', () => { if (!once) { once = true; process.emitWarning('something odd', 'DeprecationWarning', 'DEP0999'); } });\n",
    );
    const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`], {
      env: { NODE_OPTIONS: `--import=${emit}` },
    });
    assert.equal(result.code, 0, result.stderr);
    for (const line of result.stderr.split('\n').filter(Boolean)) assert.ok(line.startsWith('{'), `not JSON: ${line}`);
    const warning = result.logs.find((l) => l['warning'] === 'DeprecationWarning');
    assert.ok(warning, result.stderr);
    assert.deepEqual([warning['code'], warning['msg']], ['DEP0999', 'DeprecationWarning: something odd']);
  });

  test('status by a user who cannot enter the state directory says so, not "no collector has run"', async (t) => {
    const unreachable = process.getuid?.() !== 0 ? 'starting a process as another user needs root' : cliUnreachableByOthers();
    if (unreachable !== null) return t.skip(unreachable);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'honest-private', endpoint: fake.s3.endpoint }]);
    fake.s3.createBucket('honest-private');
    const stateDir = join(dir, 'private');
    const state = join(stateDir, 'state.db');
    assert.equal((await runCli(['--config', config, '--once', '--state', state, '--output', `file:${join(dir, 'out')}`])).code, 0);
    const nobody = await runCli(['status', '--state', state], { as: { uid: 65534, gid: 65534 } });
    assert.equal(nobody.code, 2);
    assert.equal(nobody.stderr, `guardduty-wodle: state ${state} cannot be read by this user: ${stateDir} cannot be entered (run as the user the collector runs as, or root)\n`);
  });
});

describe('start and stop', () => {
  test('--once: a start line with version, configuration, buckets, outputs and state; a stop line with the reason', async () => {
    const bucket = 'honest-once';
    await bucketWith(bucket, ['x-0']);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }]);
    const state = join(dir, 'state.db');
    const out = join(dir, 'out');
    const result = await runCli(['--config', config, '--once', '--state', state, '--output', `file:${out}`]);
    assert.equal(result.code, 0, result.stderr);
    const start = result.logs[0]!;
    assert.equal(start['msg'], `guardduty-wodle 0.1.0 started for one pass: 1 bucket(s) of ${config}, outputs file:${out}, state ${state}`);
    assert.deepEqual([start['version'], start['config'], start['buckets'], start['outputs'], start['state']], ['0.1.0', config, [bucket], [`file:${out}`], state]);
    assert.equal(result.logs.at(-1)!['msg'], 'guardduty-wodle stopped: the pass is done');
  });

  test('daemon: the start line gives each bucket\'s schedule and next pass; status shows the next pass while it runs', async () => {
    const bucket = 'honest-daemon';
    await bucketWith(bucket, ['d-0']);
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: bucket, endpoint: fake.s3.endpoint }], '<interval>1h</interval>');
    const state = join(dir, 'state.db');
    const running = startCli(['--config', config, '--state', state, '--output', `file:${join(dir, 'out')}`]);
    try {
      await until('the first pass', () => passLine(logsSoFar(running)) !== undefined);
      const start = logsSoFar(running)[0]!;
      assert.match(String(start['msg']), new RegExp(`^guardduty-wodle 0\\.1\\.0 started: ${bucket} every 3600 s, next pass \\d{4}-\\d{2}-\\d{2}T`));
      const schedule = start['schedule'] as Array<{ buckets: string[]; next: string }>;
      assert.deepEqual(schedule[0]!.buckets, [bucket]);
      let status = '';
      await until('status naming the next pass', async () => {
        status = (await runCli(['status', '--state', state])).stdout;
        return /collector running \(pid \d+, since .*\): next pass /.test(status);
      });
      const json = JSON.parse((await runCli(['status', '--state', state, '--json'])).stdout);
      assert.equal(json.daemon.pid, running.child.pid);
      assert.ok(Date.parse(json.daemon.nextPassAt) > Date.now() + 3_000_000, `the next pass is about an hour away: ${json.daemon.nextPassAt}`);
    } finally {
      running.child.kill('SIGTERM');
    }
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.logs.at(-1)!['msg'], 'guardduty-wodle stopped: signal SIGTERM');
    const after = JSON.parse((await runCli(['status', '--state', state, '--json'])).stdout);
    assert.equal(after.daemon, null, 'no next pass once the daemon is gone');
  });
});
