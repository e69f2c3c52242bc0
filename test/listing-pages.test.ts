// The page loop of a listing (src/aws/listing.ts), given pages by a function: what it yields, when it
// fails, and that a stop ends it quietly however the pages go.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ListPage, ListQuery } from '../src/aws/direct.js';
import { ListingError, checkedListing, type PageFetch } from '../src/aws/listing.js';

function page(keys: string[], truncated: boolean, nextToken?: string, prefixes: string[] = []): ListPage {
  return { contents: keys.map((key) => ({ key, size: 1, etag: '"e"', lastModified: undefined })), prefixes, keyCount: keys.length + prefixes.length, truncated, nextToken };
}

/** Pages by continuation token ('' for the first), and the queries asked. */
function pagesOf(byToken: Record<string, ListPage>): { fetch: PageFetch; asked: ListQuery[] } {
  const asked: ListQuery[] = [];
  return {
    asked,
    fetch: async (query) => {
      asked.push(query);
      const answer = byToken[query.continuationToken ?? ''];
      assert.ok(answer, `no page for token ${query.continuationToken}`);
      return answer;
    },
  };
}

async function keysOf(fetch: PageFetch, signal?: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of checkedListing(fetch, { bucket: 'b', prefix: 'p/' }, { prefix: 'p/', startAfter: 'p/2026/' }, (p) => p.contents, (o) => o.key, signal)) {
    keys.push(object.key);
  }
  return keys;
}

describe('checkedListing', () => {
  test('follows tokens to the end; StartAfter only on the first page; each key once', async () => {
    const { fetch, asked } = pagesOf({ '': page(['a', 'b'], true, 't1'), t1: page(['b', 'c'], true, 't2'), t2: page(['d'], false) });
    assert.deepEqual(await keysOf(fetch), ['a', 'b', 'c', 'd']);
    assert.deepEqual(
      asked.map((q) => [q.continuationToken, q.startAfter]),
      [
        [undefined, 'p/2026/'],
        ['t1', undefined],
        ['t2', undefined],
      ],
    );
  });

  test('a last page may carry a token: IsTruncated false ends the listing', async () => {
    const { fetch } = pagesOf({ '': page(['a'], false, 'ignored') });
    assert.deepEqual(await keysOf(fetch), ['a']);
  });

  const broken: Array<[string, Record<string, ListPage>, RegExp, string[]]> = [
    ['a repeated token', { '': page(['a'], true, 't'), t: page(['b'], true, 't') }, /^s3:\/\/b: listing p\/: page 2 hands out a continuation token given before/, ['a', 'b']],
    ['no token', { '': page(['a'], true) }, /page 1 says more keys follow \(IsTruncated\) but gives no continuation token/, ['a']],
    ['an empty token', { '': page(['a'], true, '') }, /page 1 says more keys follow/, ['a']],
    ['an empty page that claims more', { '': page([], true, 't') }, /page 1 is empty but says more keys follow/, []],
    ['pages of keys listed before', { '': page(['a'], true, 't1'), t1: page(['a'], true, 't2') }, /page 2 holds only keys listed on earlier pages/, ['a']],
  ];
  for (const [name, pages, error, before] of broken) {
    test(`${name} is a ListingError naming bucket, prefix and page, after the keys before it`, async () => {
      const { fetch } = pagesOf(pages);
      const keys: string[] = [];
      await assert.rejects(async () => {
        for await (const object of checkedListing(fetch, { bucket: 'b', prefix: 'p/' }, { prefix: 'p/' }, (p) => p.contents, (o) => o.key)) keys.push(object.key);
      }, (err: unknown) => err instanceof ListingError && error.test(err.message));
      assert.deepEqual(keys, before);
    });
  }

  test('a folder listing advances on objects as well as on folders', async () => {
    const { fetch } = pagesOf({ '': page(['p/x.json'], true, 't1'), t1: page([], false, undefined, ['p/111111111111/']) });
    const folders: string[] = [];
    for await (const folder of checkedListing(fetch, { bucket: 'b', prefix: 'p/' }, { prefix: 'p/', delimiter: '/' }, (p) => p.prefixes, (f) => f)) folders.push(folder);
    assert.deepEqual(folders, ['p/111111111111/']);
  });

  test('a stop ends it quietly: before the next page, and by aborting the page in flight', async () => {
    const stop = new AbortController();
    let asked = 0;
    const endless: PageFetch = async (query, signal) => {
      asked++;
      if (asked === 3) {
        stop.abort();
        signal?.throwIfAborted();
      }
      return page([`k${asked}`], true, `t${asked}${query.prefix}`);
    };
    assert.deepEqual(await keysOf(endless, stop.signal), ['k1', 'k2']);
    assert.equal(asked, 3);
    assert.deepEqual(await keysOf(endless, stop.signal), [], 'an aborted signal asks for no page');
    assert.equal(asked, 3);
  });

  test('an error of the page request that is not a stop is thrown as it is', async () => {
    const boom = new Error('HTTP 500');
    await assert.rejects(() => keysOf(async () => Promise.reject(boom)), (err) => err === boom);
  });
});
