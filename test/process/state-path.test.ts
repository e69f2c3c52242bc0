// What stands at the state path (issue 22): an empty file, a FIFO, a device or a socket there — or a
// FIFO where the lock goes — stops every command that opens the state with exit 2 and one line naming
// the path and what it is, before anything is created, read from S3 or sent. (A new state is built under
// another name and renamed into place, so an empty file at the path is never one of guardduty-wodle's:
// state-store.test.ts.)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, type Stats } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { eventsFromLines, tempDir } from '../helpers/files.js';
import { startCli, writeConfig, type CliResult } from '../../support/cli.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { S3Proxy } from '../../support/proxy.js';
import { within } from '../helpers/wait.js';
import { useFakeS3 } from '../../support/s3.js';

const fake = useFakeS3();
const ACCOUNT = '343434343434';
const REGION = 'eu-west-3';
const BUCKET = 'gd-state-path';

/** Long enough for a start, far shorter than a hang: a FIFO opened for writing waits for ever. */
const REFUSAL_MS = 15_000;

async function run(args: string[]): Promise<CliResult> {
  const running = startCli(args);
  try {
    return await within(running.done, REFUSAL_MS, `guardduty-wodle ${args.join(' ')} to end (a FIFO opened for writing hangs)`);
  } catch (err) {
    running.child.kill('SIGKILL');
    await running.done;
    throw err;
  }
}

/** The only line on stderr: the refusal, naming the path. */
function refusal(result: CliResult): string {
  assert.equal(result.code, 2, result.stderr);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${result.stderr}`);
  return lines[0]!;
}

const sockets: Server[] = [];

/** Something other than a state at `path`, made for real, and what the refusal must say of it. */
interface Special {
  label: string;
  make(path: string): Promise<void> | void;
  says: RegExp;
  /** What must still be there afterwards: the refusal touched nothing. */
  unchanged(stats: Stats): boolean;
}

const firstBlockDevice = readdirSync('/dev')
  .map((name) => join('/dev', name))
  .find((path) => {
    try {
      return statSync(path).isBlockDevice();
    } catch {
      return false;
    }
  });

const SPECIALS: Special[] = [
  {
    label: 'an empty file',
    make: (path) => writeFileSync(path, ''),
    says: /is empty \(0 bytes\), not a guardduty-wodle state \(those are never empty\); move it aside or delete it to start afresh/,
    unchanged: (s) => s.isFile() && s.size === 0,
  },
  {
    label: 'a FIFO',
    make: (path) => {
      execFileSync('mkfifo', [path]);
    },
    says: /is a FIFO \(named pipe\), not a guardduty-wodle state database/,
    unchanged: (s) => s.isFIFO(),
  },
  {
    label: 'a symlink to /dev/null',
    make: (path) => symlinkSync('/dev/null', path),
    says: /is a character device \(a symlink to \/dev\/null\), not a guardduty-wodle state database/,
    unchanged: (s) => s.isCharacterDevice(),
  },
  {
    label: 'a socket',
    make: (path) =>
      new Promise<void>((resolve, reject) => {
        const server = createServer();
        sockets.push(server);
        server.once('error', reject).listen(path, () => resolve());
      }),
    says: /is a socket, not a guardduty-wodle state database/,
    unchanged: (s) => s.isSocket(),
  },
  ...(firstBlockDevice === undefined
    ? []
    : [
        {
          label: `a symlink to the block device ${firstBlockDevice}`,
          make: (path: string) => symlinkSync(firstBlockDevice, path),
          says: new RegExp(`is a block device \\(a symlink to ${firstBlockDevice}\\), not a guardduty-wodle state database`),
          unchanged: (s: Stats) => s.isBlockDevice(),
        },
      ]),
];

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

let proxy: S3Proxy;

describe('state paths', () => {
  before(async () => {
    fake.s3.createBucket(BUCKET);
    await fake.s3.put(BUCKET, nativeKey(ACCOUNT, REGION, today()), jsonlGz([makeFinding(ACCOUNT, REGION, 'only-finding')]));
    // Every request the collector makes goes through it: none may be made by a refused start.
    proxy = await S3Proxy.start(fake.s3.endpoint);
  });

  after(async () => {
    await proxy.stop();
    for (const server of sockets) server.close();
  });

  describe('the collector refuses a state path that is not a state, before reading anything', () => {
    for (const special of SPECIALS) {
      test(`${special.label}: exit 2 with one line naming the path and what it is; nothing created, read or sent`, async () => {
        const dir = tempDir();
        const config = writeConfig(dir, [{ name: BUCKET, endpoint: proxy.endpoint }]);
        const state = join(dir, 'state.db');
        const out = join(dir, 'events.jsonl');
        await special.make(state);
        const before = readdirSync(dir).sort();
        const requests = proxy.requests.length;
        const line = refusal(await run(['--config', config, '--once', '--state', state, '--output', `file:${out}`]));
        assert.match(line, new RegExp(`^guardduty-wodle: state ${escape(state)} `));
        assert.match(line, special.says);
        assert.equal(proxy.requests.length, requests, 'no request reached S3');
        assert.ok(!existsSync(out), 'the output was not even opened');
        assert.deepEqual(readdirSync(dir).sort(), before, 'no lock, WAL or new state was created beside it');
        assert.ok(special.unchanged(statSync(state)), 'what stands at the path is left as it was');
      });
    }

    test('once the empty file is moved aside, the same command starts afresh and sends the finding', async () => {
      const dir = tempDir();
      const config = writeConfig(dir, [{ name: BUCKET, endpoint: proxy.endpoint }]);
      const state = join(dir, 'state.db');
      const out = join(dir, 'events.jsonl');
      writeFileSync(state, '');
      const args = ['--config', config, '--once', '--state', state, '--output', `file:${out}`];
      refusal(await run(args));
      execFileSync('mv', [state, `${state}.aside`]);
      const result = await run(args);
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id), ['only-finding']);
      assert.ok(statSync(state).size > 0);
    });

    test('a FIFO where the lock goes: exit 2 naming it, no state created, the FIFO left alone', async () => {
      const dir = tempDir();
      const config = writeConfig(dir, [{ name: BUCKET, endpoint: proxy.endpoint }]);
      const state = join(dir, 'state.db');
      const out = join(dir, 'events.jsonl');
      execFileSync('mkfifo', [`${state}.lock`]);
      const requests = proxy.requests.length;
      const line = refusal(await run(['--config', config, '--once', '--state', state, '--output', `file:${out}`]));
      assert.equal(line, `guardduty-wodle: state ${state}: ${state}.lock is a FIFO (named pipe), not the file guardduty-wodle keeps beside the state; remove it`);
      assert.equal(proxy.requests.length, requests);
      assert.ok(!existsSync(state) && !existsSync(out));
      assert.ok(statSync(`${state}.lock`).isFIFO());
    });
  });

  /** s3_cloudtrail.db with Wazuh's two tables and no rows: import-wazuh gets as far as opening our state. */
  function emptyWazuhDb(dir: string): string {
    const file = join(dir, 's3_cloudtrail.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE metadata (key 'text' NOT NULL, value 'text' NOT NULL, PRIMARY KEY (key, value));
             INSERT INTO metadata (key, value) VALUES ('version', '4.14.7');
             CREATE TABLE guardduty (bucket_path 'text' NOT NULL, aws_account_id 'text' NOT NULL, log_key 'text' NOT NULL,
                                     processed_date 'text' NOT NULL, created_date 'integer' NOT NULL,
                                     PRIMARY KEY (bucket_path, aws_account_id, log_key));`);
    db.close();
    return file;
  }

  describe('every command that opens the state refuses the same way', () => {
    const commands: Array<[label: string, args: (s: { config: string; state: string; wazuhDb: string }) => string[]]> = [
      ['status', (s) => ['status', '--state', s.state]],
      ['explain', (s) => ['explain', BUCKET, nativeKey(ACCOUNT, REGION, today()), '--config', s.config, '--state', s.state]],
      ['reset', (s) => ['reset', BUCKET, '--state', s.state, '--yes']],
      ['import-wazuh', (s) => ['import-wazuh', '--config', s.config, '--state', s.state, '--wazuh-db', s.wazuhDb]],
      ['import-wazuh --dry-run', (s) => ['import-wazuh', '--config', s.config, '--state', s.state, '--wazuh-db', s.wazuhDb, '--dry-run']],
    ];
    for (const special of SPECIALS.slice(0, 3)) {
      test(`${special.label}: ${commands.map(([label]) => label).join(', ')} exit 2 naming it, and leave it as it was`, async () => {
        const dir = tempDir();
        const config = writeConfig(dir, [{ name: BUCKET, endpoint: proxy.endpoint }]);
        const wazuhDb = emptyWazuhDb(dir);
        const state = join(dir, 'state.db');
        await special.make(state);
        const before = readdirSync(dir).sort();
        for (const [label, args] of commands) {
          const result = await run(args({ config, state, wazuhDb }));
          const line = refusal(result);
          assert.match(line, new RegExp(`^guardduty-wodle: state ${escape(state)} `), label);
          assert.match(line, special.says, label);
          assert.equal(result.stdout, '', `${label} printed nothing`);
          assert.deepEqual(readdirSync(dir).sort(), before, `${label} created nothing beside it`);
          assert.ok(special.unchanged(statSync(state)), `${label} left it as it was`);
        }
      });
    }
  });

  describe('--check-config names what stands at the state path', () => {
    test('an empty state file and a FIFO where the lock goes are errors (exit 2)', async () => {
      const dir = tempDir();
      const config = writeConfig(dir, [{ name: BUCKET, endpoint: 'http://127.0.0.1:9' }]);
      const empty = join(dir, 'empty.db');
      writeFileSync(empty, '');
      const locked = join(dir, 'locked.db');
      execFileSync('mkfifo', [`${locked}.lock`]);
      for (const [state, error] of [
        [empty, `--state ${empty}: ${empty} is empty (0 bytes), not a guardduty-wodle state (those are never empty); move it aside or delete it to start afresh, which reads and sends again everything from only_logs_after`],
        [locked, `--state ${locked}: ${locked}.lock is a FIFO (named pipe), not the file guardduty-wodle keeps beside the state; remove it`],
      ] as const) {
        const result = await run(['--check-config', '--config', config, '--state', state]);
        assert.equal(result.code, 2, result.stderr);
        assert.deepEqual((JSON.parse(result.stdout) as { errors: string[] }).errors, [error]);
      }
    });
  });
});
