// Listing engine v2 (issue 12): one paginated ListObjectsV2 per partition and pass, from the folder of
// the newest object settled (less a grace day) to the end of the listing, so late objects in any folder
// from there on are read. Against real fauxqs, behind a proxy that counts requests, with the collector's
// clock injected.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { inProcessBucket } from './helpers/harness.js';
import { migrate, SCHEMA_VERSION } from '../src/state/migrations.js';
import { addDays } from '../src/walk/dates.js';
import { firehoseKey, jsonlGz, makeFinding, nativeKey } from '../support/findings.js';
import type { SeenRequest } from '../support/proxy.js';
import { useFakeS3 } from '../support/s3.js';
import { stateRows } from './helpers/state.js';

const fake = useFakeS3();
const DAY0 = '2026-10-01';

function harness(bucket: string, bucketXml: (endpoint: string) => string) {
  return inProcessBucket(fake, bucket, bucketXml);
}

/** The listing request's prefix and start-after, decoded. */
function listing(r: SeenRequest): { prefix: string; startAfter: string | null; token: boolean } {
  const query = new URL(r.url, 'http://x').searchParams;
  return { prefix: query.get('prefix') ?? '', startAfter: query.get('start-after'), token: query.has('continuation-token') };
}

describe('listing engine', () => {
  test('many partitions: one LIST per partition per pass, first and idle alike, starting at the window\'s first folder', async () => {
    const accounts = ['100000000001', '100000000002', '100000000003'];
    const regions = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-south-1'];
    const h = await harness('lst-many', () => `<regions>${regions.join(',')}</regions><only_logs_after>${DAY0}</only_logs_after>`);
    try {
      const expected: string[] = [];
      // Three partitions with objects, spread over ten days; twelve more that are empty.
      for (const [a, account] of accounts.entries()) {
        for (let d = 0; d < 10; d += 3) {
          const id = `${account}-${d}`;
          expected.push(id);
          await h.put(nativeKey(account, regions[a]!, addDays(DAY0, d)), [id]);
        }
      }
      const first = await h.pass(`${addDays(DAY0, 10)}T12:00:00Z`);
      assert.deepEqual(h.ids().sort(), expected.sort());
      const partitions = accounts.length * regions.length;
      // 1 layout probe + 1 account listing + one per partition; then a GET per object.
      assert.equal(first.lists.length, 1 + 1 + partitions, JSON.stringify(first.lists.map(listing)));
      assert.equal(first.gets.length, expected.length);
      assert.equal(first.summary.partitions, partitions);
      const partitionLists = first.lists.map(listing).filter((l) => /^AWSLogs\/\d{12}\/GuardDuty\/[^/]+\/$/.test(l.prefix));
      assert.equal(partitionLists.length, partitions);
      for (const l of partitionLists) assert.equal(l.startAfter, `${l.prefix}${DAY0.replaceAll('-', '/')}/`, 'first pass starts at only_logs_after');

      // Idle, the next day: the same count less the layout probe (the state knows the layout), nothing
      // fetched; partitions with objects now start at their newest day less one, empty ones stay at
      // only_logs_after.
      const idle = await h.pass(`${addDays(DAY0, 11)}T08:00:00Z`);
      assert.equal(idle.requests, 1 + partitions);
      assert.equal(idle.gets.length, 0);
      const starts = new Map(idle.lists.map(listing).map((l) => [l.prefix, l.startAfter]));
      const busy = `AWSLogs/${accounts[0]}/GuardDuty/${regions[0]}/`;
      assert.equal(starts.get(busy), `${busy}${addDays(DAY0, 8).replaceAll('-', '/')}/`);
      const empty = `AWSLogs/${accounts[0]}/GuardDuty/${regions[4]}/`;
      assert.equal(starts.get(empty), `${empty}${DAY0.replaceAll('-', '/')}/`);
      assert.equal(h.ids().length, expected.length, 'nothing sent twice');
    } finally {
      await h.stop();
    }
  });

  test('late objects: into a quiet partition\'s newest day (sorting before what was read) and into a new day a week later', async () => {
    const account = '200000000001';
    const region = 'eu-west-1';
    const h = await harness('lst-late', () => `<aws_account_id>${account}</aws_account_id><regions>${region}</regions><only_logs_after>${DAY0}</only_logs_after>`);
    const key = (day: string, name: string) => nativeKey(account, region, day, `${name}.jsonl.gz`);
    try {
      await h.put(key(addDays(DAY0, 2), 'm-first'), ['first']);
      await h.pass(`${addDays(DAY0, 2)}T10:00:00Z`);
      assert.deepEqual(h.ids(), ['first']);
      // A week of quiet passes.
      for (let d = 3; d <= 9; d++) assert.equal((await h.pass(`${addDays(DAY0, d)}T10:00:00Z`)).gets.length, 0);
      // A replica copies in an object of the newest day whose name sorts before the one read …
      await h.put(key(addDays(DAY0, 2), 'a-late-same-day'), ['late-same-day']);
      // … and one into a day folder between then and today.
      await h.put(key(addDays(DAY0, 5), 'z-late-new-day'), ['late-new-day']);
      const late = await h.pass(`${addDays(DAY0, 10)}T10:00:00Z`);
      assert.deepEqual(h.ids().sort(), ['first', 'late-new-day', 'late-same-day']);
      assert.equal(late.gets.length, 2);
      assert.equal(late.lists.length, 1, 'one LIST for the partition (the layout comes from the state)');
      // The window moved to the newest object settled (day 5) less a day.
      const prefix = `AWSLogs/${account}/GuardDuty/${region}/`;
      assert.equal(late.windowStart(prefix), addDays(DAY0, 4));
      // Keys outside the layout under the prefix are skipped, as before.
      await fake.s3.put(h.bucket, `${prefix}${addDays(DAY0, 6).replaceAll('-', '/')}/nested/x.jsonl.gz`, jsonlGz([makeFinding(account, region, 'nested')]));
      const after = await h.pass(`${addDays(DAY0, 10)}T11:00:00Z`);
      assert.equal(after.gets.length, 0);
      assert.equal(h.ids().length, 3);
    } finally {
      await h.stop();
    }
  });

  test('a day with 2,500 objects: the listing pages through it once; the idle pass fetches nothing', async () => {
    const account = '300000000001';
    const region = 'us-east-1';
    const h = await harness('lst-big-day', () => `<aws_account_id>${account}</aws_account_id><regions>${region}</regions>`);
    try {
      const day = '2026-10-20';
      const names = Array.from({ length: 2500 }, (_, i) => `${String(i).padStart(5, '0')}`);
      for (let i = 0; i < names.length; i += 100) {
        await Promise.all(names.slice(i, i + 100).map((n) => h.put(nativeKey(account, region, day, `${n}.jsonl.gz`), [n])));
      }
      const first = await h.pass(`${day}T23:00:00Z`);
      assert.equal(first.gets.length, 2500);
      assert.equal(new Set(h.ids()).size, 2500);
      const pages = first.lists.filter((r) => listing(r).prefix.endsWith(`${region}/`));
      assert.equal(pages.length, 3, '1,000 keys a page');
      assert.deepEqual(pages.map((r) => listing(r).token), [false, true, true], 'one listing, continued');
      const idle = await h.pass(`${addDays(day, 1)}T01:00:00Z`);
      assert.equal(idle.gets.length, 0);
      assert.equal(idle.summary.listed, 2500);
      assert.equal(h.ids().length, 2500);
      assert.equal(stateRows(h.statePath).length, 2500);
    } finally {
      await h.stop();
    }
  });

  test('a partition that never had an object keeps its start, costs one LIST a pass, and reads the first one that comes', async () => {
    const account = '400000000001';
    const h = await harness('lst-empty', () => `<aws_account_id>${account}</aws_account_id><regions>us-east-1</regions>`);
    const prefix = `AWSLogs/${account}/GuardDuty/us-east-1/`;
    try {
      // Something else in the bucket, so the native layout is found.
      await fake.s3.put(h.bucket, `AWSLogs/${account}/GuardDuty/eu-west-1/2026/10/01/other.jsonl.gz`, jsonlGz([makeFinding(account, 'eu-west-1', 'other')]));
      const starts: Array<string | null> = [];
      for (let d = 0; d < 4; d++) {
        const p = await h.pass(`${addDays(DAY0, d)}T12:00:00Z`);
        assert.equal(p.lists.filter((r) => listing(r).prefix === prefix).length, 1);
        assert.equal(p.gets.length, 0);
        starts.push(p.windowStart(prefix));
      }
      // Without only_logs_after a new partition starts today, and stays there until it has an object.
      assert.deepEqual(starts, [DAY0, DAY0, DAY0, DAY0]);
      // An object filed on day 1, copied in late on day 4: still read.
      await h.put(nativeKey(account, 'us-east-1', addDays(DAY0, 1)), ['first-ever']);
      await h.pass(`${addDays(DAY0, 4)}T12:00:00Z`);
      assert.deepEqual(h.ids(), ['first-ever']);
    } finally {
      await h.stop();
    }
  });

  test('Firehose: the window follows the newest hour folder less a day; a late object in an earlier hour is read', async () => {
    const h = await harness('lst-firehose', () => `<path>fh</path><only_logs_after>${DAY0}</only_logs_after>`);
    const put = (day: string, hour: number, id: string) =>
      fake.s3.put(h.bucket, firehoseKey(day, hour, '', 'fh/'), Buffer.from(JSON.stringify({ 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', detail: makeFinding('111111111111', 'us-east-1', id) })));
    try {
      await put(addDays(DAY0, 3), 14, 'h14');
      const first = await h.pass(`${addDays(DAY0, 3)}T15:30:00Z`);
      assert.equal(listing(first.lists.at(-1)!).startAfter, `fh/${DAY0.replaceAll('-', '/')}/00/`);
      assert.equal(first.windowStart('fh/'), `${addDays(DAY0, 2)}T14`);
      // Late: hour 02 of the same day, after the pass read hour 14.
      await put(addDays(DAY0, 3), 2, 'h02');
      const late = await h.pass(`${addDays(DAY0, 4)}T09:00:00Z`);
      assert.equal(listing(late.lists.at(-1)!).startAfter, `fh/${addDays(DAY0, 2).replaceAll('-', '/')}/14/`);
      assert.deepEqual(h.ids().sort(), ['h02', 'h14']);
    } finally {
      await h.stop();
    }
  });

  test('a state database from the previous release (schema v3) carries over: nothing re-sent, nothing skipped', async () => {
    const account = '500000000001';
    const region = 'us-east-1';
    const h = await harness('lst-v3', () => `<aws_account_id>${account}</aws_account_id><regions>${region}</regions><only_logs_after>${DAY0}</only_logs_after>`);
    const prefix = `AWSLogs/${account}/GuardDuty/${region}/`;
    const today = addDays(DAY0, 5);
    try {
      // What v3 left after a pass on `today`: its cursor at today, rows for what it had read.
      const read = [nativeKey(account, region, addDays(today, -1), 'a.jsonl.gz'), nativeKey(account, region, today, 'b.jsonl.gz')];
      for (const [i, key] of read.entries()) await h.put(key, [`v3-${i}`]);
      const v3 = new Database(h.statePath);
      migrate(v3, 3);
      const insert = v3.prepare(
        `INSERT INTO objects (bucket, key, path, account, region, etag, size, events, malformed, status, error, delete_pending, processed_at, attempts, delivered)
         VALUES (?, ?, '', ?, ?, '"e"', 1, 1, 0, 'done', NULL, 0, 0, 0, 0)`,
      );
      for (const key of read) insert.run(h.bucket, key, account, region);
      v3.prepare('INSERT INTO partitions (bucket, prefix, account, region, cursor_day, updated_at) VALUES (?, ?, ?, ?, ?, 0)').run(h.bucket, prefix, account, region, today);
      v3.close();
      // Late into yesterday (inside v3's next window): must be read. Two days back (outside it, v3
      // would never read it either): must stay unread.
      await h.put(nativeKey(account, region, addDays(today, -1), '0-late.jsonl.gz'), ['late']);
      await h.put(nativeKey(account, region, addDays(today, -2), 'old.jsonl.gz'), ['old']);
      const p = await h.pass(`${today}T20:00:00Z`);
      assert.deepEqual(h.ids(), ['late']);
      assert.equal(p.gets.length, 1);
      const check = new Database(h.statePath, { readonly: true });
      assert.equal(check.pragma('user_version', { simple: true }), SCHEMA_VERSION);
      check.close();
      // The old cursor (today) became the start v3 would have listed from next, then moved with the data.
      assert.equal(p.windowStart(prefix), addDays(today, -1));
    } finally {
      await h.stop();
    }
  });

  test('--rescan-since lists every partition from that day and reads only what the state does not know as done', async () => {
    const account = '600000000001';
    const region = 'eu-north-1';
    // The passes run on one day, as the collector's runs on the same day do.
    const today = addDays(DAY0, 40);
    const at = `${today}T12:00:00Z`;
    const day = (n: number) => addDays(today, -n);
    const h = await harness('lst-rescan', () => `<only_logs_after>${day(20)}</only_logs_after>`);
    const partitionList = (lists: SeenRequest[]) => lists.map(listing).find((l) => l.prefix.endsWith(`${region}/`))!;
    try {
      await h.put(nativeKey(account, region, day(10)), ['ten']);
      await h.put(nativeKey(account, region, day(1)), ['one']);
      await h.pass(at);
      // Copied in late, five days before the window: a normal pass does not list it.
      await h.put(nativeKey(account, region, day(6)), ['six-late']);
      await h.pass(at);
      assert.deepEqual(h.ids().sort(), ['one', 'ten']);
      const rescan = await h.pass(at, { rescanSince: day(8) });
      assert.deepEqual(h.ids().sort(), ['one', 'six-late', 'ten'], 'the late object once; nothing done is sent again');
      assert.equal(partitionList(rescan.lists).startAfter, `AWSLogs/${account}/GuardDuty/${region}/${day(8).replaceAll('-', '/')}/`);
      assert.ok(h.logs.some((l) => String(l['msg']).startsWith(`rescan: listing every partition from ${day(8)}`)));
      // A rescan from before only_logs_after starts at only_logs_after. Days older than the state keeps
      // are read again, as the README says: the row of "ten" was pruned when the window first moved
      // (two days behind it); the rescan's own row of "six-late" is kept until the window moves again.
      const again = await h.pass(at, { rescanSince: day(40) });
      assert.equal(partitionList(again.lists).startAfter, `AWSLogs/${account}/GuardDuty/${region}/${day(20).replaceAll('-', '/')}/`);
      assert.deepEqual(h.ids().sort(), ['one', 'six-late', 'ten', 'ten']);
      // A --rescan-since that is not a day is refused on the command line: cli-options.test.ts.
    } finally {
      await h.stop();
    }
  });
});
