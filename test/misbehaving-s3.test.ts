// Issue 22: an S3 that misbehaves without an HTTP error. Listings that do not advance or end silently,
// bodies cut short under a 200, one object that is always cut among good ones, one object S3 refuses.
// Collector passes in this process against real fauxqs behind a proxy that answers for S3.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DEFAULT_LIMITS } from '../src/vocabulary.js';
import { addDays } from '../src/walk/dates.js';
import { ENCODINGS, EXTENSIONS, encode } from './helpers/encodings.js';
import { firehoseKey, makeFinding, nativeKey } from '../support/findings.js';
import { inProcessBucket, isGet, isList } from './helpers/harness.js';
import { s3Error, type Answer, type SeenRequest } from '../support/proxy.js';
import { stateRows } from './helpers/state.js';
import { useFakeS3 } from '../support/s3.js';

const fake = useFakeS3();
const DAY0 = '2026-09-01';
const ACCOUNT = '222222222222';
const REGION = 'eu-north-1';

function query(r: SeenRequest): URLSearchParams {
  return new URL(r.url, 'http://x').searchParams;
}

function errorsOf(logs: Array<Record<string, unknown>>): string[] {
  return logs.filter((l) => Number(l['level']) >= 50).map((l) => String(l['msg']));
}

function counts(ids: string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
  return seen;
}

/** A ListObjectsV2 page as S3 writes it, of entries fauxqs really holds. */
function listPage(entries: Array<{ Key?: string; Size?: number; ETag?: string }>, truncated: boolean, token?: string): Answer {
  const contents = entries
    .map((e) => `<Contents><Key>${e.Key}</Key><LastModified>2026-09-01T00:00:00.000Z</LastModified><ETag>${e.ETag!.replaceAll('"', '&quot;')}</ETag><Size>${e.Size}</Size></Contents>`)
    .join('');
  const next = token === undefined ? '' : `<NextContinuationToken>${token}</NextContinuationToken>`;
  return {
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult><Name>b</Name><Prefix></Prefix><KeyCount>${entries.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${next}</ListBucketResult>`,
  };
}

describe('listings that misbehave', () => {
  // Pages of the partition's listing as a broken store gives them: indexes into the five real keys.
  const cases: Array<{ name: string; pages: Array<{ keys: number[]; truncated: boolean; token?: string }>; error: RegExp | null; readFirst: number[] }> = [
    {
      name: 'every page hands out the same continuation token',
      pages: [{ keys: [0, 1], truncated: true, token: 'T' }, { keys: [2], truncated: true, token: 'T' }],
      error: /page 2 hands out a continuation token given before: the listing does not advance/,
      readFirst: [0, 1, 2],
    },
    {
      name: 'a page says IsTruncated but gives no token',
      pages: [{ keys: [0, 1], truncated: true }],
      error: /page 1 says more keys follow \(IsTruncated\) but gives no continuation token/,
      readFirst: [0, 1],
    },
    {
      name: 'an empty page claims more',
      pages: [{ keys: [0], truncated: true, token: 'A' }, { keys: [], truncated: true, token: 'B' }],
      error: /page 2 is empty but says more keys follow/,
      readFirst: [0],
    },
    {
      name: 'pages repeat the same keys under new tokens',
      pages: [{ keys: [0, 1], truncated: true, token: 'A' }, { keys: [0, 1], truncated: true, token: 'B' }],
      error: /page 2 holds only keys listed on earlier pages: the listing does not advance/,
      readFirst: [0, 1],
    },
    {
      name: 'a key appears on two pages (read and counted once)',
      pages: [{ keys: [0, 1, 2], truncated: true, token: 'A' }, { keys: [2, 3, 4], truncated: false }],
      error: null,
      readFirst: [0, 1, 2, 3, 4],
    },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      let pages: typeof c.pages | null = c.pages;
      let entries: Array<{ Key?: string; Size?: number; ETag?: string }> = [];
      const h = await inProcessBucket(fake, `lst-bad-${cases.indexOf(c)}`, () => `<path>fh</path><only_logs_after>${DAY0}</only_logs_after>`, {
        expectOk: false,
        proxy: {
          intercept: (r) => {
            if (pages === null || !isList(r) || query(r).get('prefix') !== 'fh/' || query(r).has('max-keys')) return undefined;
            const token = query(r).get('continuation-token');
            const index = token === null ? 0 : pages.findIndex((p) => p.token === token) + 1;
            const page = pages[index];
            assert.ok(page, `page after token ${token}`);
            return listPage(page.keys.map((k) => entries[k]!), page.truncated, page.token);
          },
        },
      });
      try {
        const ids = ['a', 'b', 'c', 'd', 'e'];
        for (const [i, id] of ids.entries()) await h.put(firehoseKey(addDays(DAY0, 1), i, '.gz', 'fh/'), [id]);
        entries = (await fake.s3.client.send(new ListObjectsV2Command({ Bucket: h.bucket, Prefix: 'fh/' }))).Contents!;
        const keyIds = new Map(entries.map((e, i) => [e.Key!, i]));
        const first = await h.pass(`${addDays(DAY0, 2)}T12:00:00Z`);
        const readFirst = c.readFirst.map((k) => entries[k]!.Key!);
        assert.deepEqual(first.gets.map((r) => decodeURIComponent(new URL(r.url, 'http://x').pathname.replace(`/${h.bucket}/`, ''))).sort(), readFirst.sort(), 'each key read once');
        assert.equal(first.summary.listed, c.readFirst.length, 'and counted once');
        assert.equal(first.summary.done, c.readFirst.length);
        const errors = errorsOf(h.logs);
        if (c.error === null) {
          assert.equal(first.ok, true, errors.join('\n'));
          assert.deepEqual(errors, []);
        } else {
          assert.equal(first.ok, false);
          assert.equal(errors.length, 1, errors.join('\n'));
          assert.match(errors[0]!, new RegExp(`^s3://${h.bucket}: listing fh/: `));
          assert.match(errors[0]!, c.error);
          assert.equal(first.windowStart('fh/'), null, 'nothing recorded as listed past the bad page');
          assert.ok(first.lists.length <= c.pages.length + 2, `${first.lists.length} LISTs: the loop ended`);
        }
        // The store mended, the next pass reads the rest: every finding once.
        pages = null;
        const healed = await h.pass(`${addDays(DAY0, 2)}T13:00:00Z`);
        assert.equal(healed.ok, true);
        assert.deepEqual([...counts(h.ids()).entries()].sort(), ids.map((id) => [id, 1]));
        assert.equal(keyIds.size, ids.length);
      } finally {
        await h.stop();
      }
    });
  }
});

/** Ten EventBridge events of GuardDuty findings, one per line, and their ids. */
function eventBridgeLines(prefix: string): { data: Buffer; ids: string[] } {
  const ids = Array.from({ length: 10 }, (_, i) => `${prefix}-${i}`);
  const lines = ids.map((id) =>
    JSON.stringify({ version: '0', id: `evt-${id}`, 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', account: ACCOUNT, region: REGION, detail: makeFinding(ACCOUNT, REGION, id) }),
  );
  return { data: Buffer.from(lines.join('\n') + '\n'), ids };
}

describe('bodies cut short under a 200', () => {
  const faults = ['short-length', 'chunked-cut', 'close-cut'] as const;
  for (const encoding of ENCODINGS) {
    test(`${encoding}: a body shorter than the listed size is never decoded as whole, whatever the answer claimed (${faults.join(', ')})`, async () => {
      let fault: (typeof faults)[number] | null = null;
      let cutKey = '';
      const h = await inProcessBucket(fake, `cut-${encoding}`, () => `<path>fh</path><only_logs_after>${DAY0}</only_logs_after>`, {
        expectOk: false,
        proxy: {
          intercept: (r) => {
            if (fault === null || !isGet(r) || !r.url.includes(cutKey.split('/').pop()!)) return undefined;
            // Plain text is cut at a line end: every document before the cut parses.
            return { fault, cutAt: (body) => (encoding === 'plain' ? body.lastIndexOf('\n', Math.floor(body.length / 2)) + 1 : Math.floor(body.length / 2)) };
          },
        },
      });
      try {
        const all: string[] = [];
        for (const [n, f] of faults.entries()) {
          const { data, ids } = eventBridgeLines(`${encoding}-${f}`);
          cutKey = firehoseKey(addDays(DAY0, 1), n, EXTENSIONS[encoding], 'fh/');
          await fake.s3.put(h.bucket, cutKey, await encode(encoding, data));
          all.push(...ids);
          fault = f;
          const cut = await h.pass(`${addDays(DAY0, 2)}T0${n}:00:00Z`);
          assert.equal(cut.ok, false, `${f}: the pass fails`);
          assert.equal(cut.summary.done, 0, `${f}: not recorded done`);
          const row = stateRows(h.statePath).find((r) => r.key === cutKey)!;
          assert.deepEqual([row.status, row.failure, row.attempts], ['failed', 'transient', 0], `${f}: ${JSON.stringify(row)}`);
          assert.ok(errorsOf(h.logs).some((m) => m.includes(cutKey) && /cut off after|reading the object body failed/.test(m)), `${f}: an error names the key`);
          fault = null;
          const healed = await h.pass(`${addDays(DAY0, 2)}T0${n}:30:00Z`);
          assert.equal(healed.ok, true, `${f}: healed`);
          assert.deepEqual([...counts(h.ids()).entries()].sort(), all.map((id) => [id, 1]).sort(), `${f}: every finding once`);
        }
      } finally {
        await h.stop();
      }
    });
  }

  test('one object served short of its size on every read among 120 good ones: the bucket\'s pass goes on, the object spends an attempt per pass with whole reads, then is left failed', async () => {
    let badKey = '';
    const h = await inProcessBucket(fake, 'short-among-good', () => `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after>`, {
      expectOk: false,
      proxy: { intercept: (r) => (isGet(r) && r.url.includes(badKey.split('/').pop()!) ? { fault: 'close-cut' } : undefined) },
    });
    const limits = { limits: { ...DEFAULT_LIMITS, maxAttempts: 2 } };
    try {
      badKey = nativeKey(ACCOUNT, REGION, addDays(DAY0, 1), '00000000-bad.jsonl.gz');
      await h.put(badKey, ['bad']);
      const good = Array.from({ length: 120 }, (_, i) => `good-${i}`);
      for (const id of good) await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, 1)), [id]);
      const first = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`, limits);
      assert.equal(first.summary.done, 120, 'every good object read in the first pass');
      assert.equal(first.summary.interrupted, null, 'the bucket did not stop');
      assert.equal(first.gets.filter((r) => r.url.includes('00000000-bad')).length, 3, 'three reads of it in the pass');
      let row = stateRows(h.statePath).find((r) => r.key === badKey)!;
      assert.deepEqual([row.status, row.failure, row.attempts], ['failed', 'isolated', 1]);
      assert.ok(h.logs.some((l) => String(l['msg']).includes("the object's own failure, attempt 1 of 2")), 'the pass says so');

      // With new objects read whole beside it, its second attempt is spent and it is left failed.
      for (const id of ['late-1', 'late-2']) await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, 2)), [id]);
      const second = await h.pass(`${addDays(DAY0, 2)}T12:00:00Z`, limits);
      assert.equal(second.summary.done, 2);
      row = stateRows(h.statePath).find((r) => r.key === badKey)!;
      assert.deepEqual([row.status, row.failure, row.attempts], ['failed', 'isolated', 2]);
      const third = await h.pass(`${addDays(DAY0, 2)}T18:00:00Z`, limits);
      assert.equal(third.ok, true, 'given up under skip_on_error: the pass is clean');
      assert.equal(third.gets.length, 0, 'not read again');
      assert.deepEqual([...counts(h.ids()).keys()].sort(), [...good, 'late-1', 'late-2'].sort());
      assert.ok([...counts(h.ids()).values()].every((n) => n === 1));
    } finally {
      await h.stop();
    }
  });

  test('one object S3 answers 500 among 120 good ones: the bucket\'s pass goes on, and a service error never spends an attempt (CONTRACT.md)', async () => {
    let failing = true;
    const h = await inProcessBucket(fake, 'error-among-good', () => `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after>`, {
      expectOk: false,
      proxy: { intercept: (r) => (failing && isGet(r) && r.url.includes('00000000-err') ? s3Error(500, 'InternalError', 'We encountered an internal error.') : undefined) },
    });
    const limits = { limits: { ...DEFAULT_LIMITS, maxAttempts: 2 } };
    const errKey = nativeKey(ACCOUNT, REGION, addDays(DAY0, 1), '00000000-err.jsonl.gz');
    try {
      await h.put(errKey, ['err']);
      const good = Array.from({ length: 120 }, (_, i) => `good-${i}`);
      for (const id of good) await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, 1)), [id]);
      for (const at of ['T12', 'T13', 'T14']) {
        const pass = await h.pass(`${addDays(DAY0, 1)}${at}:00:00Z`, limits);
        assert.equal(pass.ok, false, 'the pass fails (exit 1)');
        assert.equal(pass.summary.interrupted, null, 'the bucket did not stop');
        const row = stateRows(h.statePath).find((r) => r.key === errKey)!;
        assert.deepEqual([row.status, row.failure, row.attempts], ['failed', 'transient', 0], `${at}: no attempt spent`);
      }
      assert.deepEqual([...counts(h.ids()).keys()].sort(), good.sort(), 'all 120 read in the first pass, once');
      failing = false;
      const healed = await h.pass(`${addDays(DAY0, 1)}T15:00:00Z`, limits);
      assert.equal(healed.ok, true);
      assert.equal(counts(h.ids()).get('err'), 1);
    } finally {
      await h.stop();
    }
  });

  test('failing objects in a row with none read whole are an outage: the bucket stops and no attempt is spent', async () => {
    const h = await inProcessBucket(fake, 'outage-in-a-row', () => `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after>`, {
      expectOk: false,
      proxy: { intercept: (r) => (isGet(r) ? { fault: 'close-cut' } : undefined) },
    });
    try {
      for (let i = 0; i < 12; i++) await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, 1)), [`o-${i}`]);
      const pass = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`, { concurrency: 1 });
      assert.equal(pass.summary.done, 0);
      assert.match(String(pass.summary.interrupted), /3 objects in a row failed \(transient\) with none read whole between them: an outage; this bucket stopped/);
      const failed = stateRows(h.statePath).filter((r) => r.status === 'failed');
      assert.equal(failed.length, 3, 'the bucket stops at the third failure in a row');
      assert.ok(failed.every((r) => r.failure === 'transient' && r.attempts === 0), JSON.stringify(failed));
    } finally {
      await h.stop();
    }
  });
});

describe('an object S3 refuses', () => {
  test('does not hold the listing window: the window follows the data, the key is read again by key (one LIST a pass), and once allowed it is read', async () => {
    let refused = true;
    let deniedKey = '';
    const h = await inProcessBucket(fake, 'refused-window', () => `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after>`, {
      expectOk: false,
      proxy: {
        intercept: (r) => (refused && isGet(r) && r.url.includes(deniedKey.split('/').pop()!) ? s3Error(403, 'AccessDenied', 'Access Denied') : undefined),
      },
    });
    const prefix = `AWSLogs/${ACCOUNT}/GuardDuty/${REGION}/`;
    try {
      deniedKey = nativeKey(ACCOUNT, REGION, addDays(DAY0, 1), 'denied.jsonl.gz');
      await h.put(deniedKey, ['denied']);
      await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, 1)), ['day1']);
      const first = await h.pass(`${addDays(DAY0, 1)}T12:00:00Z`);
      assert.equal(first.ok, false, 'a refused object fails the pass (exit 1)');
      for (let d = 2; d <= 6; d++) {
        await h.put(nativeKey(ACCOUNT, REGION, addDays(DAY0, d)), [`day${d}`]);
        const p = await h.pass(`${addDays(DAY0, d)}T12:00:00Z`);
        assert.equal(p.windowStart(prefix), addDays(DAY0, d - 1), `day ${d}: the window follows the newest object, not the refused one`);
        assert.equal(p.lists.length, 1, `day ${d}: one LIST`);
        assert.equal(query(p.lists[0]!).get('start-after'), `${prefix}${addDays(DAY0, d - 2).replaceAll('-', '/')}/`, 'listed from where the last pass left the window');
        // One read: the direct request refused, then the SDK's own (direct.ts).
        assert.equal(p.gets.filter((r) => r.url.includes('denied.jsonl.gz')).length, 2, `day ${d}: the refused key is read again, by key`);
      }
      const row = stateRows(h.statePath).find((r) => r.key === deniedKey)!;
      assert.deepEqual([row.status, row.failure, row.attempts], ['failed', 'denied', 0], 'a refusal spends no attempt');
      refused = false;
      const allowed = await h.pass(`${addDays(DAY0, 6)}T18:00:00Z`);
      assert.equal(allowed.ok, true);
      assert.deepEqual(h.ids().sort(), ['day1', 'day2', 'day3', 'day4', 'day5', 'day6', 'denied'].sort());
      assert.equal(stateRows(h.statePath).find((r) => r.key === deniedKey)!.status, 'done');
    } finally {
      await h.stop();
    }
  });
});
