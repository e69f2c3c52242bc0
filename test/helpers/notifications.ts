// S3 event notifications as S3, SNS and EventBridge deliver them to SQS, for the subscriber's tests.
import { nativeKey, today } from '../../support/findings.js';

/** The account and region of the objects notified. */
export const NOTIFIED_ACCOUNT = '888888888888';
export const NOTIFIED_REGION = 'ap-northeast-1';
const ACCOUNT = NOTIFIED_ACCOUNT;
const REGION = NOTIFIED_REGION;

/** A key as S3 events carry it: URL-encoded, `+` for spaces. */
export function encodeKey(key: string): string {
  return encodeURIComponent(key).replaceAll('%2F', '/').replaceAll('%20', '+');
}

/** One ObjectCreated record of an S3 event, its key given as the event carries it. */
export function s3Record(bucket: string, encodedKey: string, size: number) {
  return { eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encodedKey, size, eTag: 'abc' } } };
}

/** An S3 event notification as S3 sends it. */
export function s3Event(bucket: string, key: string, size: number): string {
  return JSON.stringify({ Records: [s3Record(bucket, encodeKey(key), size)] });
}

/** An S3 event as an EventBridge rule delivers it to SQS. */
export function eventBridgeEvent(bucket: string, key: string, size: number, detailType = 'Object Created'): string {
  return JSON.stringify({
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': detailType,
    source: 'aws.s3',
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: { version: '0', bucket: { name: bucket }, object: { key: encodeKey(key), size, etag: 'abc', sequencer: '617f08299329d189' }, reason: 'PutObject' },
  });
}

/** The key of a one-finding object under a path with a space. */
export function findingKey(id: string): string {
  return nativeKey(ACCOUNT, REGION, today(), `${id}.jsonl.gz`, 'guard duty/');
}

