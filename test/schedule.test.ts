// Next-run computations on a fake clock, in UTC and in a zone with daylight saving time.
process.env['TZ'] = 'UTC';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../src/config/load.js';
import { firstRun, nextRun, type Schedule } from '../src/schedule.js';

const at = (iso: string) => new Date(iso);

function schedule(options: string): Schedule {
  const config = parseConfig(
    `<ossec_config><wodle name="aws-s3">${options}<bucket type="guardduty"><name>b</name></bucket></wodle></ossec_config>`,
    'ossec.conf',
  );
  return config.wodles[0]!;
}

function warnings(options: string): string[] {
  return parseConfig(`<ossec_config><wodle name="aws-s3">${options}<bucket type="guardduty"><name>b</name></bucket></wodle></ossec_config>`, 'ossec.conf').warnings;
}

/** The first `count` pass times, each pass taking `passMs`. */
function runs(s: Schedule, start: Date, count: number, passMs = 1000): string[] {
  const times: string[] = [];
  let due = firstRun(s, start);
  for (let i = 0; i < count; i++) {
    times.push(due.toISOString());
    due = nextRun(s, due, new Date(due.getTime() + passMs)).at;
  }
  return times;
}

describe('schedules', () => {
  test('interval: at start with run_on_start, then every interval; without it, one interval after start', () => {
    const start = at('2026-11-29T10:07:00Z');
    assert.deepEqual(runs(schedule('<interval>10m</interval>'), start, 3), ['2026-11-29T10:07:00.000Z', '2026-11-29T10:17:00.000Z', '2026-11-29T10:27:00.000Z']);
    assert.deepEqual(runs(schedule('<interval>1h</interval><run_on_start>no</run_on_start>'), start, 2), ['2026-11-29T11:07:00.000Z', '2026-11-29T12:07:00.000Z']);
  });

  test('time: every day at hh:mm; a start after the time of day waits for the next day', () => {
    const s = schedule('<time>02:30</time><interval>1d</interval><run_on_start>no</run_on_start>');
    assert.deepEqual(runs(s, at('2026-11-29T10:00:00Z'), 3), ['2026-11-30T02:30:00.000Z', '2026-12-01T02:30:00.000Z', '2026-12-02T02:30:00.000Z']);
    assert.deepEqual(runs(s, at('2026-11-29T01:00:00Z'), 1), ['2026-11-29T02:30:00.000Z']);
    // run_on_start runs at once, then at the next slot.
    assert.deepEqual(runs(schedule('<time>02:30</time><interval>2d</interval>'), at('2026-11-29T10:00:00Z'), 3), [
      '2026-11-29T10:00:00.000Z',
      '2026-11-30T02:30:00.000Z',
      '2026-12-02T02:30:00.000Z',
    ]);
  });

  test('wday: the next such weekday at time (00:00 unless given), every N weeks', () => {
    // 2026-11-29 is a Sunday.
    const s = schedule('<wday>Wednesday</wday><time>06:00</time><interval>2w</interval><run_on_start>no</run_on_start>');
    assert.deepEqual(runs(s, at('2026-11-29T10:00:00Z'), 3), ['2026-12-02T06:00:00.000Z', '2026-12-16T06:00:00.000Z', '2026-12-30T06:00:00.000Z']);
    assert.deepEqual(runs(schedule('<wday>sun</wday><run_on_start>no</run_on_start>'), at('2026-11-29T10:00:00Z'), 2), [
      '2026-12-06T00:00:00.000Z',
      '2026-12-13T00:00:00.000Z',
    ]);
  });

  test('day: that day of the month, every N months; a short month runs on its last day', () => {
    const s = schedule('<day>31</day><time>23:00</time><interval>1M</interval><run_on_start>no</run_on_start>');
    assert.deepEqual(runs(s, at('2026-11-29T10:00:00Z'), 4), [
      '2026-11-30T23:00:00.000Z',
      '2026-12-31T23:00:00.000Z',
      '2027-01-31T23:00:00.000Z',
      '2027-02-28T23:00:00.000Z',
    ]);
    assert.deepEqual(runs(schedule('<day>1</day><interval>3M</interval><run_on_start>no</run_on_start>'), at('2026-11-29T10:00:00Z'), 3), [
      '2026-12-01T00:00:00.000Z',
      '2027-03-01T00:00:00.000Z',
      '2027-06-01T00:00:00.000Z',
    ]);
  });

  test('a pass longer than its interval: the next starts at once, flagged as overtaken; passes never overlap', () => {
    const s = schedule('<interval>1m</interval>');
    const due = at('2026-11-29T10:00:00Z');
    assert.deepEqual(nextRun(s, due, at('2026-11-29T10:00:30Z')), { at: at('2026-11-29T10:01:00Z'), overtaken: false });
    const late = nextRun(s, due, at('2026-11-29T10:03:10Z'));
    assert.deepEqual(late, { at: at('2026-11-29T10:03:10Z'), overtaken: true });
    const daily = schedule('<time>02:30</time>');
    assert.equal(nextRun(daily, at('2026-11-29T02:30:00Z'), at('2026-11-30T03:00:00Z')).overtaken, true);
  });

  test("Wazuh's adjustments are warnings naming file and line; day with wday is an error", () => {
    assert.match(warnings('<day>5</day><interval>10m</interval>')[0]!, /ossec\.conf:1: .*multiple of one month.*1M/);
    assert.equal(schedule('<day>5</day><interval>10m</interval>').intervalMonths, 1);
    assert.match(warnings('<wday>monday</wday><interval>3d</interval>')[0]!, /multiple of one week.*1w/);
    assert.equal(schedule('<wday>monday</wday><interval>3d</interval>').intervalSeconds, 604_800);
    assert.match(warnings('<time>10:00</time><interval>90m</interval>')[0]!, /multiple of one day.*1d/);
    assert.deepEqual(warnings('<time>10:00</time><interval>2d</interval>'), []);
    assert.throws(() => schedule('<day>5</day><wday>monday</wday>'), /ossec\.conf:1: .*'day' is not compatible with 'wday'/);
    assert.throws(() => schedule('<day>32</day>'), /<day> "32"/);
    assert.throws(() => schedule('<wday>someday</wday>'), /<wday> "someday" is not a day of the week/);
    assert.throws(() => schedule('<time>24:00</time>'), /<time> "24:00" is not a time of day/);
  });

  test('calendar times are local: a daily 02:30 stays 02:30 across a daylight saving change', () => {
    process.env['TZ'] = 'Europe/Madrid';
    try {
      // Summer time ends on 2026-10-25 in Europe.
      const s = schedule('<time>02:30</time><run_on_start>no</run_on_start>');
      const local = runs(s, new Date(2026, 9, 24, 12, 0), 3).map((iso) => {
        const d = new Date(iso);
        return `${d.getDate()} ${d.getHours()}:${d.getMinutes()}`;
      });
      assert.deepEqual(local, ['25 2:30', '26 2:30', '27 2:30']);
    } finally {
      process.env['TZ'] = 'UTC';
    }
  });
});
