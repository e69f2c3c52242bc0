// The configuration's own bounds (issue 22): a file past CONFIG_MAX_BYTES is refused before it is read,
// at start and on SIGHUP, so that its parse never costs the memory it would (a 50 MB file took 1.1 GB);
// an only_logs_after after today is said, at start and by --check-config, naming file and line (what
// counts as after today: config.test.ts).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONFIG_MAX_BYTES } from '../../src/config/load.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { runCli, startCli, writeConfig, type CliResult } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { waitForLog, waitForProcess } from '../helpers/wait.js';
import { useFakeS3 } from '../../support/s3.js';

const fake = useFakeS3();
const ACCOUNT = '565656565656';
const REGION = 'ap-south-1';

/** A valid configuration for `bucket`, padded with a comment to exactly `bytes` bytes. */
function paddedConfig(file: string, bucket: string, endpoint: string, bytes: number, wodle = ''): string {
  const body = `<ossec_config><wodle name="aws-s3">${wodle}<bucket type="guardduty"><name>${bucket}</name><service_endpoint>${endpoint}</service_endpoint></bucket></wodle></ossec_config>\n`;
  const padding = bytes - Buffer.byteLength(body) - '<!--  -->\n'.length;
  assert.ok(padding >= 0);
  writeFileSync(file, `${body}<!-- ${'x'.repeat(padding)} -->\n`);
  assert.equal(readFileSync(file).length, bytes);
  return file;
}

const LIMIT_WORDS = `larger than the ${CONFIG_MAX_BYTES / (1024 * 1024)} MiB (${CONFIG_MAX_BYTES} bytes) guardduty-wodle reads`;

/** The one line on stderr of a refused configuration, and nothing on stdout. */
function refusal(result: CliResult): string {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, '');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, result.stderr);
  return lines[0]!;
}

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

describe('configuration bounds', () => {
  const bucket = 'gd-config-bounds';
  let proxy: S3Proxy;

  before(async () => {
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'first')]));
    proxy = await S3Proxy.start(fake.s3.endpoint);
  });

  after(async () => {
    await proxy.stop();
  });

  describe('the size of the configuration file', () => {
    test(`one byte over ${CONFIG_MAX_BYTES} bytes: exit 2 with one line naming file, size and limit; nothing read or sent`, async () => {
      const dir = tempDir();
      const config = paddedConfig(join(dir, 'ossec.conf'), bucket, proxy.endpoint, CONFIG_MAX_BYTES + 1);
      const expected = `guardduty-wodle: ${config}: the configuration is ${CONFIG_MAX_BYTES + 1} bytes (2.0 MiB), ${LIMIT_WORDS}; an ossec.conf is tens to hundreds of KiB: check that --config names the right file`;
      assert.equal(refusal(await runCli(['--check-config', '--config', config, '--state', join(dir, 'state.db')])), expected);
      const out = join(dir, 'events.jsonl');
      const requests = proxy.requests.length;
      assert.equal(refusal(await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`])), expected);
      assert.equal(proxy.requests.length, requests, 'no request reached S3');
      assert.ok(!existsSync(out) && !existsSync(join(dir, 'state.db')), 'neither the output nor the state was opened');
    });

    test(`exactly ${CONFIG_MAX_BYTES} bytes is read`, async () => {
      const dir = tempDir();
      const config = paddedConfig(join(dir, 'ossec.conf'), bucket, proxy.endpoint, CONFIG_MAX_BYTES);
      const result = await runCli(['--check-config', '--config', config, '--state', join(dir, 'state.db'), '--output', 'stdout']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { wodles: Array<{ buckets: Array<{ name: string }> }> }).wodles[0]!.buckets[0]!.name, bucket);
    });

    test('a configuration without an end (/dev/zero) is refused once the limit is read, not read for ever', async () => {
      const line = refusal(await runCli(['--check-config', '--config', '/dev/zero', '--state', join(tempDir(), 'state.db')]));
      assert.equal(line, `guardduty-wodle: /dev/zero: the configuration is ${LIMIT_WORDS}; an ossec.conf is tens to hundreds of KiB: check that --config names the right file`);
    });

    test('SIGHUP with a configuration grown past the limit: the reload is refused naming it, collection goes on with the old one', async () => {
      const dir = tempDir();
      const out = join(dir, 'events.jsonl');
      const config = writeConfig(dir, [{ name: bucket, endpoint: proxy.endpoint }], '<interval>1s</interval>');
      const running = startCli(['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${out}`]);
      await waitForProcess(running, () => idsIn(out).includes('first'), { what: 'the first finding', timeoutMs: 15_000 });
      paddedConfig(config, bucket, proxy.endpoint, 8 * 1024 * 1024, '<interval>1s</interval>');
      running.child.kill('SIGHUP');
      const failed = await waitForLog(running, (l) => String(l['msg']).startsWith('configuration reload failed'), { what: 'the reload to be refused', timeoutMs: 15_000 });
      assert.equal(
        failed['msg'],
        `configuration reload failed, the previous configuration stays in use: ${config}: the configuration is ${8 * 1024 * 1024} bytes (8.0 MiB), ${LIMIT_WORDS}; ` +
          'an ossec.conf is tens to hundreds of KiB: check that --config names the right file',
      );
      await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today(), 'after-reload.jsonl.gz'), jsonlGz([makeFinding(ACCOUNT, REGION, 'after-refused-reload')]));
      await waitForProcess(running, () => idsIn(out).includes('after-refused-reload'), { what: 'collection going on with the old configuration', timeoutMs: 15_000 });
      running.child.kill('SIGTERM');
      const result = await running.done;
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(idsIn(out).sort(), ['after-refused-reload', 'first']);
    });
  });

  describe('only_logs_after in the future', () => {
    const conf = (day: string) => `<ossec_config>
  <wodle name="aws-s3">
    <bucket type="guardduty">
      <name>${bucket}</name>
      <service_endpoint>${proxy.endpoint}</service_endpoint>
      <only_logs_after>${day}</only_logs_after>
    </bucket>
  </wodle>
</ossec_config>
`;

    test('--check-config: a warning naming file and line of <only_logs_after>, in the JSON and on stderr (exit 0)', async () => {
      const dir = tempDir();
      const config = join(dir, 'ossec.conf');
      writeFileSync(config, conf('2999-JAN-01'));
      const result = await runCli(['--check-config', '--config', config, '--state', join(dir, 'state.db'), '--output', 'stdout']);
      assert.equal(result.code, 0, result.stderr);
      const warning = `${config}:6: <only_logs_after> 2999-01-01 is after today (${today()}, UTC): nothing of this bucket is read before that day`;
      assert.deepEqual((JSON.parse(result.stdout) as { warnings: string[] }).warnings, [warning]);
      assert.deepEqual(
        result.logs.filter((l) => l['level'] === 40).map((l) => l['msg']),
        [warning],
      );
    });

    test('a collecting run says it at start, as a warn line, before the pass (which sends nothing)', async () => {
      const dir = tempDir();
      const config = join(dir, 'ossec.conf');
      writeFileSync(config, conf('2999-01-01'));
      const out = join(dir, 'events.jsonl');
      const result = await runCli(['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`]);
      assert.equal(result.code, 0, result.stderr);
      const warnings = result.logs.filter((l) => l['level'] === 40 && String(l['msg']).includes('<only_logs_after>'));
      assert.equal(warnings.length, 1, result.stderr);
      assert.equal(warnings[0]!['msg'], `${config}:6: <only_logs_after> 2999-01-01 is after today (${today()}, UTC): nothing of this bucket is read before that day`);
      const started = result.logs.findIndex((l) => String(l['msg']).includes('started for one pass'));
      assert.ok(result.logs.indexOf(warnings[0]!) < started, 'said before the pass starts');
      assert.deepEqual(idsIn(out), []);
    });
  });
});
