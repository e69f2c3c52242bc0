// A loopback proxy in front of the S3 stand-in, for the tests and the benchmark: it records each request,
// can hold it (S3's latency), answer it itself (S3 errors, faults) or change what it forwards.
import { createServer, request, type Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** An answer the proxy gives itself instead of forwarding: an HTTP answer, or a fault. */
export interface HttpAnswer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

export type Answer =
  | HttpAnswer
  /** reset: drop the connection at once; cut: send half the real body, then drop; stall: half, then silence. */
  | { fault: 'reset' | 'cut' | 'stall' }
  /**
   * The real answer cut at `cutAt(body)` (half by default) and ended as though whole, written as raw
   * HTTP: `short-length` announces the cut length as its Content-Length; `chunked-cut` sends chunks and
   * closes without the last one; `close-cut` sends no length and closes (a close-delimited body).
   */
  | { fault: 'short-length' | 'chunked-cut' | 'close-cut'; cutAt?: (body: Buffer) => number };

const RAW_FAULTS = new Set(['short-length', 'chunked-cut', 'close-cut']);

/** The head and body of a cut answer as raw HTTP/1.1 bytes (see Answer). */
function rawCutAnswer(fault: string, etag: string | undefined, part: Buffer): Buffer {
  const head = ['HTTP/1.1 200 OK', 'Content-Type: application/octet-stream', ...(etag ? [`ETag: ${etag}`] : [])];
  if (fault === 'short-length') head.push(`Content-Length: ${part.length}`, 'Connection: close');
  if (fault === 'chunked-cut') head.push('Transfer-Encoding: chunked');
  if (fault === 'close-cut') head.push('Connection: close');
  const body = fault === 'chunked-cut' ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part;
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]);
}

export interface ProxyOptions {
  /** Answer this request here (an S3 error, a fault) instead of forwarding it; undefined forwards. */
  intercept?(request: SeenRequest): Answer | undefined;
  /** Holds a request this long before it is forwarded (S3's own latency). */
  delayMs?(request: SeenRequest): number;
  /** Called when the answer to a forwarded request has been sent in full. */
  answered?(request: SeenRequest): void;
  /** Changes the headers of a forwarded answer before the client sees them. */
  answerHeaders?(request: SeenRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders;
  /** The connections to the S3 endpoint (the benchmark keeps them alive); Node's global agent unless given. */
  agent?: Agent;
}

/** S3's own error body, as its REST API sends it. */
export function s3Error(status: number, code: string, message: string, extra: Record<string, string> = {}): HttpAnswer {
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${value}</${name}>`)
    .join('');
  return {
    status,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'FAKEREQUESTID0001' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${fields}<RequestId>FAKEREQUESTID0001</RequestId><HostId>ZmFrZQ==</HostId></Error>`,
  };
}

/**
 * A loopback HTTP proxy in front of the S3 endpoint: it records every request, and can answer some
 * itself (S3 error bodies, faults) or change the headers of what it forwards.
 */
export class S3Proxy {
  readonly requests: SeenRequest[] = [];

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string, options: ProxyOptions = {}): Promise<S3Proxy> {
    const upstream = new URL(target);
    let proxy: S3Proxy | undefined;
    const server = createServer((req, res) => {
      const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers };
      proxy!.requests.push(seen);
      const answer = options.intercept?.(seen);
      if (answer && 'status' in answer) {
        req.resume();
        res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
        res.end(answer.body);
        return;
      }
      if (answer?.fault === 'reset') {
        req.socket.destroy();
        return;
      }
      res.on('finish', () => options.answered?.(seen));
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent: options.agent },
        (reply) => {
          if (answer && RAW_FAULTS.has(answer.fault)) {
            const chunks: Buffer[] = [];
            reply.on('data', (chunk: Buffer) => chunks.push(chunk));
            reply.on('end', () => {
              const body = Buffer.concat(chunks);
              const cutAt = 'cutAt' in answer && answer.cutAt ? answer.cutAt(body) : Math.floor(body.length / 2);
              const etag = reply.headers['etag'];
              req.socket.end(rawCutAnswer(answer.fault, typeof etag === 'string' ? etag : undefined, body.subarray(0, cutAt)));
            });
            return;
          }
          res.writeHead(reply.statusCode ?? 502, options.answerHeaders ? options.answerHeaders(seen, reply.headers) : reply.headers);
          if (!answer) {
            reply.pipe(res);
            return;
          }
          const chunks: Buffer[] = [];
          reply.on('data', (chunk: Buffer) => chunks.push(chunk));
          reply.on('end', () => {
            const body = Buffer.concat(chunks);
            res.write(body.subarray(0, Math.floor(body.length / 2)));
            if (answer.fault === 'cut') setTimeout(() => res.socket?.destroy(), 20);
          });
        },
      );
      forward.on('error', () => res.destroy());
      const delay = options.delayMs?.(seen) ?? 0;
      if (delay > 0) setTimeout(() => req.pipe(forward), delay);
      else req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new S3Proxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  reset(): void {
    this.requests.length = 0;
  }

  /** The access key ids the requests were signed with. */
  signers(): string[] {
    return [...new Set(this.requests.map((r) => /Credential=([^/]+)\//.exec(String(r.headers['authorization'] ?? ''))?.[1] ?? ''))];
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
