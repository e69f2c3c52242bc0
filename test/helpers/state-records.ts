// Rows for a state built by hand through StateStore's public methods (what `status`, `explain` and
// `reset` read), and an object the collector records as failed.
import type { ObjectRecord, PartitionRef } from '../../src/state/store.js';
import { jsonlGz, makeFinding } from '../../support/findings.js';

/** The native partition of an account and region. */
export function partition(bucket: string, region: string, account: string): PartitionRef {
  return { bucket, account, region, prefix: `AWSLogs/${account}/GuardDuty/${region}/` };
}

/** What the collector records of a native object (account and region from its key). */
export function record(bucket: string, key: string, events = 1): ObjectRecord {
  const [, account = '', , region = ''] = key.split('/');
  return { bucket, path: '', account, region, key, etag: '"etag"', size: 100, events, malformed: 0 };
}

/** A gzip that is not: the collector records the object as failed ("not valid gzip"). */
export function corruptGzip(account: string, region: string): Buffer {
  return Buffer.concat([jsonlGz([makeFinding(account, region, 'never')]).subarray(0, 10), Buffer.from('this is not deflate data at all')]);
}
