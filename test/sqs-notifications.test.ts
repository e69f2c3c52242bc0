// What an SQS message names (src/sqs/notifications.ts): S3 event records, SNS-wrapped ones, the test
// event and EventBridge events, keys URL-decoded, layouts found without configuration, records that
// cannot be understood. The subscriber reading them in collector processes: process/sqs-subscriber.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNotification } from '../src/sqs/notifications.js';
import { locateKey } from '../src/walk/locate.js';
import { eventBridgeEvent, encodeKey, findingKey, s3Event, s3Record } from './helpers/notifications.js';

describe('notifications', () => {
  test('S3 event records, SNS-wrapped ones and the test event; keys URL-decoded; layouts found without configuration', () => {
    const key = 'guard duty/AWSLogs/888888888888/GuardDuty/ap-northeast-1/2026/11/29/a+b.jsonl.gz';
    const event = s3Event('b', key, 10);
    assert.deepEqual(parseNotification(event), { kind: 'objects', objects: [{ bucket: 'b', key, size: 10, etag: '"abc"' }], unreadable: [] });
    assert.deepEqual(parseNotification(JSON.stringify({ Type: 'Notification', Message: event })), parseNotification(event));
    assert.deepEqual(parseNotification(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'b' })), { kind: 'test' });
    assert.equal(parseNotification('not json').kind, 'other');
    assert.deepEqual(locateKey(key), { layout: 'native', path: 'guard duty/', pathSuffix: '', account: '888888888888', region: 'ap-northeast-1', day: '2026-11-29' });
    assert.equal(locateKey('x/AWSLogs/o-abc123/888888888888/GuardDuty/us-east-1/2026/11/29/f.jsonl.gz')?.layout, 'native');
    assert.deepEqual(locateKey('fh/2026/11/29/13/stream-1-2026-11-29-13-00-00-00000000-0000-4000-8000-000000000000.gz'), { layout: 'firehose', path: 'fh/', day: '2026-11-29' });
    assert.equal(locateKey('AWSLogs/888888888888/CloudTrail/us-east-1/2026/11/29/x.json.gz'), null);
  });

  test('S3 events through EventBridge: Object Created names its object, key URL-decoded; other detail-types name none', () => {
    const key = 'guard duty/AWSLogs/888888888888/GuardDuty/ap-northeast-1/2026/11/29/a+b.jsonl.gz';
    assert.deepEqual(parseNotification(eventBridgeEvent('b', key, 10)), { kind: 'objects', objects: [{ bucket: 'b', key, size: 10, etag: '"abc"' }], unreadable: [] });
    assert.deepEqual(parseNotification(eventBridgeEvent('b', key, 10, 'Object Deleted')), { kind: 'other', reason: 'EventBridge "Object Deleted" event, not a new object' });
  });

  test('a record that cannot be understood is named, beside the objects the other records name', () => {
    const good = findingKey('good');
    const mixed = JSON.stringify({ Records: [s3Record('b', encodeKey(good), 10), s3Record('b', 'AWSLogs/bad%ZZ.jsonl.gz', 10)] });
    const notification = parseNotification(mixed);
    assert.equal(notification.kind, 'objects');
    assert.deepEqual(notification.kind === 'objects' && notification.objects.map((o) => o.key), [good]);
    assert.deepEqual(notification.kind === 'objects' && notification.unreadable, [
      'record 2 of 2 (ObjectCreated:Put): key "AWSLogs/bad%ZZ.jsonl.gz" is not valid URL encoding (URI malformed)',
    ]);
  });
});
