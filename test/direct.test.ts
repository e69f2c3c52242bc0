import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import type { SourceData } from '@smithy/types';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DirectS3, objectPath, parseListPage, routeOf, s3Signer, signGet, type ListPage } from '../src/aws/direct.js';
import { nativeKey, today } from '../support/findings.js';
import { inProcessBucket } from './helpers/harness.js';
import { S3Proxy, s3Error } from '../support/proxy.js';
import { useFakeS3 } from '../support/s3.js';

const fake = useFakeS3();

/** A SHA-256 (or HMAC-SHA256, given a secret) as @smithy/signature-v4 wants one, from node:crypto. */
function bytes(data: SourceData): string | Buffer {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);
}

class Sha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

describe('direct GetObject: signing and paths', () => {
  test("the signature of AWS's own SigV4 example for S3 (GET /test.txt with a Range header)", async () => {
    // Signature Version 4 documentation, "Example: GET Object": the expected signature is AWS's.
    const signer = s3Signer({ accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' }, Sha256, 'us-east-1');
    const route = { protocol: 'https:' as const, hostname: 'examplebucket.s3.amazonaws.com', port: undefined, basePath: '', region: 'us-east-1' };
    const signed = await signGet(signer, route, 'test.txt', new Date('2013-05-24T00:00:00Z'), {
      range: 'bytes=0-9',
      'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    });
    assert.equal(signed.path, '/test.txt');
    const authorization = signed.headers['authorization']!;
    assert.match(authorization, /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE\/20130524\/us-east-1\/s3\/aws4_request, /);
    assert.match(authorization, /SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, /);
    assert.match(authorization, /Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41$/);
  });

  test('a direct GET declares an unsigned payload and carries the session token of temporary credentials', async () => {
    const signer = s3Signer({ accessKeyId: 'ASIATEMPORARY', secretAccessKey: 'secret', sessionToken: 'token-1' }, Sha256, 'eu-west-1');
    const route = { protocol: 'http:' as const, hostname: '127.0.0.1', port: 9000, basePath: '/bucket', region: 'eu-west-1' };
    const signed = await signGet(signer, route, 'a/b.json', new Date('2026-12-01T10:00:00Z'));
    assert.equal(signed.headers['host'], '127.0.0.1:9000');
    assert.equal(signed.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
    assert.equal(signed.headers['x-amz-security-token'], 'token-1');
    assert.equal(signed.headers['x-amz-date'], '20261201T100000Z');
    assert.match(signed.headers['authorization']!, /Credential=ASIATEMPORARY\/20261201\/eu-west-1\/s3\/aws4_request/);
  });

  test('keys are encoded once per segment, RFC 3986 strictly, slashes kept', () => {
    assert.equal(objectPath('/bucket', "AWSLogs/a b/c+d!'()*é~_-.gz"), "/bucket/AWSLogs/a%20b/c%2Bd%21%27%28%29%2A%C3%A9~_-.gz");
    assert.equal(objectPath('', 'k'), '/k');
  });

  test('the route comes from a signed listing (path style or virtual-hosted) or from a GET of a known key', () => {
    const authorization = 'AWS4-HMAC-SHA256 Credential=AKID/20261201/ap-southeast-2/s3/aws4_request, SignedHeaders=host, Signature=00';
    assert.deepEqual(routeOf({ protocol: 'http:', hostname: '127.0.0.1', port: 4566, path: '/my-bucket/', headers: { authorization } }), {
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4566,
      basePath: '/my-bucket',
      region: 'ap-southeast-2',
    });
    assert.deepEqual(routeOf({ protocol: 'https:', hostname: 'b.s3.ap-southeast-2.amazonaws.com', port: undefined, path: '/', headers: { authorization } })?.basePath, '');
    const get = routeOf({ protocol: 'https:', hostname: 'b.s3.amazonaws.com', port: undefined, path: '/x/a%20b.gz', headers: { authorization } }, 'x/a b.gz');
    assert.equal(get?.basePath, '');
    assert.equal(routeOf({ protocol: 'https:', hostname: 'h', port: undefined, path: '/other', headers: { authorization } }, 'x/a b.gz'), null);
    assert.equal(routeOf({ protocol: 'https:', hostname: 'h', port: undefined, path: '/', headers: {} }), null);
  });
});

describe('direct ListObjectsV2', () => {
  test('a ListBucketResult is read as the SDK reads it: entities decoded, ETag quotes kept, keys untrimmed, pages chained', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>AWSLogs/</Prefix><KeyCount>3</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
  <Contents><Key>AWSLogs/a&amp;b &lt;c&gt; </Key><LastModified>2026-11-30T10:00:00.000Z</LastModified><ETag>&quot;0123abc&quot;</ETag><Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>AWSLogs/0001</Key><LastModified>2026-11-30T11:00:00.000Z</LastModified><ETag>"9f-2"</ETag><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>AWSLogs/123456789012/</Prefix></CommonPrefixes>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>`;
    assert.deepEqual(parseListPage(xml), {
      contents: [
        { key: 'AWSLogs/a&b <c> ', size: 1234, etag: '"0123abc"', lastModified: new Date('2026-11-30T10:00:00.000Z') },
        { key: 'AWSLogs/0001', size: 0, etag: '"9f-2"', lastModified: new Date('2026-11-30T11:00:00.000Z') },
      ],
      prefixes: ['AWSLogs/123456789012/'],
      keyCount: 3,
      truncated: true,
      nextToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=',
    });
    const last = parseListPage('<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated><NextContinuationToken>x</NextContinuationToken></ListBucketResult>');
    assert.deepEqual(last, { contents: [], prefixes: [], keyCount: 0, truncated: false, nextToken: 'x' });
    assert.equal(parseListPage('<Error><Code>AccessDenied</Code></Error>'), null);
    assert.equal(parseListPage('not xml <<<'), null);
  });

  test('pages listed directly are the pages the SDK lists, odd keys, delimiters, start-after and continuation included', async () => {
    const bucket = 'direct-list';
    fake.s3.createBucket(bucket);
    const keys = ['AWSLogs/1/a b+c.gz', "AWSLogs/1/x&y<z>'q'.gz", 'AWSLogs/1/é/ü.gz', 'AWSLogs/2/k.gz', 'AWSLogs/2/l.gz', 'other/m.gz'];
    for (const key of keys) await fake.s3.put(bucket, key, 'x');
    const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    const direct = new DirectS3({ credentials: async () => ({ accessKeyId: 'test', secretAccessKey: 'test' }), sha256: Sha256, clockOffset: () => 0, agents, timeoutMs: 10_000 });
    const url = new URL(fake.s3.endpoint);
    direct.learn({
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      method: 'GET',
      path: `/${bucket}/`,
      query: {},
      headers: { authorization: 'AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00' },
    } as never);
    const viaSdk = async (query: { prefix: string; delimiter?: string; startAfter?: string; maxKeys?: number; continuationToken?: string }): Promise<ListPage> => {
      const page = await fake.s3.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: query.prefix, Delimiter: query.delimiter, StartAfter: query.startAfter, MaxKeys: query.maxKeys, ContinuationToken: query.continuationToken }),
      );
      return {
        contents: (page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified })),
        prefixes: (page.CommonPrefixes ?? []).map((c) => c.Prefix!),
        keyCount: page.KeyCount ?? 0,
        truncated: page.IsTruncated === true,
        nextToken: page.NextContinuationToken,
      };
    };
    try {
      for (const query of [{ prefix: 'AWSLogs/' }, { prefix: 'AWSLogs/', delimiter: '/' }, { prefix: 'AWSLogs/1/', startAfter: 'AWSLogs/1/a b+c.gz' }, { prefix: '', maxKeys: 1 }]) {
        let token: string | undefined;
        let pages = 0;
        let listed = 0;
        do {
          const answer = await direct.list({ ...query, continuationToken: token });
          assert.ok('page' in answer, JSON.stringify(answer));
          assert.deepEqual(answer.page, await viaSdk({ ...query, continuationToken: token }), JSON.stringify(query));
          token = answer.page.truncated ? answer.page.nextToken : undefined;
          listed += answer.page.contents.length;
          pages++;
        } while (token && pages < 10);
        // (How many keys fauxqs hands out over continuation pages is its own affair: the SDK sees the same.)
        if (query.maxKeys === 1) assert.ok(pages > 2 && listed === pages, 'one key a page, chained by continuation tokens');
      }
    } finally {
      agents.http.destroy();
    }
  });
});

/** GETs of object keys the proxy saw: direct ones carry none of the SDK's amz-sdk-* headers. */
function objectGets(proxy: S3Proxy): Array<{ url: string; direct: boolean }> {
  return proxy.requests
    .filter((r) => r.method === 'GET' && !r.url.includes('list-type') && r.url.split('?')[0]!.split('/').length > 3)
    .map((r) => ({ url: r.url, direct: r.headers['amz-sdk-invocation-id'] === undefined }));
}

// Collector passes run in this process (the pipeline whole, through the run context) against fauxqs
// behind a proxy that records each request: which ones the collector sent directly, which through the SDK.
describe('direct GetObject against a real S3 API', () => {
  test('objects are read with direct GETs once the bucket was listed, keys with odd characters included', async () => {
    const names = ["odd name+(1)!'*é.jsonl.gz", 'plain.jsonl.gz', 'tilde~and_dash-.jsonl.gz'];
    const h = await inProcessBucket(fake, 'direct-get', () => '');
    try {
      for (const [i, name] of names.entries()) await h.put(nativeKey('123456789012', 'us-east-1', today(), name), [`direct-${i}`]);
      await h.pass(new Date().toISOString());
      assert.deepEqual(h.ids().sort(), ['direct-0', 'direct-1', 'direct-2']);
      const gets = objectGets(h.proxy);
      assert.equal(gets.length, 3, JSON.stringify(gets));
      assert.ok(gets.every((g) => g.direct), JSON.stringify(gets));
      assert.equal(h.logs.filter((l) => String(l['msg']).startsWith('direct request not answered')).length, 0);
      // The first listing goes through the SDK (nothing learnt yet), the others directly.
      const lists = h.proxy.requests.filter((r) => r.url.includes('list-type=2')).map((r) => r.headers['amz-sdk-invocation-id'] === undefined);
      assert.equal(lists[0], false);
      assert.ok(lists.length > 1 && lists.slice(1).every((direct) => direct), JSON.stringify(lists));
    } finally {
      await h.stop();
    }
  });

  test('a direct GET not answered 200 is asked again through the SDK, whose errors and retries apply', async () => {
    const bucket = 'direct-get-fallback';
    const key = nativeKey('123456789012', 'us-east-1', today());
    const denied = nativeKey('123456789012', 'us-east-1', today());
    let throttled = 0;
    const h = await inProcessBucket(fake, bucket, () => '', {
      expectOk: false,
      proxy: {
        intercept: (r) => {
          if (r.method !== 'GET') return undefined;
          // The first GET of `key` is throttled; every GET of `denied` is refused.
          if (r.url.startsWith(`/${bucket}/${key}`) && throttled++ === 0) return s3Error(503, 'SlowDown', 'Please reduce your request rate.');
          if (r.url.startsWith(`/${bucket}/${denied}`)) return s3Error(403, 'AccessDenied', 'Access Denied');
          return undefined;
        },
      },
    });
    try {
      await h.put(key, ['after-fallback']);
      await h.put(denied, ['never']);
      const pass = await h.pass(new Date().toISOString());
      // The denied object fails the pass (the CLI's exit 1) with the SDK's own explanation; the throttled one is read.
      assert.equal(pass.ok, false);
      assert.deepEqual(h.ids(), ['after-fallback']);
      const fallbacks = h.logs.filter((l) => String(l['msg']).startsWith('direct request not answered'));
      assert.deepEqual(fallbacks.map((l) => [l['key'], l['why']]).sort(), [[key, 'HTTP 503'], [denied, 'HTTP 403']].sort());
      const errors = h.logs.filter((l) => (l['level'] as number) >= 50).map((l) => String(l['msg']));
      assert.ok(errors.some((m) => m.includes(`s3://${bucket}/${denied}: access denied reading the object`)), errors.join('\n'));
      const gets = objectGets(h.proxy);
      // key: direct (503), then the SDK (200); denied: direct (403), then the SDK, which does not retry a 403.
      assert.deepEqual(gets.filter((g) => g.url.includes(key)).map((g) => g.direct), [true, false]);
      assert.deepEqual(gets.filter((g) => g.url.includes(denied)).map((g) => g.direct), [true, false]);
    } finally {
      await h.stop();
    }
  });
});
