// `import-wazuh` (issue 15): switching over from Wazuh's aws-s3 wodle without a gap or a duplicate. Each
// test lays out Wazuh's database exactly as its wodle writes it (wodles/aws: the `guardduty` table of
// AWSCustomBucket, the `metadata` table of WazuhAWSDatabase), puts into the S3 emulator every object
// Wazuh read plus the ones it did not get to, imports with the built CLI, and checks that the next real
// `--once` pass sends exactly the findings Wazuh had not sent.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { StateStore } from '../../src/state/store.js';
import { bucketOnDisk } from '../helpers/collector-runs.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { runCli, writeConfig } from '../../support/cli.js';
import { daysAgo, firehoseKey, jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { useFakeS3 } from '../../support/s3.js';
import { stateRows } from '../helpers/state.js';

const fake = useFakeS3();
const A = '111111111111';
const B = '222222222222';
/** For Firehose (Kinesis) keys Wazuh records the account of the identity it read with, not one of the key. */
const CALLER = '999999999999';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';

// Verbatim from wodles/aws/buckets_s3/aws_bucket.py (AWSCustomBucket.sql_create_table, table guardduty)
// and wodles/aws/wazuh_integration.py (WazuhAWSDatabase.sql_create_metadata_table).
const CREATE_GUARDDUTY = `CREATE TABLE guardduty (
                bucket_path 'text' NOT NULL,
                aws_account_id 'text' NOT NULL,
                log_key 'text' NOT NULL,
                processed_date 'text' NOT NULL,
                created_date 'integer' NOT NULL,
                PRIMARY KEY (bucket_path, aws_account_id, log_key));`;
const CREATE_METADATA = `CREATE TABLE metadata (
                        key 'text' NOT NULL,
                        value 'text' NOT NULL,
                        PRIMARY KEY (key, value));`;

interface WazuhRow {
  bucketPath: string;
  account: string;
  key: string;
}

/** Wazuh's get_creation_date for custom buckets: the last YYYY/MM/DD or YYYY-MM-DD in the key, as an integer. */
function createdDate(key: string): number {
  const match = /.*(\d\d\d\d[/-]\d\d[/-]\d\d).*/.exec(key);
  return Number(match![1]!.replace(/[/-]/g, ''));
}

/** s3_cloudtrail.db as Wazuh's wodle leaves it: metadata with its version, one guardduty row per key read. */
function wazuhDb(dir: string, rows: WazuhRow[], version = '4.14.7'): string {
  const file = join(dir, 's3_cloudtrail.db');
  const db = new Database(file);
  try {
    db.exec(CREATE_METADATA);
    db.prepare("INSERT INTO metadata (key, value) VALUES ('version', ?)").run(version);
    db.exec(CREATE_GUARDDUTY);
    const insert = db.prepare(
      `INSERT INTO guardduty (bucket_path, aws_account_id, log_key, processed_date, created_date)
       VALUES (:bucket_path, :aws_account_id, :log_key, DATETIME('now'), :created_date)`,
    );
    db.transaction(() => {
      for (const row of rows) insert.run({ bucket_path: row.bucketPath, aws_account_id: row.account, log_key: row.key, created_date: createdDate(row.key) });
    })();
  } finally {
    db.close();
  }
  return file;
}

function idsIn(file: string): string[] {
  return existsSync(file) ? eventsFromLines(readFileSync(file, 'utf8')).map((e) => e['aws'].id as string) : [];
}

function windows(state: string): Record<string, string> {
  const db = new Database(state, { readonly: true });
  try {
    const rows = db.prepare('SELECT bucket, prefix, window_start AS start FROM partitions ORDER BY bucket, prefix').all() as Array<{ bucket: string; prefix: string; start: string }>;
    return Object.fromEntries(rows.map((r) => [`${r.bucket}/${r.prefix}`, r.start]));
  } finally {
    db.close();
  }
}

function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${stderr}`);
  assert.match(lines[0]!, /^guardduty-wodle: /);
  return lines[0]!;
}

interface Switch {
  dir: string;
  config: string;
  state: string;
  out: string;
  /** One real collector pass (--once) into the file output. */
  pass(): Promise<void>;
  /** `import-wazuh` with this config and state. */
  importWazuh(db: string, ...more: string[]): ReturnType<typeof runCli>;
}

function switchOver(bucket: string, extra: string): Switch {
  const { once, ...files } = bucketOnDisk(fake.s3, bucket, extra);
  const { config, state } = files;
  return {
    ...files,
    async pass() {
      const result = await once();
      assert.equal(result.code, 0, result.stderr);
    },
    importWazuh: (db, ...more) => runCli(['import-wazuh', '--config', config, '--state', state, '--wazuh-db', db, ...more]),
  };
}

/** Puts one native export object holding one finding whose id is `id`. */
async function putNative(bucket: string, key: string, id: string): Promise<void> {
  const [, account = '', , region = ''] = key.split('/');
  await fake.s3.put(bucket, key, jsonlGz([makeFinding(account, region, id)]));
}

async function putFirehose(bucket: string, key: string, id: string): Promise<void> {
  const event = { version: '0', 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', detail: makeFinding(A, EAST, id) };
  await fake.s3.put(bucket, key, gzipSync(JSON.stringify(event)));
}

describe('import-wazuh', () => {
  test('native exports: a partition left half-way through its newest day (older rows pruned), one Wazuh left days ago, one it never reached; then a second import', async () => {
    const bucket = 'iw-native';
    const s = switchOver(bucket, `<only_logs_after>${daysAgo(10)}</only_logs_after>`);
    const [d1, d2, d3, d4, d6, d7, d8, d12] = [1, 2, 3, 4, 6, 7, 8, 12].map(daysAgo) as [string, string, string, string, string, string, string, string];
    const rows: WazuhRow[] = [];
    const expected: string[] = [];
    const objects: Array<{ key: string; id: string; wazuh: boolean; sent: boolean }> = [
      // A us-east-1: Wazuh was half-way through yesterday. Its rows of older days are gone (it keeps 500),
      // but it read them; of yesterday it recorded 20 and 30, and 10 (written late, sorting before them)
      // and 40 came after its last run.
      { key: nativeKey(A, EAST, d3, '50-pruned.jsonl.gz'), id: 'east-d3-pruned', wazuh: false, sent: false },
      { key: nativeKey(A, EAST, d2, '10-pruned.jsonl.gz'), id: 'east-d2-pruned', wazuh: false, sent: false },
      { key: nativeKey(A, EAST, d2, '90-kept.jsonl.gz'), id: 'east-d2-kept', wazuh: true, sent: false },
      { key: nativeKey(A, EAST, d1, '10-late.jsonl.gz'), id: 'east-d1-10', wazuh: false, sent: true },
      { key: nativeKey(A, EAST, d1, '20.jsonl.gz'), id: 'east-d1-20', wazuh: true, sent: false },
      { key: nativeKey(A, EAST, d1, '30.jsonl.gz'), id: 'east-d1-30', wazuh: true, sent: false },
      { key: nativeKey(A, EAST, d1, '40.jsonl.gz'), id: 'east-d1-40', wazuh: false, sent: true },
      { key: nativeKey(A, EAST, today()), id: 'east-today', wazuh: false, sent: true },
      // A eu-west-1: Wazuh stopped six days ago.
      { key: nativeKey(A, WEST, d7), id: 'west-d7-pruned', wazuh: false, sent: false },
      { key: nativeKey(A, WEST, d6, '1.jsonl.gz'), id: 'west-d6-1', wazuh: true, sent: false },
      { key: nativeKey(A, WEST, d6, '2.jsonl.gz'), id: 'west-d6-2', wazuh: true, sent: false },
      { key: nativeKey(A, WEST, d4), id: 'west-d4', wazuh: false, sent: true },
      { key: nativeKey(A, WEST, d2), id: 'west-d2', wazuh: false, sent: true },
      // B us-east-1: Wazuh never reached it; it starts at only_logs_after, as in Wazuh.
      { key: nativeKey(B, EAST, d12), id: 'b-d12-before-only-logs-after', wazuh: false, sent: false },
      { key: nativeKey(B, EAST, d8), id: 'b-d8', wazuh: false, sent: true },
      { key: nativeKey(B, EAST, today()), id: 'b-today', wazuh: false, sent: true },
    ];
    for (const o of objects) {
      await putNative(bucket, o.key, o.id);
      if (o.wazuh) rows.push({ bucketPath: `${bucket}/`, account: A, key: o.key });
      if (o.sent) expected.push(o.id);
    }
    // Rows of buckets this configuration does not have: reported, ignored.
    rows.push({ bucketPath: 'other-bucket/', account: A, key: nativeKey(A, EAST, d1) }, { bucketPath: 'other-bucket/', account: A, key: nativeKey(A, EAST, d2) });
    rows.push({ bucketPath: `${bucket}/old-path/`, account: A, key: nativeKey(A, EAST, d1, undefined, 'old-path/') });
    const db = wazuhDb(s.dir, rows);

    const dry = await s.importWazuh(db, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(dry.stderr, '');
    assert.match(dry.stdout, new RegExp(`^import-wazuh --dry-run: ${db} \\(Wazuh 4\\.14\\.7, table guardduty: 8 rows\\) into state ${s.state}\n`));
    assert.match(dry.stdout, /bucket iw-native \(Wazuh's bucket_path iw-native\/\): 5 rows, 2 partitions\n/);
    assert.match(dry.stdout, new RegExp(`${A} eu-west-1 +2 +2 +0 +${d6} +${d6}\n`));
    assert.match(dry.stdout, new RegExp(`${A} us-east-1 +3 +3 +0 +${d1} +${d1}\n`));
    assert.match(dry.stdout, new RegExp(`partitions with no row in Wazuh's table start as new ones, at only_logs_after ${daysAgo(10)}`));
    assert.match(dry.stdout, /ignored: 2 rows of bucket_path other-bucket\/: no <bucket type="guardduty"> of .* has it\n/);
    assert.match(dry.stdout, /ignored: 1 row of bucket_path iw-native\/old-path\/: .*\(bucket iw-native is configured with <path> '', Wazuh read it under another\)/);
    assert.match(dry.stdout, /dry run: would record 5 keys as done and 2 partition window starts; nothing written\n/);
    assert.equal(existsSync(s.state), false, 'a dry run creates no state');

    const imported = await s.importWazuh(db);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout, dry.stdout.replace('import-wazuh --dry-run:', 'import-wazuh:').replace(/dry run: would record (.*); nothing written/, 'recorded $1'));
    assert.deepEqual(windows(s.state), { [`${bucket}/AWSLogs/${A}/GuardDuty/${WEST}/`]: d6, [`${bucket}/AWSLogs/${A}/GuardDuty/${EAST}/`]: d1 });
    assert.deepEqual(
      stateRows(s.state).map((r) => [r.key, r.status, r.events]),
      objects.filter((o) => o.wazuh).map((o) => [o.key, 'done', 0]).sort(),
    );
    // explain tells an imported key and a key of a day Wazuh handled.
    const explainDone = JSON.parse((await runCli(['explain', bucket, objects[4]!.key, '--config', s.config, '--state', s.state, '--json'])).stdout);
    assert.equal(explainDone.decision, 'done');
    const explainPruned = JSON.parse((await runCli(['explain', bucket, objects[1]!.key, '--config', s.config, '--state', s.state, '--json'])).stdout);
    assert.equal(explainPruned.decision, 'before-window');

    await s.pass();
    assert.deepEqual(idsIn(s.out).sort(), expected.sort(), 'the first pass sends exactly what Wazuh had not sent');

    // After the pass eu-west-1's window moved on (newest read 2 days ago, less the grace day) and its rows
    // of six days ago were forgotten; a second import moves nothing back and records nothing again.
    const rowsBefore = stateRows(s.state);
    const windowsBefore = windows(s.state);
    assert.equal(windowsBefore[`${bucket}/AWSLogs/${A}/GuardDuty/${WEST}/`], d3);
    const again = await s.importWazuh(db);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`${A} eu-west-1 +2 +0 +2 +${d6} +${d3} \\(kept: the state already lists from there\\)\n`));
    assert.match(again.stdout, new RegExp(`${A} us-east-1 +3 +0 +3 +${d1} +${d1} \\(kept: the state already lists from there\\)\n`));
    assert.match(again.stdout, /nothing to import: the state already holds all of it\n/);
    assert.deepEqual(stateRows(s.state), rowsBefore);
    assert.deepEqual(windows(s.state), windowsBefore);
    await s.pass();
    assert.deepEqual(idsIn(s.out).sort(), expected.sort(), 'nothing sent twice');
  });

  test('Firehose keys: the window starts at hour 00 of the newest key\'s day, so a late object in an earlier hour Wazuh never read is sent', async () => {
    const bucket = 'iw-firehose';
    const s = switchOver(bucket, `<path>gd</path><only_logs_after>${daysAgo(5)}</only_logs_after>`);
    const [d1, d2] = [daysAgo(1), daysAgo(2)];
    const objects = [
      { key: firehoseKey(d2, 22, '.gz', 'gd/'), id: 'fh-d2-22-pruned', wazuh: false, sent: false },
      { key: firehoseKey(d1, 3, '.gz', 'gd/'), id: 'fh-d1-03', wazuh: true, sent: false },
      // Written into 07 after Wazuh had read 10: Wazuh listed only after its newest key and never saw it.
      { key: firehoseKey(d1, 7, '.gz', 'gd/'), id: 'fh-d1-07-late', wazuh: false, sent: true },
      { key: firehoseKey(d1, 10, '.gz', 'gd/'), id: 'fh-d1-10', wazuh: true, sent: false },
      { key: firehoseKey(d1, 10, '.gz', 'gd/', 'guardduty-to-s3-b'), id: 'fh-d1-10-after', wazuh: false, sent: true },
      { key: firehoseKey(today(), 0, '.gz', 'gd/'), id: 'fh-today', wazuh: false, sent: true },
    ];
    for (const o of objects) await putFirehose(bucket, o.key, o.id);
    const db = wazuhDb(
      s.dir,
      objects.filter((o) => o.wazuh).map((o) => ({ bucketPath: `${bucket}/gd/`, account: CALLER, key: o.key })),
      '4.9.2',
    );
    const imported = await s.importWazuh(db);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /\(Wazuh 4\.9\.2, table guardduty: 2 rows\)/);
    assert.match(imported.stdout, new RegExp(`firehose gd/ +2 +2 +0 +${d1} +${d1}T00\n`));
    assert.deepEqual(windows(s.state), { [`${bucket}/gd/`]: `${d1}T00` });
    await s.pass();
    assert.deepEqual(idsIn(s.out).sort(), objects.filter((o) => o.sent).map((o) => o.id).sort());
    const again = await s.importWazuh(db);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to import/);
    await s.pass();
    assert.equal(idsIn(s.out).length, objects.filter((o) => o.sent).length, 'nothing sent twice');
  });

  test('not Wazuh\'s database (missing, not SQLite, another SQLite file, no guardduty table): one line, exit 2, nothing written', async () => {
    const bucket = 'iw-bad';
    const s = switchOver(bucket, `<only_logs_after>${daysAgo(3)}</only_logs_after>`);
    const missing = join(s.dir, 'nowhere.db');
    const text = join(s.dir, 'notes.txt');
    writeFileSync(text, 'this is not a database, just some text that is long enough to not look like an empty file\n'.repeat(20));
    const other = join(s.dir, 'other.db');
    const odb = new Database(other);
    odb.exec('CREATE TABLE things (a TEXT, b INTEGER); INSERT INTO things VALUES (\'x\', 1);');
    odb.close();
    const noTable = join(tempDir(), 's3_cloudtrail.db');
    const ndb = new Database(noTable);
    ndb.exec(CREATE_METADATA);
    ndb.prepare("INSERT INTO metadata (key, value) VALUES ('version', '5.0.0')").run();
    ndb.exec("CREATE TABLE cloudtrail (bucket_path 'text' NOT NULL)");
    ndb.close();
    const cases: Array<[string, RegExp]> = [
      [missing, new RegExp(`Wazuh database ${missing} does not exist: give the path of Wazuh's s3_cloudtrail.db with --wazuh-db`)],
      [text, new RegExp(`${text} is not a SQLite database, so not Wazuh's aws-s3 database`)],
      [other, new RegExp(`${other} is not Wazuh's aws-s3 database \\(s3_cloudtrail.db\\): it has no guardduty table \\(tables: things\\)$`)],
      [noTable, /\(Wazuh 5\.0\.0\) has no guardduty table: Wazuh's aws-s3 wodle never recorded a GuardDuty bucket in it/],
      [s.dir, /is a directory/],
    ];
    for (const [file, message] of cases) {
      for (const extra of [[], ['--dry-run']]) {
        const result = await s.importWazuh(file, ...extra);
        assert.equal(result.code, 2, `${file}: ${result.stderr}`);
        assert.match(oneErrorLine(result.stderr), message);
        assert.equal(result.stdout, '');
        assert.equal(existsSync(s.state), false, 'no state created');
      }
    }
    const usage = await runCli(['import-wazuh', 'extra', '--state', s.state]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^guardduty-wodle: import-wazuh takes no arguments, got 1\nusage: guardduty-wodle import-wazuh /);
    const empty = await runCli(['import-wazuh', '--wazuh-db', '', '--state', s.state]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^guardduty-wodle: --wazuh-db needs a path\n/);
    const help = await runCli(['import-wazuh', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--wazuh-db PATH +Wazuh's database, opened read-only \(default <home>\/wodles\/aws\/s3_cloudtrail\.db/);
    // Nothing was imported: the bucket starts as a new one, at only_logs_after.
    await putNative(bucket, nativeKey(A, EAST, daysAgo(4)), 'bad-before');
    await putNative(bucket, nativeKey(A, EAST, daysAgo(2)), 'bad-d2');
    await putNative(bucket, nativeKey(A, EAST, today()), 'bad-today');
    await s.pass();
    assert.deepEqual(idsIn(s.out).sort(), ['bad-d2', 'bad-today']);
  });

  test('a running collector holds the state: exit 2, stop the service first; Wazuh writing meanwhile: its uncommitted rows are not read, its commit lock is waited for, then given up', async () => {
    const bucket = 'iw-locks';
    const s = switchOver(bucket, `<only_logs_after>${daysAgo(3)}</only_logs_after>`);
    const read = nativeKey(A, EAST, daysAgo(1), '1.jsonl.gz');
    const db = wazuhDb(s.dir, [{ bucketPath: `${bucket}/`, account: A, key: read }]);

    const held = StateStore.open(s.state);
    try {
      const result = await s.importWazuh(db);
      assert.equal(result.code, 2);
      assert.match(oneErrorLine(result.stderr), new RegExp(`state ${s.state} is in use by a running collector \\(it holds ${s.state}.lock\\): stop the service first, then run import-wazuh again`));
      assert.equal(held.countObjects(), 0);
      // A dry run only reads: it works beside the collector.
      const dry = await s.importWazuh(db, '--dry-run');
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would record 1 key as done and 1 partition window start/);
    } finally {
      held.close();
    }

    // Wazuh's wodle holds its write transaction open for a whole run: what it has not committed is not
    // imported (so stop its GuardDuty buckets first), and readers are not blocked.
    const wazuh = new Database(db);
    const inFlight = nativeKey(A, EAST, daysAgo(1), '2.jsonl.gz');
    try {
      wazuh.exec('BEGIN IMMEDIATE');
      wazuh
        .prepare("INSERT INTO guardduty (bucket_path, aws_account_id, log_key, processed_date, created_date) VALUES (?, ?, ?, DATETIME('now'), ?)")
        .run(`${bucket}/`, A, inFlight, createdDate(inFlight));
      const during = await s.importWazuh(db);
      assert.equal(during.code, 0, during.stderr);
      assert.match(during.stdout, /recorded 1 key as done/);
      wazuh.exec('ROLLBACK');
      // While it commits it locks readers out: the import waits a few seconds, then says so.
      wazuh.exec('BEGIN EXCLUSIVE');
      const started = Date.now();
      const locked = await s.importWazuh(db, '--dry-run');
      assert.equal(locked.code, 2);
      assert.match(oneErrorLine(locked.stderr), /Wazuh database .* stayed locked for 5 s \(Wazuh's aws-s3 wodle is writing to it\): run import-wazuh again/);
      assert.ok(Date.now() - started >= 4000, 'it waited for the lock');
    } finally {
      if (wazuh.inTransaction) wazuh.exec('ROLLBACK');
      wazuh.close();
    }
    assert.deepEqual(stateRows(s.state).map((r) => r.key), [read]);
  });

  test('Wazuh\'s 500-row limit reached down into the newest day: the summary says which keys may be sent again', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'iw-limit', endpoint: 'http://127.0.0.1:9', extra: `<only_logs_after>${daysAgo(9)}</only_logs_after>` }]);
    const rows: WazuhRow[] = [];
    for (let i = 100; i < 600; i++) rows.push({ bucketPath: 'iw-limit/', account: A, key: nativeKey(A, WEST, daysAgo(1), `${i}.jsonl.gz`) });
    const db = wazuhDb(dir, rows);
    const result = await runCli(['import-wazuh', '--config', config, '--state', join(dir, 'state.db'), '--wazuh-db', db, '--dry-run']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`note: ${A} eu-west-1: Wazuh had dropped older rows of iw-limit/ account ${A} \\(it keeps 500\\) down into ${daysAgo(1)}: keys of that day sorting before .*/100\\.jsonl\\.gz that Wazuh read are no longer recorded and will be sent again`));
    assert.match(result.stdout, new RegExp(`note: Wazuh reached its 500-row limit for account ${A} and dropped its oldest rows \\(by key\\): a region of that account sorting before eu-west-1`));
  });
});
