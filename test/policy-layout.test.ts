// The policy every caller shares (src/policy): which layout a bucket is read by and where a key sits in
// it, the facts of a key's verdict built one way, and the deletes remove_from_bucket owes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { owedDelete } from '../src/policy/deletes.js';
import { chooseLayout, knownLayout, placeKey } from '../src/policy/layout.js';
import { judgeKey, keyFacts } from '../src/policy/verdict.js';

const bucket = { path: 'gd/', pathSuffix: '' };
const NATIVE = 'gd/AWSLogs/111122223333/GuardDuty/eu-west-1/2026/11/29/0a1b.jsonl.gz';
const FIREHOSE = 'gd/2026/11/29/13/stream-1-2026-11-29-13-00-00-00000000-0000-4000-8000-000000000000.gz';

describe('the layout', () => {
  test('the one the state knows wins; a bucket never read is told by its AWSLogs/ listing', () => {
    assert.equal(chooseLayout('firehose', true), 'firehose', 'never guessed again from what is listed');
    assert.equal(chooseLayout('native', false), 'native', 'a bucket emptied by remove_from_bucket keeps its layout');
    assert.equal(chooseLayout(null, true), 'native');
    assert.equal(chooseLayout(null, false), 'firehose');
  });

  test('the state knows it from its partitions of the bucket\'s path', () => {
    assert.equal(knownLayout('gd/', []), null);
    assert.equal(knownLayout('gd/', [{ prefix: 'gd/AWSLogs/111122223333/GuardDuty/eu-west-1/', account: '111122223333', region: 'eu-west-1' }]), 'native');
    assert.equal(knownLayout('gd/', [{ prefix: 'gd/', account: '', region: '' }]), 'firehose');
    assert.equal(knownLayout('other/', [{ prefix: 'gd/', account: '', region: '' }]), null, 'another path of the bucket is another reading');
  });

  test('a key is placed only in the layout it is read by: partition and folder, or nothing', () => {
    assert.deepEqual(placeKey(bucket, 'native', NATIVE), {
      layout: 'native',
      partition: { kind: 'native', account: '111122223333', region: 'eu-west-1', prefix: 'gd/AWSLogs/111122223333/GuardDuty/eu-west-1/' },
      day: '2026-11-29',
      folder: '2026-11-29',
    });
    assert.deepEqual(placeKey(bucket, 'firehose', FIREHOSE), { layout: 'firehose', partition: { kind: 'firehose', prefix: 'gd/' }, day: '2026-11-29', folder: '2026-11-29T13' });
    assert.equal(placeKey(bucket, 'firehose', NATIVE), null, 'a native-shaped key of a Firehose bucket is outside its layout');
    assert.equal(placeKey(bucket, 'native', FIREHOSE), null);
    assert.equal(placeKey(bucket, 'native', 'gd/AWSLogs/111122223333/GuardDuty/eu-west-1/2026/11/29/'), null, 'a folder marker');
  });
});

describe('a key\'s facts, built once', () => {
  const context = { bucket: { onlyLogsAfter: '2026-11-01', accountIds: ['999999999999'], regions: null }, skipOnError: true, maxAttempts: 3, rescan: false };
  test('from the placed key, the row and the window; the partition\'s exclusion from the configuration', () => {
    const placed = placeKey(bucket, 'native', NATIVE);
    assert.deepEqual(keyFacts(context, placed, undefined, '2026-11-28'), {
      folder: '2026-11-29',
      excluded: 'account-not-configured',
      onlyLogsAfter: '2026-11-01',
      known: undefined,
      windowStart: '2026-11-28',
      skipOnError: true,
      maxAttempts: 3,
      rescan: false,
    });
    assert.deepEqual(judgeKey(keyFacts(context, placed, undefined, '2026-11-28')), { read: false, why: 'account-not-configured' });
    const open = { ...context, bucket: { ...context.bucket, accountIds: null } };
    assert.deepEqual(judgeKey(keyFacts(open, placed, undefined, null)), { read: true, why: 'new', resume: undefined }, 'a notified key: no window');
    assert.deepEqual(judgeKey(keyFacts(open, null, undefined, '2026-11-28')), { read: false, why: 'outside-layout' });
    assert.equal(keyFacts(open, placeKey(bucket, 'firehose', FIREHOSE), undefined, null).excluded, null, 'Firehose has no accounts to leave out');
  });
});

describe('deletes remove_from_bucket owes', () => {
  test('owed while remove_from_bucket is yes, wherever the key is; kept when it is now no', () => {
    assert.equal(owedDelete(false, true), 'none');
    assert.equal(owedDelete(true, true), 'owed');
    assert.equal(owedDelete(true, false), 'kept');
  });
});
