// GetObject and ListObjectsV2 without the SDK's per-request machinery. Through the SDK a request costs
// about 1.5 ms of CPU and some 150 KB of garbage on this machine (a middleware stack resolved per call,
// endpoint rules, response shaping), more than inflating and parsing the object a GET fetches; signed
// here and sent on the client's own keep-alive agents it costs about a fifth of that
// (docs/performance.md).
//
// Only the plain case is handled here: a 200 answer on the route the SDK itself last reached the bucket
// on (its endpoint, path style, and the region it signed for, after any redirect). Anything else — no
// route yet, another status, a network error, a listing that does not parse — is a fallback, and the
// caller asks the SDK, whose retries, redirects, clock-skew correction and error shapes then apply
// exactly as before.

import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { XMLParser } from 'fast-xml-parser';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, ChecksumConstructor, HashConstructor, HttpRequest } from '@smithy/types';

/** How the SDK reached the bucket: what a direct request repeats. */
export interface BucketRoute {
  protocol: 'http:' | 'https:';
  hostname: string;
  port: number | undefined;
  /** The path before the key: `/bucket` path style, '' virtual-hosted (a custom endpoint's own path first). */
  basePath: string;
  /** The region in the request's credential scope. */
  region: string;
  /** `user:password` of an endpoint URL that carries them (a proxy's), sent as the SDK sends it. */
  auth?: string;
}

const SCOPE_REGION = /Credential=[^/,]+\/\d{8}\/([^/,]+)\/s3\/aws4_request/;

/**
 * The route a signed, successful request took: a ListObjectsV2 (its path is the bucket's), or a GetObject
 * of `key` (its path ends with the key). Null when it cannot be read from the request.
 */
export function routeOf(
  request: Pick<HttpRequest, 'protocol' | 'hostname' | 'port' | 'path' | 'headers' | 'username' | 'password'>,
  key?: string,
): BucketRoute | null {
  const region = SCOPE_REGION.exec(request.headers['authorization'] ?? '')?.[1];
  if (region === undefined || (request.protocol !== 'http:' && request.protocol !== 'https:')) return null;
  let basePath: string;
  if (key === undefined) basePath = request.path.replace(/\/+$/, '');
  else {
    const keyPath = objectPath('', key);
    if (!request.path.endsWith(keyPath)) return null;
    basePath = request.path.slice(0, -keyPath.length);
  }
  const route: BucketRoute = { protocol: request.protocol, hostname: request.hostname, port: request.port, basePath, region };
  if (request.username != null || request.password != null) route.auth = `${request.username ?? ''}:${request.password ?? ''}`;
  return route;
}

/** Percent-encoding as SigV4 wants it: RFC 3986 unreserved characters only (as the SDK does). */
function escape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** A key as S3 wants it in the path: each segment percent-encoded once, slashes kept. */
export function objectPath(basePath: string, key: string): string {
  return `${basePath}/${key.split('/').map(escape).join('/')}`;
}

export interface SignedGet {
  /** Path and query string, as sent. */
  path: string;
  headers: Record<string, string>;
}

/**
 * A GET of `path` (with `query`) on `route`, signed (SigV4, service s3) at `date`. The payload is
 * declared unsigned, as S3 allows for a request without a body. `extraHeaders` are signed too.
 */
export async function signRequest(
  signer: SignatureV4,
  route: BucketRoute,
  path: string,
  query: Record<string, string>,
  date: Date,
  extraHeaders: Record<string, string> = {},
): Promise<SignedGet> {
  const host = route.port !== undefined ? `${route.hostname}:${route.port}` : route.hostname;
  const signed = await signer.sign(
    {
      method: 'GET',
      protocol: route.protocol,
      hostname: route.hostname,
      port: route.port,
      path,
      query,
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extraHeaders },
    },
    { signingDate: date, signingRegion: route.region },
  );
  const search = Object.entries(query)
    .map(([name, value]) => `${escape(name)}=${escape(value)}`)
    .join('&');
  return { path: search === '' ? path : `${path}?${search}`, headers: signed.headers };
}

/** A signed GetObject of `key` (see signRequest). */
export function signGet(signer: SignatureV4, route: BucketRoute, key: string, date: Date, extraHeaders: Record<string, string> = {}): Promise<SignedGet> {
  return signRequest(signer, route, objectPath(route.basePath, key), {}, date, extraHeaders);
}

/** What one ListObjectsV2 page says, as the bucket reader uses it. */
export interface ListPage {
  contents: Array<{ key: string; size: number; etag: string; lastModified: Date | undefined }>;
  prefixes: string[];
  keyCount: number;
  /** IsTruncated: more keys follow, to be asked for with `nextToken`. */
  truncated: boolean;
  nextToken: string | undefined;
}

export interface ListQuery {
  prefix: string;
  delimiter?: string;
  continuationToken?: string;
  startAfter?: string;
  maxKeys?: number;
}

const listParser = new XMLParser({
  ignoreAttributes: true,
  // Keys are text: "0123" and " spaced " stay exactly as S3 sent them.
  parseTagValue: false,
  trimValues: false,
  isArray: (name) => name === 'Contents' || name === 'CommonPrefixes',
});

type XmlNode = Record<string, unknown>;

function text(node: XmlNode, name: string): string | undefined {
  const value = node[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * A ListObjectsV2 answer (ListBucketResult) as the SDK would give it: keys and ETags exactly as sent
 * (entities decoded, ETag with its quotes), sizes as numbers. Null when it is not such a document.
 */
export function parseListPage(xml: string): ListPage | null {
  let root: XmlNode;
  try {
    root = listParser.parse(xml) as XmlNode;
  } catch {
    return null;
  }
  const result = root['ListBucketResult'];
  if (typeof result !== 'object' || result === null) return null;
  const page = result as XmlNode;
  const contents: ListPage['contents'] = [];
  for (const entry of (page['Contents'] as XmlNode[] | undefined) ?? []) {
    const key = text(entry, 'Key');
    if (key === undefined) continue;
    const modified = text(entry, 'LastModified');
    contents.push({ key, size: Number(text(entry, 'Size') ?? 0), etag: text(entry, 'ETag') ?? '', lastModified: modified ? new Date(modified) : undefined });
  }
  const prefixes: string[] = [];
  for (const entry of (page['CommonPrefixes'] as XmlNode[] | undefined) ?? []) {
    const prefix = text(entry, 'Prefix');
    if (prefix !== undefined) prefixes.push(prefix);
  }
  return {
    contents,
    prefixes,
    keyCount: Number(text(page, 'KeyCount') ?? contents.length + prefixes.length),
    truncated: text(page, 'IsTruncated') === 'true',
    nextToken: text(page, 'NextContinuationToken'),
  };
}

export function s3Signer(
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
  sha256: ChecksumConstructor | HashConstructor,
  region: string,
): SignatureV4 {
  return new SignatureV4({ credentials, sha256, region, service: 's3', uriEscapePath: false, applyChecksum: false });
}

export interface DirectOptions {
  credentials: AwsCredentialIdentityProvider;
  sha256: ChecksumConstructor | HashConstructor;
  /** The SDK's correction for a skewed clock (ms), kept up to date by its own requests. */
  clockOffset(): number;
  agents: { http: HttpAgent; https: HttpsAgent };
  /** A connection silent this long fails the request. */
  timeoutMs: number;
}

/** Why a GET went to the SDK without a direct try first. */
export const NO_ROUTE = 'no route learnt yet';

export type DirectAnswer = { body: IncomingMessage; contentLength: number | undefined; etag: string | undefined } | { fallback: string };
export type DirectList = { page: ListPage } | { fallback: string };

/** Bytes of a listing answer read at most (a page of 1,000 keys is some 300 KB). */
const MAX_LIST_BYTES = 16 * 1024 * 1024;

export class DirectS3 {
  private route: BucketRoute | null = null;
  private signer: SignatureV4 | null = null;

  constructor(private readonly options: DirectOptions) {}

  /** The SDK listed the bucket (or read `key`) successfully with this request: GETs follow it. */
  learn(request: HttpRequest, key?: string): void {
    const route = routeOf(request, key);
    if (route === null) return;
    if (this.signer === null || this.route?.region !== route.region) {
      this.signer = s3Signer(this.options.credentials, this.options.sha256, route.region);
    }
    this.route = route;
  }

  /**
   * The object's body when S3 answers 200 on the learnt route; otherwise why not (the caller asks the
   * SDK). A stop (`signal`) rejects, as the SDK's request would.
   */
  get(key: string, signal?: AbortSignal): Promise<DirectAnswer> {
    return this.send((route) => objectPath(route.basePath, key), {}, signal);
  }

  /** One ListObjectsV2 page when S3 answers 200 on the learnt route; otherwise why not. */
  async list(query: ListQuery, signal?: AbortSignal): Promise<DirectList> {
    const params: Record<string, string> = { 'list-type': '2', prefix: query.prefix };
    if (query.delimiter !== undefined) params['delimiter'] = query.delimiter;
    if (query.continuationToken !== undefined) params['continuation-token'] = query.continuationToken;
    if (query.startAfter !== undefined) params['start-after'] = query.startAfter;
    if (query.maxKeys !== undefined) params['max-keys'] = String(query.maxKeys);
    const answer = await this.send((route) => `${route.basePath}/`, params, signal);
    if ('fallback' in answer) return answer;
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > MAX_LIST_BYTES) {
          answer.body.destroy();
          return { fallback: `a listing answer larger than ${MAX_LIST_BYTES} bytes` };
        }
        chunks.push(chunk);
      }
    } catch (err) {
      return { fallback: `reading the listing failed: ${(err as Error).message}` };
    }
    const page = parseListPage(Buffer.concat(chunks).toString('utf8'));
    return page === null ? { fallback: 'the listing answer is not a ListBucketResult' } : { page };
  }

  private async send(pathOf: (route: BucketRoute) => string, query: Record<string, string>, signal?: AbortSignal): Promise<DirectAnswer> {
    const route = this.route;
    const signer = this.signer;
    if (route === null || signer === null) return { fallback: NO_ROUTE };
    signal?.throwIfAborted();
    let signed: SignedGet;
    try {
      signed = await signRequest(signer, route, pathOf(route), query, new Date(Date.now() + this.options.clockOffset()));
    } catch (err) {
      return { fallback: `signing failed: ${(err as Error).message}` };
    }
    const send = route.protocol === 'https:' ? httpsRequest : httpRequest;
    const agent = route.protocol === 'https:' ? this.options.agents.https : this.options.agents.http;
    return new Promise<DirectAnswer>((resolve, reject) => {
      const request = send(
        { agent, protocol: route.protocol, hostname: route.hostname, port: route.port, method: 'GET', path: signed.path, headers: signed.headers, signal, auth: route.auth },
        (response) => {
          if (response.statusCode !== 200) {
            // Drained rather than destroyed, so that the connection is kept for the SDK's request.
            response.resume();
            resolve({ fallback: `HTTP ${response.statusCode}` });
            return;
          }
          const length = Number(response.headers['content-length']);
          const etag = response.headers['etag'];
          resolve({ body: response, contentLength: Number.isFinite(length) ? length : undefined, etag: typeof etag === 'string' ? etag : undefined });
        },
      );
      request.setTimeout(this.options.timeoutMs, () => request.destroy(new Error(`no answer in ${this.options.timeoutMs / 1000} s`)));
      request.on('error', (err) => {
        if (signal?.aborted) reject(signal.reason);
        else resolve({ fallback: err.message });
      });
      request.end();
    });
  }
}
