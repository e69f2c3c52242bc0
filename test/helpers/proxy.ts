import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
}

/** A loopback HTTP proxy in front of the S3 endpoint that records every request it forwards. */
export class CountingProxy {
  readonly requests: SeenRequest[] = [];

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(target: string): Promise<CountingProxy> {
    const upstream = new URL(target);
    let proxy: CountingProxy | undefined;
    const server = createServer((req, res) => {
      proxy!.requests.push({ method: req.method ?? '', url: req.url ?? '' });
      const forward = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    proxy = new CountingProxy(server, `http://127.0.0.1:${port}`);
    return proxy;
  }

  reset(): void {
    this.requests.length = 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
