// --check-config as the operator runs it: the effective configuration printed with secrets masked,
// output and state paths, sockets, and --check-access (one listing per bucket against a real S3 API:
// fauxqs, with S3Proxy for the answers fauxqs does not give). What a configuration is refused for:
// config.test.ts (in this process) and command-line-errors.test.ts (through the CLI).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cliUnreachableByOthers } from '../helpers/collector-runs.js';
import { runCli, writeConfig, type CliResult } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { S3Proxy, s3Error } from '../../support/proxy.js';
import { ROOT } from '../../support/paths.js';
import { useFakeS3 } from '../../support/s3.js';

interface Printed {
  wodles: Array<{ buckets: Array<{ name: string; access?: Record<string, unknown> }> }>;
  warnings: string[];
  errors: string[];
}

function printed(result: CliResult): Printed {
  return JSON.parse(result.stdout) as Printed;
}

/** A configuration with one GuardDuty bucket that --check-config alone never contacts. */
function plainConfig(dir: string): string {
  return writeConfig(dir, [{ name: 'gd', endpoint: 'http://127.0.0.1:9' }]);
}

const REALISTIC = join(ROOT, 'test', 'fixtures', 'ossec-realistic.conf');

describe('--check-config: the effective configuration', () => {
  test('accepts a realistic ossec.conf and prints the effective configuration with secrets masked', async () => {
    const result = await runCli(['--check-config', '--config', REALISTIC, '--state', join(tempDir(), 'state.db')]);
    assert.equal(result.code, 0, result.stderr);
    const printed = JSON.parse(result.stdout) as { wodles: Array<{ disabled: boolean; intervalSeconds: number; buckets: Array<Record<string, unknown>> }>; warnings: string[] };
    assert.equal(printed.wodles.length, 2);
    const [active, disabled] = printed.wodles as [(typeof printed.wodles)[0], (typeof printed.wodles)[0]];
    assert.equal(active.intervalSeconds, 1800);
    assert.equal(active.buckets.length, 1, 'the cloudtrail bucket is skipped');
    const bucket = active.buckets[0]!;
    assert.equal(bucket['name'], 'gd-exports');
    assert.equal(bucket['path'], 'security/');
    assert.deepEqual(bucket['accountIds'], ['123456789012', '210987654321']);
    assert.equal(bucket['onlyLogsAfter'], '2026-11-01');
    assert.deepEqual(bucket['regions'], ['us-east-1', 'us-gov-west-1', 'cn-north-1', 'eu-central-2']);
    assert.equal(bucket['stsEndpoint'], 'https://sts.us-east-1.amazonaws.com');
    assert.equal(bucket['externalId'], '********');
    assert.equal(disabled.disabled, true);
    assert.equal(disabled.buckets[0]!['secretKey'], '********');
    assert.equal(disabled.buckets[0]!['accessKey'], '********');
    assert.ok(!result.stdout.includes('old/secret/should/be/masked'));
    assert.ok(!result.stdout.includes('very-secret-external-id'));
    const cloudtrailLine = readFileSync(REALISTIC, 'utf8').split('\n').findIndex((l) => l.includes('<bucket type="cloudtrail">')) + 1;
    assert.ok(printed.warnings.some((w) => w.includes('type="cloudtrail"') && w.includes(`:${cloudtrailLine}:`)), printed.warnings.join('\n'));
    assert.ok(printed.warnings.some((w) => w.includes('<service type="cloudwatchlogs">')));
  });
});

describe('--check-config: output files, the state, sockets', () => {
  test('writable places pass, and the check creates nothing (no file, no state directory)', async () => {
    const dir = tempDir();
    const config = plainConfig(dir);
    const events = join(dir, 'events.jsonl');
    const state = join(dir, 'new', 'deeper', 'state.db');
    const result = await runCli(['--check-config', '--config', config, '--output', `file:${events}`, '--output', 'stdout', '--state', state]);
    assert.equal(result.code, 0, result.stderr);
    const doc = printed(result);
    assert.deepEqual(doc.errors, []);
    assert.deepEqual(doc.warnings, []);
    assert.ok(!existsSync(events), 'the output file is not created by a check');
    assert.ok(!existsSync(join(dir, 'new')), 'the state directory is not created by a check (the collector creates it)');
  });

  // The tests may run as root, who may write anywhere: "cannot write" is made with paths that no one
  // can write through (a parent that is a regular file, a directory that does not exist), and with a
  // read-only directory checked by the unprivileged user nobody (uid 65534).
  test("a file: output whose directory does not exist is an error naming the path (exit 2)", async () => {
    const dir = tempDir();
    const events = join(dir, 'missing', 'events.jsonl');
    const result = await runCli(['--check-config', '--config', plainConfig(dir), '--output', `file:${events}`, '--state', join(dir, 'state.db')]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    const expected = `--output file:${events}: the directory ${join(dir, 'missing')} does not exist`;
    assert.deepEqual(printed(result).errors, [expected]);
    const logged = result.logs.find((l) => l['level'] === 50);
    assert.equal(logged?.['msg'], expected, result.stderr);
  });

  test('a file: output and a state under a regular file are errors naming each path (exit 2)', async () => {
    const dir = tempDir();
    const plain = join(dir, 'plain-file');
    writeFileSync(plain, 'not a directory\n');
    const events = join(plain, 'events.jsonl');
    const state = join(plain, 'state', 'state.db');
    const result = await runCli(['--check-config', '--config', plainConfig(dir), '--output', `file:${events}`, '--state', state]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    const { errors } = printed(result);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.equal(errors[0], `--output file:${events}: ${plain} is not a directory`);
    assert.equal(errors[1], `--state ${state}: ${plain} is not a directory`);
    assert.equal(result.logs.filter((l) => l['level'] === 50).length, 2, result.stderr);
  });

  test('a file: output that is a directory, and a state that is not a file, are errors', async () => {
    const dir = tempDir();
    const result = await runCli(['--check-config', '--config', plainConfig(dir), '--output', `file:${dir}`, '--state', dir]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.deepEqual(printed(result).errors, [`--output file:${dir}: ${dir} is a directory`, `--state ${dir}: ${dir} is not a regular file`]);
  });

  test('a directory the process may not write is an error (checked as the user nobody)', async (t) => {
    const unreachable = process.getuid?.() === 0 ? cliUnreachableByOthers() : null;
    if (unreachable !== null) return t.skip(unreachable);
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const config = plainConfig(dir);
    chmodSync(config, 0o644);
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    const events = join(locked, 'events.jsonl');
    const state = join(locked, 'state.db');
    const as = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    const result = await runCli(['--check-config', '--config', config, '--output', `file:${events}`, '--state', state], { as });
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.deepEqual(printed(result).errors, [
      `--output file:${events}: the directory ${locked} is not writable by this process (EACCES)`,
      `--state ${state}: the directory ${locked} is not writable by this process (EACCES)`,
    ]);
  });

  describe('sockets', () => {
    let server: Server;
    let dir: string;
    let listening: string;
    before(async () => {
      dir = tempDir();
      listening = join(dir, 'peer.sock');
      server = createServer((socket) => socket.resume());
      await new Promise<void>((resolve) => server.listen(listening, resolve));
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    test('an absent wazuh or unix: socket is a warning, in the JSON and as a JSON log line (exit 0); one present is not', async () => {
      const absent = join(dir, 'absent.sock');
      const result = await runCli([
        '--check-config',
        '--config',
        plainConfig(dir),
        '--state',
        join(dir, 'state.db'),
        '--output',
        `wazuh:${absent}`,
        '--output',
        `unix:${join(dir, 'gone.sock')}`,
        '--output',
        `unix:${listening}`,
      ]);
      assert.equal(result.code, 0, result.stderr);
      const expected = [
        `--output wazuh:${absent}: the socket ${absent} does not exist now (is wazuh-analysisd running?); events cannot be delivered until it does`,
        `--output unix:${join(dir, 'gone.sock')}: the socket ${join(dir, 'gone.sock')} does not exist now (is the program that reads it running?); events cannot be delivered until it does`,
      ];
      const doc = printed(result);
      assert.deepEqual(doc.warnings, expected);
      assert.deepEqual(doc.errors, []);
      assert.deepEqual(
        result.logs.filter((l) => l['level'] === 40).map((l) => l['msg']),
        expected,
      );
    });

    test('the default output: the analysisd queue, named as wazuh', async () => {
      const result = await runCli(['--check-config', '--config', plainConfig(dir), '--state', join(dir, 'state.db')]);
      assert.equal(result.code, 0, result.stderr);
      const queue = '/var/ossec/queue/sockets/queue';
      const warnings = printed(result).warnings;
      if (existsSync(queue)) return;
      assert.deepEqual(warnings, [`--output wazuh: the socket ${queue} does not exist now (is wazuh-analysisd running?); events cannot be delivered until it does`]);
    });

    test('a path that is not a socket is a warning', async () => {
      const file = join(dir, 'regular');
      writeFileSync(file, '');
      const result = await runCli(['--check-config', '--config', plainConfig(dir), '--state', join(dir, 'state.db'), '--output', `unix:${file}`]);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(printed(result).warnings, [`--output unix:${file}: ${file} is not a socket`]);
    });
  });
});

describe('--check-access', () => {
  const fake = useFakeS3();
  let recorder: S3Proxy;
  let denying: S3Proxy;
  before(async () => {
    fake.s3.createBucket('gd-ok');
    await fake.s3.put('gd-ok', 'exports/AWSLogs/123456789012/GuardDuty/us-east-1/2026/11/01/f.jsonl.gz', 'not read');
    fake.s3.createBucket('gd-empty');
    fake.s3.createBucket('gd-denied');
    recorder = await S3Proxy.start(fake.s3.endpoint);
    denying = await S3Proxy.start(fake.s3.endpoint, {
      intercept: () => s3Error(403, 'AccessDenied', 'User: arn:aws:iam::123456789012:user/reader is not authorized to perform: s3:ListBucket'),
    });
  });
  after(async () => {
    await recorder.stop();
    await denying.stop();
  });

  test('per bucket: OK, NoSuchBucket, AccessDenied, unreachable; exit 1, one listing each, no object read', { timeout: 120_000 }, async () => {
    recorder.reset();
    denying.reset();
    const dir = tempDir();
    const config = writeConfig(dir, [
      { name: 'gd-ok', endpoint: recorder.endpoint, extra: '      <path>exports</path>' },
      { name: 'gd-missing', endpoint: recorder.endpoint },
      { name: 'gd-denied', endpoint: denying.endpoint },
      { name: 'gd-unreachable', endpoint: 'http://127.0.0.1:9' },
    ]);
    const result = await runCli(['--check-config', '--check-access', '--config', config, '--state', join(dir, 'state.db'), '--output', 'stdout']);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const buckets = printed(result).wodles[0]!.buckets;
    const access = Object.fromEntries(buckets.map((b) => [b.name, b.access!]));

    assert.equal(access['gd-ok']!['status'], 'ok');
    assert.equal(access['gd-ok']!['prefix'], 'exports/');
    assert.equal(access['gd-ok']!['objects'], true);
    assert.equal(access['gd-ok']!['region'], 'us-east-1');
    assert.equal(access['gd-ok']!['credentials'], 'the default credential chain');
    assert.ok(String(access['gd-ok']!['message']).startsWith('s3://gd-ok/exports/: OK, listed with the default credential chain in us-east-1'), String(access['gd-ok']!['message']));

    assert.equal(access['gd-missing']!['status'], 'failed');
    assert.equal(access['gd-missing']!['error'], 'NoSuchBucket');
    assert.ok(String(access['gd-missing']!['message']).startsWith('s3://gd-missing/: the bucket does not exist; check <name>'), String(access['gd-missing']!['message']));

    assert.equal(access['gd-denied']!['status'], 'failed');
    assert.equal(access['gd-denied']!['error'], 'AccessDenied');
    assert.ok(
      String(access['gd-denied']!['message']).startsWith('s3://gd-denied/: access denied listing the bucket; grant s3:ListBucket on arn:aws:s3:::gd-denied'),
      String(access['gd-denied']!['message']),
    );

    assert.equal(access['gd-unreachable']!['status'], 'failed');
    assert.equal(access['gd-unreachable']!['error'], 'ECONNREFUSED');
    assert.ok(
      String(access['gd-unreachable']!['message']).startsWith('s3://gd-unreachable/: cannot reach http://127.0.0.1:9 (ECONNREFUSED) while listing the bucket'),
      String(access['gd-unreachable']!['message']),
    );

    // One readable JSON line per bucket on stderr, in the order of the configuration.
    const lines = result.logs.filter((l) => l['access'] !== undefined);
    assert.deepEqual(
      lines.map((l) => [l['bucket'], l['access'], l['level']]),
      [
        ['gd-ok', 'ok', 30],
        ['gd-missing', 'failed', 50],
        ['gd-denied', 'failed', 50],
        ['gd-unreachable', 'failed', 50],
      ],
    );
    for (const line of lines) assert.equal(line['msg'], access[String(line['bucket'])]!['message']);
    assert.ok(!result.stderr.includes('fake/secret/key'), 'the secret key is never printed');

    // ListObjectsV2 with MaxKeys 1 of the configured prefix, and nothing else: no object is read.
    const requests = [...recorder.requests, ...denying.requests];
    for (const request of requests) {
      const url = new URL(request.url, 'http://s3');
      assert.equal(request.method, 'GET', request.url);
      assert.equal(url.searchParams.get('list-type'), '2', request.url);
      assert.equal(url.searchParams.get('max-keys'), '1', request.url);
    }
    const okLists = recorder.requests.filter((r) => r.url.startsWith('/gd-ok'));
    assert.equal(okLists.length, 1);
    assert.equal(new URL(okLists[0]!.url, 'http://s3').searchParams.get('prefix'), 'exports/');
  });

  test('all buckets listed: exit 0; an empty prefix is OK and says so; a disabled block is skipped', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [
      { name: 'gd-ok', endpoint: fake.s3.endpoint },
      { name: 'gd-empty', endpoint: fake.s3.endpoint, extra: '      <path>nothing-here/</path>' },
    ]);
    // A second, disabled block whose bucket would fail: not listed, not counted.
    writeFileSync(
      config,
      `${readFileSync(config, 'utf8')}<ossec_config>
  <wodle name="aws-s3">
    <disabled>yes</disabled>
    <bucket type="guardduty"><name>gd-off</name><service_endpoint>http://127.0.0.1:9</service_endpoint></bucket>
  </wodle>
</ossec_config>
`,
    );
    const result = await runCli(['--check-config', '--check-access', '--config', config, '--state', join(dir, 'state.db'), '--output', 'stdout']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const doc = printed(result);
    const [ok, empty] = doc.wodles[0]!.buckets;
    assert.equal(ok!.access!['status'], 'ok');
    assert.equal(empty!.access!['status'], 'ok');
    assert.equal(empty!.access!['objects'], false);
    assert.ok(String(empty!.access!['message']).includes('nothing under the prefix yet: check <path>'), String(empty!.access!['message']));
    assert.equal(doc.wodles[1]!.buckets[0]!.access!['status'], 'skipped');
  });

  test('a path error still exits 2 when every bucket is reachable', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-ok', endpoint: fake.s3.endpoint }]);
    const result = await runCli(['--check-config', '--check-access', '--config', config, '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'no', 'x')}`]);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.equal(printed(result).wodles[0]!.buckets[0]!.access!['status'], 'ok');
  });

  test('--check-access alone is a usage error (exit 2), nothing is listed', async () => {
    recorder.reset();
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-ok', endpoint: recorder.endpoint }]);
    const result = await runCli(['--check-access', '--config', config, '--state', join(dir, 'state.db'), '--output', 'stdout']);
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.ok(result.stderr.includes('--check-access is given with --check-config'), result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(recorder.requests.length, 0);
  });
});

describe('--check-config and Wazuh\'s own ossec.conf (issue 15)', () => {
  const wazuhConf = (disabled: string) =>
    `<ossec_config>\n  <global>\n    <jsonout_output>yes</jsonout_output>\n  </global>\n  <remote>\n    <connection>secure</connection>\n  </remote>\n</ossec_config>\n` +
    `<ossec_config>\n  <wodle name="aws-s3">\n    <disabled>${disabled}</disabled>\n    <bucket type="guardduty">\n      <name>gd</name>\n    </bucket>\n  </wodle>\n</ossec_config>\n`;
  const check = async (text: string) => {
    const dir = tempDir();
    const config = join(dir, 'ossec.conf');
    writeFileSync(config, text);
    const result = await runCli(['--check-config', '--config', config, '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`]);
    return { config, result, warnings: printed(result).warnings.filter((w) => w.includes("is Wazuh's own ossec.conf")) };
  };

  test('an enabled aws-s3 block in a file with Wazuh\'s own sections: a warning that every finding would arrive twice, with its line', async () => {
    const { config, result, warnings } = await check(wazuhConf('no'));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(warnings.length, 1, result.stdout);
    assert.equal(
      warnings[0],
      `${config} is Wazuh's own ossec.conf and its <wodle name="aws-s3"> block (${config}:10) is enabled: Wazuh's modulesd collects the same buckets, ` +
        "so every finding would arrive twice; give guardduty-wodle a file of its own, or take the buckets out of Wazuh's block (README: Switching over from Wazuh)",
    );
    assert.ok(result.logs.some((l) => l['level'] === 40 && l['msg'] === warnings[0]));
  });

  test('no warning when that block is disabled, or when the file is guardduty-wodle\'s own', async () => {
    assert.deepEqual((await check(wazuhConf('yes'))).warnings, []);
    const own = `<!-- <global> in a comment does not count -->\n<ossec_config><wodle name="aws-s3"><bucket type="guardduty"><name>gd</name></bucket></wodle></ossec_config>\n`;
    assert.deepEqual((await check(own)).warnings, []);
  });
});
