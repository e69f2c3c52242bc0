// GetObject without the SDK's per-request machinery. Through the SDK a GET costs about 1.5 ms of CPU
// and some 150 KB of garbage on this machine (a middleware stack resolved per call, endpoint rules,
// response shaping), more than inflating and parsing the object it fetches; signed here and sent on
// the client's own keep-alive agents it costs about a fifth of that (README, Performance).
//
// Only the plain case is handled here: a 200 answer on the route the SDK itself last listed the bucket
// on (its endpoint, path style, and the region it signed for, after any redirect). Anything else — no
// route yet, another status, a network error — returns null and the caller asks the SDK, whose
// retries, redirects, clock-skew correction and error shapes then apply exactly as before.

import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
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
}

const SCOPE_REGION = /Credential=[^/,]+\/\d{8}\/([^/,]+)\/s3\/aws4_request/;

/**
 * The route a signed, successful request took: a ListObjectsV2 (its path is the bucket's), or a GetObject
 * of `key` (its path ends with the key). Null when it cannot be read from the request.
 */
export function routeOf(request: Pick<HttpRequest, 'protocol' | 'hostname' | 'port' | 'path' | 'headers'>, key?: string): BucketRoute | null {
  const region = SCOPE_REGION.exec(request.headers['authorization'] ?? '')?.[1];
  if (region === undefined || (request.protocol !== 'http:' && request.protocol !== 'https:')) return null;
  let basePath: string;
  if (key === undefined) basePath = request.path.replace(/\/+$/, '');
  else {
    const keyPath = objectPath('', key);
    if (!request.path.endsWith(keyPath)) return null;
    basePath = request.path.slice(0, -keyPath.length);
  }
  return { protocol: request.protocol, hostname: request.hostname, port: request.port, basePath, region };
}

/** A key as S3 wants it in the path: each segment percent-encoded once, RFC 3986 strictly (as the SDK does). */
export function objectPath(basePath: string, key: string): string {
  const encoded = key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
  return `${basePath}/${encoded}`;
}

export interface SignedGet {
  path: string;
  headers: Record<string, string>;
}

/**
 * The headers of a signed GET of `key` on `route`, signed (SigV4, service s3) at `date`. The payload is
 * declared unsigned, as S3 allows for a request without a body. `extraHeaders` are signed too.
 */
export async function signGet(
  signer: SignatureV4,
  route: BucketRoute,
  key: string,
  date: Date,
  extraHeaders: Record<string, string> = {},
): Promise<SignedGet> {
  const path = objectPath(route.basePath, key);
  const host = route.port !== undefined ? `${route.hostname}:${route.port}` : route.hostname;
  const signed = await signer.sign(
    {
      method: 'GET',
      protocol: route.protocol,
      hostname: route.hostname,
      port: route.port,
      path,
      query: {},
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...extraHeaders },
    },
    { signingDate: date, signingRegion: route.region },
  );
  return { path, headers: signed.headers };
}

export function s3Signer(
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
  sha256: ChecksumConstructor | HashConstructor,
  region: string,
): SignatureV4 {
  return new SignatureV4({ credentials, sha256, region, service: 's3', uriEscapePath: false, applyChecksum: false });
}

export interface DirectGetOptions {
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

export type DirectAnswer = { body: IncomingMessage; contentLength: number | undefined } | { fallback: string };

export class DirectGet {
  private route: BucketRoute | null = null;
  private signer: SignatureV4 | null = null;

  constructor(private readonly options: DirectGetOptions) {}

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
  async get(key: string, signal?: AbortSignal): Promise<DirectAnswer> {
    const route = this.route;
    const signer = this.signer;
    if (route === null || signer === null) return { fallback: NO_ROUTE };
    signal?.throwIfAborted();
    let signed: SignedGet;
    try {
      signed = await signGet(signer, route, key, new Date(Date.now() + this.options.clockOffset()));
    } catch (err) {
      return { fallback: `signing failed: ${(err as Error).message}` };
    }
    const send = route.protocol === 'https:' ? httpsRequest : httpRequest;
    const agent = route.protocol === 'https:' ? this.options.agents.https : this.options.agents.http;
    return new Promise<DirectAnswer>((resolve, reject) => {
      const request = send(
        { agent, protocol: route.protocol, hostname: route.hostname, port: route.port, method: 'GET', path: signed.path, headers: signed.headers, signal },
        (response) => {
          if (response.statusCode !== 200) {
            // Drained rather than destroyed, so that the connection is kept for the SDK's request.
            response.resume();
            resolve({ fallback: `HTTP ${response.statusCode}` });
            return;
          }
          const length = Number(response.headers['content-length']);
          resolve({ body: response, contentLength: Number.isFinite(length) ? length : undefined });
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
