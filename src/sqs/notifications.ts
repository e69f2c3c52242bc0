// What an SQS message from an S3 bucket notification says: S3 event records (sent straight to SQS, or
// through SNS), and the s3:TestEvent S3 sends when the notification is set up.

export interface NotifiedObject {
  bucket: string;
  key: string;
  size: number | null;
  etag: string;
}

export type Notification =
  | { kind: 'objects'; objects: NotifiedObject[] }
  | { kind: 'test' }
  | { kind: 'other'; reason: string };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** S3 event keys are URL-encoded, with `+` for a space. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replaceAll('+', ' '));
}

function fromS3Records(records: unknown[]): Notification {
  const objects: NotifiedObject[] = [];
  for (const record of records) {
    if (!isObject(record) || !isObject(record['s3'])) continue;
    const eventName = String(record['eventName'] ?? '');
    if (!eventName.startsWith('ObjectCreated:')) continue;
    const s3 = record['s3'];
    const bucket = isObject(s3['bucket']) ? s3['bucket']['name'] : undefined;
    const object = isObject(s3['object']) ? s3['object'] : undefined;
    if (typeof bucket !== 'string' || !object || typeof object['key'] !== 'string') continue;
    objects.push({
      bucket,
      key: decodeS3Key(object['key']),
      size: typeof object['size'] === 'number' ? object['size'] : null,
      etag: typeof object['eTag'] === 'string' ? `"${object['eTag']}"` : '',
    });
  }
  return objects.length > 0 ? { kind: 'objects', objects } : { kind: 'other', reason: 'no ObjectCreated record in the S3 event' };
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
  // SNS in between: the S3 event is the notification's Message, as a string.
  if (message['Type'] === 'Notification' && typeof message['Message'] === 'string' && depth === 0) {
    return parseNotification(message['Message'], depth + 1);
  }
  return { kind: 'other', reason: 'not an S3 event notification' };
}
