// What an SQS message from an S3 bucket notification says: S3 event records (sent straight to SQS, or
// through SNS), S3 events routed through EventBridge, and the s3:TestEvent S3 sends when the
// notification is set up.

export interface NotifiedObject {
  bucket: string;
  key: string;
  size: number | null;
  etag: string;
}

export type Notification =
  /** `unreadable`: why each record that names a new object could not be understood (the message stays for its dead-letter queue). */
  | { kind: 'objects'; objects: NotifiedObject[]; unreadable: string[] }
  | { kind: 'test' }
  | { kind: 'other'; reason: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** S3 event keys are URL-encoded, with `+` for a space. Throws on a malformed `%` escape. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replaceAll('+', ' '));
}

/** A new object named by an S3 event, or why the record naming it cannot be understood. */
function notifiedObject(bucket: unknown, object: Json | undefined, etag: unknown, where: string): NotifiedObject | string {
  if (typeof bucket !== 'string' || !object || typeof object['key'] !== 'string') return `${where} names no bucket and key`;
  let key: string;
  try {
    key = decodeS3Key(object['key']);
  } catch (err) {
    return `${where}: key ${JSON.stringify(object['key'])} is not valid URL encoding (${(err as Error).message})`;
  }
  return { bucket, key, size: typeof object['size'] === 'number' ? object['size'] : null, etag: typeof etag === 'string' ? `"${etag}"` : '' };
}

function fromS3Records(records: unknown[]): Notification {
  const objects: NotifiedObject[] = [];
  const unreadable: string[] = [];
  records.forEach((record, index) => {
    if (!isObject(record) || !isObject(record['s3'])) return;
    const eventName = String(record['eventName'] ?? '');
    if (!eventName.startsWith('ObjectCreated:')) return;
    const s3 = record['s3'];
    const object = isObject(s3['object']) ? s3['object'] : undefined;
    const where = `record ${index + 1} of ${records.length} (${eventName})`;
    const found = notifiedObject(isObject(s3['bucket']) ? s3['bucket']['name'] : undefined, object, object?.['eTag'], where);
    if (typeof found === 'string') unreadable.push(found);
    else objects.push(found);
  });
  if (objects.length === 0 && unreadable.length === 0) return { kind: 'other', reason: 'no ObjectCreated record in the S3 event' };
  return { kind: 'objects', objects, unreadable };
}

/**
 * An S3 event delivered by an EventBridge rule. Its key is decoded as in S3's own records: AWS's own
 * readers of these events (Powertools, Data Prepper) URL-decode `detail.object.key` the same way.
 */
function fromEventBridge(event: Json): Notification {
  const detailType = String(event['detail-type']);
  if (detailType !== 'Object Created') return { kind: 'other', reason: `EventBridge "${detailType}" event, not a new object` };
  const detail = isObject(event['detail']) ? event['detail'] : {};
  const object = isObject(detail['object']) ? detail['object'] : undefined;
  const found = notifiedObject(isObject(detail['bucket']) ? detail['bucket']['name'] : undefined, object, object?.['etag'], 'EventBridge "Object Created" event');
  return typeof found === 'string' ? { kind: 'objects', objects: [], unreadable: [found] } : { kind: 'objects', objects: [found], unreadable: [] };
}

export function parseNotification(body: string, depth = 0): Notification {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return { kind: 'other', reason: 'the message body is not JSON' };
  }
  if (!isObject(message)) return { kind: 'other', reason: 'the message body is not a JSON object' };
  if (message['Event'] === 's3:TestEvent') return { kind: 'test' };
  if (Array.isArray(message['Records'])) return fromS3Records(message['Records']);
  if (message['source'] === 'aws.s3' && typeof message['detail-type'] === 'string') return fromEventBridge(message);
  // SNS in between: the S3 event is the notification's Message, as a string.
  if (message['Type'] === 'Notification' && typeof message['Message'] === 'string' && depth === 0) {
    return parseNotification(message['Message'], depth + 1);
  }
  return { kind: 'other', reason: 'not an S3 event notification' };
}
