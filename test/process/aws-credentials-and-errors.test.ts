// Credentials and S3 errors as an operator meets them, through the built CLI: aws_profile, iam_role_arn
// (AssumeRole at a stand-in STS), the default chain and the signing region, each resolved from the
// process's own environment; throttling and a skewed clock; the one-line errors with their fix and exit
// status; discard_regex and remove_from_bucket; every run at trace, and no secret on stderr.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FAKE_AWS_ENV, runCli, writeConfig, type CliResult } from '../../support/cli.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { readSample } from '../../support/paths.js';
import { S3Proxy, s3Error, type SeenRequest } from '../../support/proxy.js';
import { useFakeS3 } from '../../support/s3.js';
import { stateRows } from '../helpers/state.js';
import { ASSUMED, FakeSts } from '../helpers/sts.js';

const fake = useFakeS3();
const ACCOUNT = '888888888888';
const REGION = 'eu-central-1';

const isList = (r: SeenRequest) => r.method === 'GET' && r.url.includes('list-type=2');
const isGetObject = (r: SeenRequest) => r.method === 'GET' && !r.url.includes('list-type=2');

async function bucketWith(name: string, ids: string[]): Promise<void> {
  fake.s3.createBucket(name);
  for (const id of ids) await fake.s3.put(name, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, id)]));
}

function collect(dir: string, bucket: string, endpoint: string, extra = '', wodle = '') {
  const config = writeConfig(dir, [{ name: bucket, endpoint, extra }], wodle);
  const out = join(dir, 'events.jsonl');
  return { out, args: ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', `file:${out}`, '--log-level', 'trace'] };
}

function ids(out: string): string[] {
  return existsSync(out) ? eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id as string).sort() : [];
}

function assertNoSecrets(result: CliResult, secrets: string[]): void {
  for (const secret of secrets) assert.ok(!result.stderr.includes(secret) && !result.stdout.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`);
  // Nor request signatures or signed URLs.
  assert.doesNotMatch(result.stderr, /X-Amz-Signature|X-Amz-Credential|Signature=[0-9a-f]{16}|x-amz-security-token/i);
}

function errorLines(result: CliResult): string[] {
  return result.logs.filter((l) => (l['level'] as number) >= 50).map((l) => String(l['msg']));
}

describe('credentials', () => {
  test('aws_profile from the shared credentials file signs the S3 requests', async () => {
    const dir = tempDir();
    await bucketWith('cred-profile', ['p1']);
    const proxy = await S3Proxy.start(fake.s3.endpoint);
    const credentials = join(dir, 'credentials');
    writeFileSync(credentials, '[gd-reader]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = profile/secret/never/logged\n');
    try {
      const { out, args } = collect(dir, 'cred-profile', proxy.endpoint, '<aws_profile>gd-reader</aws_profile>');
      const result = await runCli(args, { env: { AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: join(dir, 'no-config') } });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ids(out), ['p1']);
      assert.deepEqual(proxy.signers(), ['AKIAPROFILEKEY000001']);
      assertNoSecrets(result, ['profile/secret/never/logged']);
    } finally {
      await proxy.stop();
    }
  });

  test('iam_role_arn with external_id and duration: AssumeRole at sts_endpoint, S3 signed with the assumed credentials', async () => {
    const dir = tempDir();
    await bucketWith('cred-role', ['r1', 'r2']);
    const proxy = await S3Proxy.start(fake.s3.endpoint);
    const sts = await FakeSts.start();
    try {
      const role = 'arn:aws:iam::123456789012:role/GuardDutyReader';
      const { out, args } = collect(
        dir,
        'cred-role',
        proxy.endpoint,
        `<iam_role_arn>${role}</iam_role_arn><external_id>ext-id-1234</external_id><iam_role_duration>1800</iam_role_duration><sts_endpoint>${sts.endpoint}</sts_endpoint>`,
      );
      const result = await runCli(args);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ids(out), ['r1', 'r2']);
      assert.equal(sts.calls.length, 1);
      const call = sts.calls[0]!;
      assert.equal(call['Action'], 'AssumeRole');
      assert.equal(call['RoleArn'], role);
      assert.equal(call['ExternalId'], 'ext-id-1234');
      assert.equal(call['RoleSessionName'], 'guardduty-wodle');
      assert.equal(call['DurationSeconds'], '1800');
      assert.match(call['authorization']!, new RegExp(`Credential=${FAKE_AWS_ENV.AWS_ACCESS_KEY_ID}/`), 'AssumeRole is signed with the base credentials');
      assert.deepEqual(proxy.signers(), [ASSUMED.accessKeyId]);
      assert.ok(proxy.requests.every((r) => r.headers['x-amz-security-token'] === ASSUMED.sessionToken));
      assertNoSecrets(result, [ASSUMED.secretAccessKey, ASSUMED.sessionToken, FAKE_AWS_ENV.AWS_SECRET_ACCESS_KEY, 'ext-id-1234']);
    } finally {
      await proxy.stop();
      await sts.stop();
    }
  });

  test('role credentials about to expire are renewed during the pass instead of failing it', async () => {
    const dir = tempDir();
    await bucketWith('cred-refresh', ['f1', 'f2', 'f3']);
    // Credentials that expire within the SDK's five-minute refresh margin are renewed before each use.
    const sts = await FakeSts.start({ lifetimeSeconds: 60 });
    try {
      const role = 'arn:aws:iam::123456789012:role/ShortLived';
      const { out, args } = collect(dir, 'cred-refresh', fake.s3.endpoint, `<iam_role_arn>${role}</iam_role_arn><sts_endpoint>${sts.endpoint}</sts_endpoint>`);
      const result = await runCli([...args, '--concurrency', '1']);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ids(out), ['f1', 'f2', 'f3']);
      assert.ok(sts.calls.length > 1, `${sts.calls.length} AssumeRole calls`);
    } finally {
      await sts.stop();
    }
  });

  test('the default chain (environment) signs the S3 requests; deprecated keys sign them with one warning', async () => {
    const dir = tempDir();
    await bucketWith('cred-default', ['d1']);
    const proxy = await S3Proxy.start(fake.s3.endpoint);
    try {
      const chain = collect(dir, 'cred-default', proxy.endpoint);
      const viaChain = await runCli(chain.args);
      assert.equal(viaChain.code, 0, viaChain.stderr);
      assert.deepEqual(proxy.signers(), [FAKE_AWS_ENV.AWS_ACCESS_KEY_ID]);
      assertNoSecrets(viaChain, [FAKE_AWS_ENV.AWS_SECRET_ACCESS_KEY]);

      proxy.reset();
      const keysDir = tempDir();
      const keys = collect(keysDir, 'cred-default', proxy.endpoint, '<access_key>AKIADEPRECATEDKEY001</access_key><secret_key>deprecated/secret/never/logged</secret_key>');
      const viaKeys = await runCli(keys.args);
      assert.equal(viaKeys.code, 0, viaKeys.stderr);
      assert.deepEqual(ids(keys.out), ['d1']);
      assert.deepEqual(proxy.signers(), ['AKIADEPRECATEDKEY001']);
      const warnings = viaKeys.logs.filter((l) => l['level'] === 40 && /deprecated/.test(String(l['msg'])));
      assert.equal(warnings.length, 1);
      assertNoSecrets(viaKeys, ['deprecated/secret/never/logged', 'AKIADEPRECATEDKEY001']);
    } finally {
      await proxy.stop();
    }
  });

  test('the signing region comes from the environment, else the profile, else the first configured region', async () => {
    await bucketWith('cred-region', ['g1']);
    const proxy = await S3Proxy.start(fake.s3.endpoint);
    const regionsSigned = () => [...new Set(proxy.requests.map((r) => /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(r.headers['authorization']))?.[1]))];
    try {
      const dir = tempDir();
      const config = join(dir, 'config');
      writeFileSync(config, '[profile gov]\nregion = us-gov-west-1\n');
      const credentials = join(dir, 'credentials');
      writeFileSync(credentials, '[gov]\naws_access_key_id = AKIAGOVPROFILEKEY001\naws_secret_access_key = gov/secret\n');
      const files = { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_REGION: '' };
      const viaProfile = collect(tempDir(), 'cred-region', proxy.endpoint, '<aws_profile>gov</aws_profile>');
      assert.equal((await runCli(viaProfile.args, { env: files })).code, 0);
      assert.deepEqual(regionsSigned(), ['us-gov-west-1']);

      proxy.reset();
      const viaRegions = collect(tempDir(), 'cred-region', proxy.endpoint, `<regions>cn-north-1,${REGION}</regions>`);
      assert.equal((await runCli(viaRegions.args, { env: { ...files, AWS_CONFIG_FILE: join(dir, 'none') } })).code, 0);
      assert.deepEqual(regionsSigned(), ['cn-north-1']);

      proxy.reset();
      const viaEnv = collect(tempDir(), 'cred-region', proxy.endpoint, '<aws_profile>gov</aws_profile>');
      assert.equal((await runCli(viaEnv.args, { env: { ...files, AWS_REGION: 'ap-southeast-2' } })).code, 0);
      assert.deepEqual(regionsSigned(), ['ap-southeast-2']);
    } finally {
      await proxy.stop();
    }
  });

  test('S3 throttling (503 SlowDown) and a skewed clock are retried, not fatal', async () => {
    const dir = tempDir();
    await bucketWith('throttled', ['t1']);
    let throttled = 0;
    let skewed = false;
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept(request) {
        if (isList(request) && throttled < 2) {
          throttled++;
          return s3Error(503, 'SlowDown', 'Please reduce your request rate.');
        }
        if (isGetObject(request) && !skewed) {
          skewed = true;
          const answer = s3Error(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
          return { ...answer, headers: { ...answer.headers, date: new Date(Date.now() + 3_600_000).toUTCString() } };
        }
        return undefined;
      },
    });
    try {
      const { out, args } = collect(dir, 'throttled', proxy.endpoint);
      const result = await runCli(args);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(ids(out), ['t1']);
      assert.equal(throttled, 2);
      assert.ok(skewed);
    } finally {
      await proxy.stop();
    }
  });
});

describe('errors an operator can act on', () => {
  interface Case {
    label: string;
    intercept?: (r: SeenRequest) => ReturnType<typeof s3Error> | undefined;
    extra?: string;
    bucket?: string;
    endpoint?: string;
    env?: Record<string, string>;
    wodle?: string;
    code: number;
    message: RegExp;
  }
  const cases: Case[] = [
    {
      label: 'AccessDenied on ListBucket',
      intercept: (r) => (isList(r) ? s3Error(403, 'AccessDenied', 'Access Denied') : undefined),
      code: 1,
      message: /^s3:\/\/errors-bucket: access denied listing the bucket; grant s3:ListBucket on arn:aws:s3:::errors-bucket/,
    },
    {
      // Not the object's fault: no attempt spent, and the pass fails so that the operator hears of it (issue 13).
      label: 'AccessDenied by KMS on GetObject, skip_on_error yes',
      intercept: (r) =>
        isGetObject(r)
          ? s3Error(403, 'AccessDenied', 'User: arn:aws:iam::123456789012:user/reader is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-central-1:123456789012:key/1234')
          : undefined,
      code: 1,
      message: /^s3:\/\/errors-bucket\/AWSLogs\/.+\.jsonl\.gz: access denied by KMS reading the object; grant kms:Decrypt on the export's KMS key .*key policy/,
    },
    {
      label: 'AccessDenied on GetObject, skip_on_error no',
      intercept: (r) => (isGetObject(r) ? s3Error(403, 'AccessDenied', 'Access Denied') : undefined),
      wodle: '<skip_on_error>no</skip_on_error>',
      code: 1,
      message: /^s3:\/\/errors-bucket\/AWSLogs\/.+: access denied reading the object; grant s3:GetObject on arn:aws:s3:::errors-bucket\/\*, and kms:Decrypt/,
    },
    {
      label: 'NoSuchBucket',
      bucket: 'errors-no-such-bucket',
      code: 1,
      message: /^s3:\/\/errors-no-such-bucket: the bucket does not exist; check <name>/,
    },
    {
      label: 'invalid credentials',
      intercept: () => s3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'),
      code: 1,
      message: /^s3:\/\/errors-bucket: credentials rejected: AWS does not know this access key id/,
    },
    {
      label: 'expired credentials',
      intercept: () => s3Error(400, 'ExpiredToken', 'The provided token has expired.'),
      code: 1,
      message: /^s3:\/\/errors-bucket: credentials expired or invalid session token \(ExpiredToken\)/,
    },
    {
      label: 'unknown profile',
      extra: '<aws_profile>no-such-profile</aws_profile>',
      env: { AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config' },
      code: 1,
      message: /^s3:\/\/errors-bucket: aws_profile no-such-profile is not in the shared config or credentials files/,
    },
    {
      label: 'unreachable endpoint',
      endpoint: 'http://127.0.0.1:9',
      code: 1,
      message: /^s3:\/\/errors-bucket: cannot reach http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\) while listing the bucket; check service_endpoint/,
    },
  ];

  for (const c of cases) {
    test(`${c.label}: one line with the fix, exit ${c.code}`, async () => {
      const dir = tempDir();
      const bucket = c.bucket ?? 'errors-bucket';
      if (!c.bucket) {
        fake.s3.createBucket(bucket);
        fake.s3.server.emptyBucket(bucket);
        await bucketWith(bucket, ['e1']);
      }
      const proxy = await S3Proxy.start(fake.s3.endpoint, { intercept: c.intercept });
      try {
        const { args } = collect(dir, bucket, c.endpoint ?? proxy.endpoint, c.extra ?? '', c.wodle ?? '');
        const result = await runCli(args, { env: c.env ?? {} });
        assert.equal(result.code, c.code, result.stderr);
        const errors = errorLines(result);
        assert.equal(errors.length, 1, errors.join('\n'));
        assert.match(errors[0]!, c.message);
        assert.ok(!errors[0]!.includes('\n'));
        assertNoSecrets(result, [FAKE_AWS_ENV.AWS_SECRET_ACCESS_KEY]);
      } finally {
        await proxy.stop();
      }
    });
  }
});

describe('discard_regex and remove_from_bucket', () => {
  test('two discard rules, a number and a nested string: exactly the other findings arrive', async () => {
    const dir = tempDir();
    const bucket = 'discard-two-rules';
    fake.s3.createBucket(bucket);
    const probe = JSON.parse(readSample('SEKOIA-IO__Recon-EC2-PortProbeUnprotectedPort.json'));
    const findings = [
      { ...makeFinding(ACCOUNT, REGION, 'sev8'), severity: 8 },
      { ...makeFinding(ACCOUNT, REGION, 'sev8.5'), severity: 8.5 },
      { ...makeFinding(ACCOUNT, REGION, 'sev5'), severity: 5 },
      { ...probe, id: 'probe', severity: 2 },
      { ...probe, id: 'probe-sev8', severity: 8 },
    ];
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, today()), jsonlGz(findings));
    const { out, args } = collect(dir, bucket, fake.s3.endpoint, '<discard_regex field="severity">8$</discard_regex>\n<discard_regex field="service.action.actionType">PORT_PROBE</discard_regex>');
    const result = await runCli(args);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(ids(out), ['sev5', 'sev8.5']);
    assert.equal(result.logs.find((l) => String(l['msg']).startsWith('bucket pass'))!['discarded'], 3);
  });

  test('remove_from_bucket: processed objects are gone, others stay, reruns emit nothing; a denied delete warns and is retried', async () => {
    const dir = tempDir();
    const bucket = 'remove-objects';
    await bucketWith(bucket, ['x1', 'x2']);
    const outside = [`AWSLogs/${ACCOUNT}/GuardDuty/${REGION}/readme.txt`, 'other/file.json'];
    for (const key of outside) await fake.s3.put(bucket, key, 'keep me');
    let denyDeletes = true;
    const proxy = await S3Proxy.start(fake.s3.endpoint, {
      intercept: (r) => (r.method === 'DELETE' && denyDeletes ? s3Error(403, 'AccessDenied', 'Access Denied') : undefined),
    });
    try {
      const { out, args } = collect(dir, bucket, proxy.endpoint, '<remove_from_bucket>yes</remove_from_bucket>');
      const denied = await runCli(args);
      assert.equal(denied.code, 0, denied.stderr);
      assert.deepEqual(ids(out), ['x1', 'x2']);
      const warnings = denied.logs.filter((l) => l['level'] === 40).map((l) => String(l['msg']));
      assert.equal(warnings.length, 2);
      assert.ok(warnings.every((w) => /access denied deleting the object; grant s3:DeleteObject .*tried again on a later pass/.test(w)), warnings.join('\n'));

      const again = await runCli(args);
      assert.equal(again.code, 0);
      assert.deepEqual(ids(out), ['x1', 'x2'], 'a failed delete never sends the events again');
      assert.equal(again.logs.filter((l) => l['level'] === 40).length, 2, 'one warning per object per pass');

      denyDeletes = false;
      const allowed = await runCli(args);
      assert.equal(allowed.code, 0);
      assert.deepEqual((await fake.s3.keys(bucket)).sort(), outside.sort());
      assert.deepEqual(ids(out), ['x1', 'x2']);
      assert.ok(stateRows(join(dir, 'state.db')).every((r) => r.status === 'done'));
      const last = await runCli(args);
      assert.equal(last.code, 0);
      assert.deepEqual(ids(out), ['x1', 'x2']);
      assert.equal(last.logs.filter((l) => l['level'] === 40).length, 0);
    } finally {
      await proxy.stop();
    }
  });
});
