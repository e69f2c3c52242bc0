// `reset BUCKET [--since DAY]`: what it forgets and where it moves each partition's window, planned in
// this process from the state's rows (planReset). Carried out on real states through the command line,
// with its confirmation and its refusals: process/reset-cli.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planReset } from '../src/commands/reset.js';
import { dayOfKey } from '../src/walk/dates.js';

const ACCOUNT = '565656565656';
const EAST = 'us-east-1';
const WEST = 'eu-west-1';

describe('reset', () => {
  test('the plan: the window starts at since, never moved forward; rows kept before the day; keys under no partition by their own date folders', () => {
    const prefix = `AWSLogs/${ACCOUNT}/GuardDuty/${EAST}/`;
    const plan = planReset(
      'b',
      [
        { prefix, account: ACCOUNT, region: EAST, windowStart: '2026-11-29' },
        { prefix: `AWSLogs/${ACCOUNT}/GuardDuty/${WEST}/`, account: ACCOUNT, region: WEST, windowStart: '2026-11-10' },
        { prefix: `AWSLogs/${ACCOUNT}/GuardDuty/ap-south-1/`, account: ACCOUNT, region: 'ap-south-1', windowStart: null },
      ],
      [
        { key: `${prefix}2026/11/19/a.gz`, status: 'done' },
        { key: `${prefix}2026/11/20/b.gz`, status: 'done' },
        { key: `${prefix}2026/11/21/c.gz`, status: 'failed' },
        { key: `AWSLogs/${ACCOUNT}/GuardDuty/eu-north-1/2026/11/22/d.gz`, status: 'done' },
        { key: `AWSLogs/${ACCOUNT}/GuardDuty/eu-north-1/2026/11/02/e.gz`, status: 'done' },
      ],
      '2026-11-20',
    );
    const [south, west, east, loose] = plan.partitions;
    assert.deepEqual(east!.window, { from: '2026-11-29', to: '2026-11-20' });
    assert.deepEqual(east!.keys, [`${prefix}2026/11/20/b.gz`, `${prefix}2026/11/21/c.gz`]);
    assert.deepEqual([east!.done, east!.failed], [1, 1]);
    assert.deepEqual(west!.window, { from: '2026-11-10', to: '2026-11-10' }, 'never forward');
    assert.deepEqual(south!.window, { from: null, to: null });
    // Firehose partitions start at an hour folder: one after the day moves back to it, one before stays.
    const hose = (start: string) => planReset('h', [{ prefix: 'fh/', account: '', region: '', windowStart: start }], [], '2026-11-20').partitions[0]!.window;
    assert.deepEqual(hose('2026-11-20T05'), { from: '2026-11-20T05', to: '2026-11-20' });
    assert.deepEqual(hose('2026-11-19T23'), { from: '2026-11-19T23', to: '2026-11-19T23' });
    assert.deepEqual(loose!.keys, [`AWSLogs/${ACCOUNT}/GuardDuty/eu-north-1/2026/11/22/d.gz`]);
    assert.equal(plan.objects, 3);
    assert.equal(dayOfKey('p/2026/11/29/10/stream-1-2026-11-29-10-00-00-x.gz', 'p/'), '2026-11-29');
    assert.equal(dayOfKey('x/2026/11/29/10/stream-1.gz', null), '2026-11-29');
    assert.equal(dayOfKey('p/processing-failed/x.gz', 'p/'), null);
  });
});
