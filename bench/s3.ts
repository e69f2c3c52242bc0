// The S3 side of `npm run bench`: fauxqs in a process of its own (so that its CPU is not counted as the
// collector's or the benchmark's), and in front of it the proxy the tests use (support/proxy.ts), adding
// a fixed delay per request (about what real S3 answers in) and counting requests by type.
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent } from 'node:http';
import { ROOT } from '../support/paths.js';
import { S3Proxy, type SeenRequest } from '../support/proxy.js';

/** fauxqs in a child process; resolves with its endpoint. */
export async function startS3(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', "const { startFauxqs } = await import('fauxqs'); const s = await startFauxqs({ port: 0, logger: false }); console.log(s.port);"],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
  return { endpoint: `http://127.0.0.1:${port}`, child };
}

export type RequestType = 'LIST' | 'GET' | 'other';
export type RequestCounts = Record<RequestType, number>;

/**
 * What an S3 request is, from its method and path-style URL (`/bucket/key?query`): LIST for
 * ListObjectsV2 (a GET with `list-type=2`), GET for GetObject (a GET of an object key), other for
 * the rest (HEAD, PUT, DELETE, a GET of the bucket itself…).
 */
export function requestType({ method, url }: Pick<SeenRequest, 'method' | 'url'>): RequestType {
  if (method !== 'GET') return 'other';
  const parsed = new URL(url || '/', 'http://proxy');
  if (parsed.searchParams.get('list-type') === '2') return 'LIST';
  if (parsed.searchParams.has('list-type')) return 'other';
  const path = parsed.pathname.replace(/^\/+/, '');
  const slash = path.indexOf('/');
  return slash > 0 && slash < path.length - 1 ? 'GET' : 'other';
}

export interface DelayProxy {
  endpoint: string;
  /** Requests since the last reset. */
  requests(): number;
  byType(): RequestCounts;
  reset(): void;
  stop(): Promise<void>;
}

/** The loopback proxy adding `delayMs` before each request is forwarded, over kept-alive connections. */
export async function delayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = await S3Proxy.start(target, { delayMs: () => delayMs, agent });
  return {
    endpoint: proxy.endpoint,
    requests: () => proxy.requests.length,
    byType: () => {
      const counts: RequestCounts = { LIST: 0, GET: 0, other: 0 };
      for (const request of proxy.requests) counts[requestType(request)]++;
      return counts;
    },
    reset: () => proxy.reset(),
    stop: async () => {
      await proxy.stop();
      agent.destroy();
    },
  };
}
