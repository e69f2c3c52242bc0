// Bounded state: a simulated 90-day run (the collector's clock moved a day per pass) keeps the state to
// the listing window, and pruning never makes a key be read again.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inProcessRun } from './helpers/run.js';
import { parseConfig } from '../src/config/load.js';
import { runPass } from '../src/daemon.js';
import { Outputs } from '../src/emit/index.js';
import { FileOutput } from '../src/emit/file.js';
import { StateStore } from '../src/state/store.js';
import { addDays } from '../src/walk/dates.js';
import { FAKE_AWS_ENV } from '../support/cli.js';
import { tempDir } from './helpers/files.js';
import { jsonlGz, makeFinding, nativeKey } from '../support/findings.js';
import { useFakeS3 } from '../support/s3.js';

const fake = useFakeS3();
const ACCOUNT = '909090909090';
const REGION = 'eu-west-1';
const FIRST_DAY = '2026-01-01';
const DAYS = 90;
const PER_DAY = 4;

test(`a ${DAYS}-day run keeps the state O(window) and reads every key exactly once`, async () => {
  Object.assign(process.env, FAKE_AWS_ENV);
  const bucket = 'prune-ninety-days';
  fake.s3.createBucket(bucket);
  const expected: string[] = [];
  /** GuardDuty writes a day's objects during that day. */
  const arrive = async (day: string, n: number) => {
    const id = `${day}-${n}`;
    expected.push(id);
    await fake.s3.put(bucket, nativeKey(ACCOUNT, REGION, day), jsonlGz([makeFinding(ACCOUNT, REGION, id)]));
  };
  const dir = tempDir();
  const config = parseConfig(
    `<ossec_config><wodle name="aws-s3"><bucket type="guardduty"><name>${bucket}</name><only_logs_after>${FIRST_DAY}</only_logs_after>` +
      `<service_endpoint>${fake.s3.endpoint}</service_endpoint></bucket></wodle></ossec_config>`,
    'prune.conf',
  );
  const out = join(dir, 'events.jsonl');
  const state = StateStore.open(join(dir, 'state.db'));
  const outputs = new Outputs([new FileOutput(out)]);
  let largest = 0;
  try {
    for (let d = 0; d < DAYS; d++) {
      // Two passes a day, late morning and just before midnight, each after half the day's objects.
      for (const [half, hour] of ['11:00', '23:59'].entries()) {
        for (let n = half * (PER_DAY / 2); n < (half + 1) * (PER_DAY / 2); n++) await arrive(addDays(FIRST_DAY, d), n);
        const now = new Date(`${addDays(FIRST_DAY, d)}T${hour}:00Z`);
        const result = await runPass(config.wodles, inProcessRun(state, outputs, now, 4));
        assert.ok(result.ok, `pass on ${now.toISOString()}`);
        largest = Math.max(largest, state.countObjects());
      }
    }
  } finally {
    await outputs.close();
    state.close();
  }
  const ids = readFileSync(out, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { aws: { id: string } }).aws.id);
  assert.equal(ids.length, expected.length, 'every finding once');
  assert.deepEqual(ids.sort(), expected.sort());
  // The window (the newest day less one, to today) plus the pruning margin, whatever the length of the run.
  const bound = (2 + 2 + 1) * PER_DAY;
  assert.ok(largest <= bound, `the state held at most ${largest} rows (bound ${bound}) over ${DAYS * PER_DAY} objects`);
  process.stdout.write(`# ${DAYS} days: ${expected.length} objects read once, state at most ${largest} rows\n`);
});
