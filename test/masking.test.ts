// A password in service_endpoint or sts_endpoint (https://user:pass@host) is never printed: not by
// --check-config, not in configuration errors, not in "cannot reach" lines or any log line. What the
// built CLI prints (stdout and every stderr line, at trace): process/masking-cli.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { explainAwsError } from '../src/aws/errors.js';
import { describeConfig, parseConfig } from '../src/config/load.js';
import { maskUrl, maskUrlsIn } from '../src/config/values.js';
import { refusalOf } from './helpers/config-refusal.js';
import { PASSWORD, STS_PASSWORD, maskedConf } from './helpers/masked-config.js';


describe('maskUrl', () => {
  const cases: Array<[url: string, printed: string]> = [
    ['http://user:s3cr3t@127.0.0.1:9', 'http://user:****@127.0.0.1:9'],
    ['https://user:s3cr3t@host/', 'https://user:****@host/'],
    ['https://user:s3cr3t@s3.example.com:8443/base?x=1', 'https://user:****@s3.example.com:8443/base?x=1'],
    ['https://user:p%40ss%3Aw0rd@host', 'https://user:****@host'],
    ['https://user:p@ss@host', 'https://user:****@host'],
    ['https://us%20er:s3cr3t@host', 'https://us%20er:****@host'],
    // Not URLs the parser takes: an error quoting them masks everything that may be the password.
    ['https://user:pa/ss@host', 'https://user:****@host'],
    ['https://user:s3 cr3t@ho st', 'https://user:****@ho st'],
    ['user:s3cr3t@host', 'user:****@host'],
    // Nothing to hide: left as written.
    ['https://s3.eu-west-1.amazonaws.com', 'https://s3.eu-west-1.amazonaws.com'],
    ['https://user@host', 'https://user@host'],
    ['http://127.0.0.1:4566', 'http://127.0.0.1:4566'],
    ['https://host/path@x', 'https://host/path@x'],
  ];
  for (const [url, printed] of cases) {
    test(`${url} → ${printed}`, () => {
      assert.equal(maskUrl(url), printed);
    });
  }

  test('maskUrlsIn masks every URL in a message and leaves the rest', () => {
    const message = 'connect to http://user:s3cr3t@127.0.0.1:9/b failed; retried https://a:b@c (twice)';
    const masked = maskUrlsIn(message);
    assert.equal(masked, 'connect to http://user:****@127.0.0.1:9/b failed; retried https://a:****@c (twice)');
    assert.equal(maskUrlsIn('no url here: a@b'), 'no url here: a@b');
  });
});

describe('where endpoints are printed', () => {
  const conf = maskedConf;

  test('describeConfig (the --check-config JSON) masks both endpoints, of buckets and subscribers; the configuration keeps the real ones', () => {
    const config = parseConfig(conf(''), 'ossec.conf');
    const bucket = config.wodles[0]!.buckets[0]!;
    assert.equal(bucket.serviceEndpoint, `http://user:${PASSWORD}@127.0.0.1:9`, 'the SDK gets the real URL');
    const printed = describeConfig(config) as { wodles: Array<{ buckets: Array<Record<string, unknown>>; subscribers: Array<{ access: Record<string, unknown> }> }> };
    const text = JSON.stringify(printed);
    assert.ok(!text.includes(PASSWORD) && !text.includes(STS_PASSWORD), text);
    assert.equal(printed.wodles[0]!.buckets[0]!['serviceEndpoint'], 'http://user:****@127.0.0.1:9');
    assert.equal(printed.wodles[0]!.buckets[0]!['stsEndpoint'], 'https://stsuser:****@sts.example.com');
    assert.equal(printed.wodles[0]!.subscribers[0]!.access['serviceEndpoint'], 'http://quser:****@127.0.0.1:9');
    assert.equal(printed.wodles[0]!.subscribers[0]!.access['stsEndpoint'], 'https://qsts:****@sts.example.com');
  });

  test('explainAwsError: "cannot reach" names the masked endpoint, and URLs in the SDK message are masked', () => {
    const refused = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:9 (http://user:${PASSWORD}@127.0.0.1:9/gd)`), { code: 'ECONNREFUSED' });
    const line = explainAwsError(refused, { bucket: 'gd', operation: 'list', endpoint: `http://user:${PASSWORD}@127.0.0.1:9` });
    assert.ok(line.startsWith('s3://gd: cannot reach http://user:****@127.0.0.1:9 (ECONNREFUSED) while listing the bucket'), line);
    const other = Object.assign(new Error(`bad answer from https://user:${PASSWORD}@127.0.0.1:9/gd`), { name: 'Weird', $metadata: { httpStatusCode: 500 } });
    const otherLine = explainAwsError(other, { bucket: 'gd', operation: 'get', key: 'k', endpoint: `http://user:${PASSWORD}@127.0.0.1:9` });
    assert.ok(!otherLine.includes(PASSWORD), otherLine);
    assert.ok(otherLine.includes('https://user:****@127.0.0.1:9/gd'), otherLine);
  });

  test('a configuration error about an endpoint quotes it masked (the CLI prints it as it is, exit 2)', () => {
    for (const [endpoint, masked] of [
      [`ftp://user:${PASSWORD}@127.0.0.1:9`, 'ftp://user:****@127.0.0.1:9'],
      [`https://user:${PASSWORD}@[not-a-host`, 'https://user:****@[not-a-host'],
    ] as const) {
      const { file, message } = refusalOf(conf('').replace(`http://user:${PASSWORD}@127.0.0.1:9`, endpoint));
      assert.ok(!message.includes(PASSWORD), message);
      assert.ok(message.includes(`${file}:5: <service_endpoint> "${masked}"`), message);
    }
  });
});
