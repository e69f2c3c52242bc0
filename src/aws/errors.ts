// AWS failures turned into one line an operator can act on: what failed, where, and the fix.
// An endpoint's password (https://user:pass@host) never appears in it: see maskUrl.

import { FetchError } from './body.js';
import { maskUrl, maskUrlsIn } from '../config/values.js';
import { describe } from '../errors.js';

export type S3Operation = 'list' | 'get' | 'delete';

export interface FailureContext {
  bucket: string;
  key?: string;
  operation: S3Operation;
  /** The configured service_endpoint, or null for AWS itself. */
  endpoint: string | null;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

export interface AwsLikeError {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** The network failure behind an error (ECONNRESET, a timeout …), looking through its causes; null for none. */
export function networkCode(err: AwsLikeError | undefined, depth = 0): string | null {
  if (!err || depth > 4) return null;
  if (err.code && NETWORK_CODES.has(err.code)) return err.code;
  if (err.name === 'TimeoutError') return 'ETIMEDOUT';
  return networkCode(err.cause as AwsLikeError | undefined, depth + 1);
}

/** Whether the error came from AWS (an HTTP answer, credentials, the network) rather than the content. */
export function isAwsFailure(err: unknown): boolean {
  const e = err as AwsLikeError;
  return e?.$metadata !== undefined || e?.name === 'CredentialsProviderError' || networkCode(e) !== null;
}

const ACTION: Record<S3Operation, string> = {
  list: 'listing the bucket',
  get: 'reading the object',
  delete: 'deleting the object',
};

export function explainAwsError(err: unknown, ctx: FailureContext): string {
  const e = (err ?? {}) as AwsLikeError;
  const code = e.name ?? e.Code ?? 'Error';
  const message = maskUrlsIn((e.message ?? String(err)).replace(/\s+/g, ' ').trim());
  const where = ctx.key ? `s3://${ctx.bucket}/${ctx.key}` : `s3://${ctx.bucket}`;
  const action = ACTION[ctx.operation];

  const network = networkCode(e);
  if (network) {
    return `${where}: cannot reach ${ctx.endpoint !== null ? maskUrl(ctx.endpoint) : 'the AWS S3 endpoint'} (${network}) while ${action}; check service_endpoint, DNS, proxy and firewall`;
  }
  if (code === 'CredentialsProviderError') {
    const profile = /profile[^\w]*\[?([\w.@-]+)\]?/i.exec(message);
    if (/profile/i.test(message) && /could not resolve|not found|does not exist/i.test(message)) {
      return `${where}: aws_profile ${profile?.[1] ?? ''} is not in the shared config or credentials files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE): ${message}`;
    }
    return `${where}: no AWS credentials could be found (${message}); set aws_profile or iam_role_arn, or give the process environment, web-identity, container or instance credentials`;
  }
  if (/sts:AssumeRole/.test(message)) {
    return `${where}: the role cannot be assumed (${message}); the role's trust policy must allow this identity, with the configured external_id`;
  }
  switch (code) {
    case 'NoSuchBucket':
      return `${where}: the bucket does not exist; check <name>, and that the credentials belong to the bucket's partition (aws, aws-us-gov, aws-cn)`;
    case 'InvalidAccessKeyId':
      return `${where}: credentials rejected: AWS does not know this access key id; check aws_profile, the role or the keys`;
    case 'SignatureDoesNotMatch':
      return `${where}: credentials rejected: the secret key does not match the access key id`;
    case 'ExpiredToken':
    case 'ExpiredTokenException':
    case 'TokenRefreshRequired':
    case 'InvalidToken':
      return `${where}: credentials expired or invalid session token (${code}); renew them (aws sso login, a fresh role session)`;
    case 'AccessDenied':
    case 'Forbidden':
      if (ctx.operation === 'list') {
        return `${where}: access denied ${action}; grant s3:ListBucket on arn:aws:s3:::${ctx.bucket} to the reading identity (${message})`;
      }
      if (ctx.operation === 'delete') {
        return `${where}: access denied ${action}; grant s3:DeleteObject on arn:aws:s3:::${ctx.bucket}/* or turn remove_from_bucket off (${message})`;
      }
      if (/kms/i.test(message)) {
        return `${where}: access denied by KMS ${action}; grant kms:Decrypt on the export's KMS key to the reading identity, in its IAM policy and in the key policy (${message})`;
      }
      return `${where}: access denied ${action}; grant s3:GetObject on arn:aws:s3:::${ctx.bucket}/*, and kms:Decrypt on the export's KMS key (IAM policy and key policy) (${message})`;
    case 'NoSuchKey':
      return `${where}: the object is gone (deleted since it was listed or notified)`;
    default:
      return `${where}: ${action} failed: ${code}${e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''}: ${message}`;
  }
}

/** One line naming bucket, key and cause; for AWS failures, also the fix. */
export function explainFailure(err: unknown, bucket: { name: string; serviceEndpoint: string | null }, operation: S3Operation, key?: string): string {
  // A body cut in transit says so: the network code behind it (a reset) would read as an unreachable endpoint.
  if (isAwsFailure(err) && !(err instanceof FetchError)) return explainAwsError(err, { bucket: bucket.name, key, operation, endpoint: bucket.serviceEndpoint });
  return `s3://${bucket.name}${key ? `/${key}` : ''}: ${describe(err)}`;
}
