// A password in service_endpoint or sts_endpoint is never printed by the built CLI: not in what
// --check-config prints, nor on any stderr line of a run at trace that fails to reach the endpoint.
// The masking itself, and the configuration errors that quote an endpoint: masking.test.ts.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';
import { PASSWORD, STS_PASSWORD, maskedConf } from '../helpers/masked-config.js';


describe('where endpoints are printed', () => {
  const conf = maskedConf;

  test('--check-config prints the masked endpoints and never the passwords', async () => {
    const dir = tempDir();
    const file = join(dir, 'ossec.conf');
    writeFileSync(file, conf(''));
    const result = await runCli(['--check-config', '--config', file]);
    assert.equal(result.code, 0, result.stderr);
    for (const secret of [PASSWORD, STS_PASSWORD]) assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), result.stdout);
    const printed = JSON.parse(result.stdout) as { wodles: Array<{ buckets: Array<Record<string, unknown>> }> };
    assert.equal(printed.wodles[0]!.buckets[0]!['serviceEndpoint'], 'http://user:****@127.0.0.1:9');
    assert.equal(printed.wodles[0]!.buckets[0]!['stsEndpoint'], 'https://stsuser:****@sts.example.com');
  });

  test('--once against a closed port: the "cannot reach" error shows user:****, no line carries the password', { timeout: 120_000 }, async () => {
    const dir = tempDir();
    const file = join(dir, 'ossec.conf');
    writeFileSync(
      file,
      `<ossec_config>
  <wodle name="aws-s3">
    <bucket type="guardduty">
      <name>gd-masked</name>
      <service_endpoint>http://user:${PASSWORD}@127.0.0.1:9</service_endpoint>
    </bucket>
  </wodle>
</ossec_config>
`,
    );
    const result = await runCli(['--config', file, '--once', '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'events.jsonl')}`, '--log-level', 'trace']);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(!result.stderr.includes(PASSWORD) && !result.stdout.includes(PASSWORD), result.stderr);
    const error = result.logs.find((l) => String(l['msg']).includes('cannot reach'));
    assert.ok(error, result.stderr);
    assert.ok(String(error['msg']).startsWith('s3://gd-masked: cannot reach http://user:****@127.0.0.1:9 (ECONNREFUSED) while listing the bucket'), String(error['msg']));
  });
});
