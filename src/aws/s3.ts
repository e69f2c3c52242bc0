import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { fromIni, fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { HttpRequest } from '@smithy/types';
import { getProfileName, loadSharedConfigFiles } from '@smithy/shared-ini-file-loader';
import type { AwsAccess, BucketConfig } from '../config/load.js';
import { readBody } from './body.js';
import { DirectS3, NO_ROUTE, type ListPage, type ListQuery } from './direct.js';
import { checkedListing } from './listing.js';
import type { S3Operation } from './errors.js';

export const ROLE_SESSION_NAME = 'guardduty-wodle';

export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
  lastModified: Date | undefined;
}

/** What a listing (or an S3 notification) says of an object before it is read. */
export interface ListedObject {
  size: number | null;
  /** With its quotes, as S3 sends it; '' when unknown. */
  etag: string;
}

export interface ObjectBody {
  /** Checked as it is read (body.ts): a connection lost, a body cut short or silent is a FetchError. */
  body: AsyncIterable<Buffer>;
}

/** The S3 operations a bucket pass needs, over one client per bucket. */
export interface BucketClient {
  readonly bucket: string;
  /**
   * Common prefixes (sub-folders) directly under `prefix`, every page, each once. Ends early, quietly,
   * once `signal` is aborted; a listing that does not advance is a ListingError (listing.ts).
   */
  listFolders(prefix: string, signal?: AbortSignal): AsyncGenerator<string>;
  /** Objects under `prefix` (after `startAfter`, when given), every page, in key order, each once; as listFolders. */
  listObjects(prefix: string, startAfter?: string, signal?: AbortSignal): AsyncGenerator<ObjectSummary>;
  /** Whether anything at all exists under `prefix` (one request). */
  exists(prefix: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * The object's body. `listed` is what the listing or notification said of it: a body shorter than its
   * size (while the ETag is the same) is cut short, a FetchError, whatever the HTTP answer claimed.
   */
  getObject(key: string, signal?: AbortSignal, listed?: ListedObject): Promise<ObjectBody>;
  deleteObject(key: string): Promise<void>;
  close(): void;
}

/**
 * The region the clients start from (S3 redirects to the bucket's own region): the environment, else
 * the profile's `region`, else the first configured region, else us-east-1. Whichever it is decides the
 * partition, so GovCloud and China work when the environment, the profile or `regions` says so.
 */
export async function startRegion(bucket: Pick<AwsAccess, 'awsProfile' | 'regions'>): Promise<string> {
  const fromEnv = process.env['AWS_REGION'] || process.env['AWS_DEFAULT_REGION'];
  if (fromEnv) return fromEnv;
  try {
    const { configFile } = await loadSharedConfigFiles();
    const region = configFile[bucket.awsProfile ?? getProfileName({})]?.['region'];
    if (region) return region;
  } catch {
    // No shared config file: fall through.
  }
  return bucket.regions?.[0] ?? 'us-east-1';
}

/** Credentials as Wazuh's module chooses them: keys, else profile, else the default chain; then the role. */
export function credentialsFor(bucket: AwsAccess, region: string): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  let base: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  if (bucket.accessKey !== null && bucket.secretKey !== null) {
    base = { accessKeyId: bucket.accessKey, secretAccessKey: bucket.secretKey };
  } else if (bucket.awsProfile !== null) {
    // A profile may itself assume a role, use SSO or run credential_process; its STS calls go to
    // sts_endpoint too.
    base = fromIni({ profile: bucket.awsProfile, clientConfig: stsClientConfig(bucket, region) });
  } else {
    base = fromNodeProviderChain();
  }
  if (bucket.iamRoleArn === null) return base;
  return fromTemporaryCredentials({
    masterCredentials: base,
    params: {
      RoleArn: bucket.iamRoleArn,
      RoleSessionName: ROLE_SESSION_NAME,
      ...(bucket.iamRoleDuration !== null ? { DurationSeconds: bucket.iamRoleDuration } : {}),
      ...(bucket.externalId !== null ? { ExternalId: bucket.externalId } : {}),
    },
    clientConfig: stsClientConfig(bucket, region),
  });
}

function stsClientConfig(bucket: Pick<AwsAccess, 'stsEndpoint'>, region: string) {
  return { region, ...(bucket.stsEndpoint !== null ? { endpoint: bucket.stsEndpoint } : {}) };
}

export interface ReaderOptions {
  /** Sockets kept open per bucket: as many as objects fetched at once, plus room for listings. */
  maxSockets: number;
  /** A connection silent for this long fails its request (a stalled body included). */
  timeoutMs: number;
  /** Told of each S3 request made (retries inside the SDK not counted). */
  onRequest?(operation: S3Operation): void;
  /** A direct request (direct.ts) was not answered 200: the SDK asks again. `what` names the key or the listed prefix. */
  onFallback?(what: string, why: string): void;
}

/** The SDK's client for one bucket: its redirects, retries and clock-skew correction, on the given sockets. */
function s3ClientFor(bucket: BucketConfig, region: string, agents: { http: HttpAgent; https: HttpsAgent }, timeoutMs: number): S3Client {
  return new S3Client({
    region,
    credentials: credentialsFor(bucket, region),
    // A bucket in another region answers with a redirect the client follows, without configuration.
    followRegionRedirects: true,
    // Throttling (503 SlowDown), 5xx and network errors are retried with jittered backoff; a skewed
    // clock is corrected from the server's Date header and the request retried.
    maxAttempts: 5,
    ...(bucket.serviceEndpoint !== null ? { endpoint: bucket.serviceEndpoint, forcePathStyle: true } : {}),
    requestHandler: {
      httpAgent: agents.http,
      httpsAgent: agents.https,
      connectionTimeout: 10_000,
      requestTimeout: timeoutMs,
    },
  });
}

/** Direct requests that follow the route of the client's own successful listings and reads. */
function directBeside(client: S3Client, agents: { http: HttpAgent; https: HttpsAgent }, timeoutMs: number): DirectS3 {
  const direct = new DirectS3({
    credentials: client.config.credentials,
    sha256: client.config.sha256,
    clockOffset: () => client.config.systemClockOffset ?? 0,
    agents,
    timeoutMs,
  });
  // The request of each successful listing, as signed and sent (innermost, after redirects and retries).
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const status = (result.response as { statusCode?: number }).statusCode;
      if (status === 200 && context.commandName === 'ListObjectsV2Command') direct.learn(args.request as HttpRequest);
      if (status === 200 && context.commandName === 'GetObjectCommand') direct.learn(args.request as HttpRequest, (args.input as { Key: string }).Key);
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'learnBucketRoute' },
  );
  return direct;
}

/** One ListObjectsV2 page through the SDK, in the shape a direct listing gives. */
async function sdkListPage(client: S3Client, bucket: string, query: ListQuery, signal?: AbortSignal): Promise<ListPage> {
  const page = await client.send(
    new ListObjectsV2Command({
      Bucket: bucket,
      Prefix: query.prefix,
      Delimiter: query.delimiter,
      ContinuationToken: query.continuationToken,
      StartAfter: query.startAfter,
      MaxKeys: query.maxKeys,
    }),
    { abortSignal: signal },
  );
  return {
    contents: (page.Contents ?? []).flatMap((object) =>
      object.Key === undefined ? [] : [{ key: object.Key, size: object.Size ?? 0, etag: object.ETag ?? '', lastModified: object.LastModified }],
    ),
    prefixes: (page.CommonPrefixes ?? []).flatMap((common) => (common.Prefix ? [common.Prefix] : [])),
    keyCount: page.KeyCount ?? page.Contents?.length ?? 0,
    truncated: page.IsTruncated === true,
    nextToken: page.NextContinuationToken,
  };
}

/** The sockets a bucket's requests share, SDK and direct alike. */
function keepAliveAgents(maxSockets: number): { http: HttpAgent; https: HttpsAgent } {
  const agentOptions = { keepAlive: true, maxSockets };
  return { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };
}

async function sdkGetObject(
  client: S3Client,
  bucket: string,
  key: string,
  signal: AbortSignal | undefined,
  listed: ListedObject | undefined,
  timeoutMs: number,
): Promise<ObjectBody> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  if (!response.Body) throw new Error(`GetObject ${key} returned no body`);
  const body = response.Body as unknown as AsyncIterable<Buffer>;
  return { body: readBody(body, expectedBytes(response.ContentLength, response.ETag, listed), timeoutMs) };
}

/**
 * How many bytes the body must have: what the answer announced, and the size the listing gave when
 * the answer is of the same object (same ETag, or none said). A Content-Length that is missing (a
 * close-delimited or chunked answer) or wrong cannot then pass a cut body off as whole.
 */
export function expectedBytes(contentLength: number | undefined, etag: string | undefined, listed: ListedObject | undefined): number | undefined {
  const sameObject = listed !== undefined && listed.size !== null && (etag === undefined || listed.etag === '' || etag === listed.etag);
  if (!sameObject) return contentLength;
  return Math.max(contentLength ?? 0, listed.size!);
}

export async function createBucketClient(bucket: BucketConfig, options: ReaderOptions): Promise<BucketClient> {
  const region = await startRegion(bucket);
  const agents = keepAliveAgents(options.maxSockets);
  const client = s3ClientFor(bucket, region, agents, options.timeoutMs);
  const direct = directBeside(client, agents, options.timeoutMs);
  const name = bucket.name;

  /** One page: directly when the route is known and S3 answers 200, through the SDK otherwise. */
  async function listPage(query: ListQuery, signal?: AbortSignal): Promise<ListPage> {
    options.onRequest?.('list');
    const answer = await direct.list(query, signal);
    if ('page' in answer) return answer.page;
    if (answer.fallback !== NO_ROUTE) {
      options.onFallback?.(`${query.prefix} (listing)`, answer.fallback);
      options.onRequest?.('list');
    }
    return sdkListPage(client, name, query, signal);
  }

  return {
    bucket: name,
    listFolders(prefix, signal) {
      return checkedListing(listPage, { bucket: name, prefix }, { prefix, delimiter: '/' }, (page) => page.prefixes, (folder) => folder, signal);
    },
    listObjects(prefix, startAfter, signal) {
      return checkedListing(listPage, { bucket: name, prefix }, { prefix, startAfter }, (page) => page.contents, (object) => object.key, signal);
    },
    async exists(prefix, signal) {
      const page = await listPage({ prefix, maxKeys: 1 }, signal);
      return page.keyCount > 0;
    },
    async getObject(key, signal, listed) {
      options.onRequest?.('get');
      const answer = await direct.get(key, signal);
      if ('body' in answer) return { body: readBody(answer.body, expectedBytes(answer.contentLength, answer.etag, listed), options.timeoutMs) };
      if (answer.fallback !== NO_ROUTE) {
        options.onFallback?.(key, answer.fallback);
        options.onRequest?.('get');
      }
      return sdkGetObject(client, name, key, signal, listed, options.timeoutMs);
    },
    async deleteObject(key) {
      options.onRequest?.('delete');
      await client.send(new DeleteObjectCommand({ Bucket: name, Key: key }));
    },
    close() {
      client.destroy();
    },
  };
}
