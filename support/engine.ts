import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

// A stand-in for the Wazuh 5.x engine's event endpoint, written from its protocol: HTTP/1.1 on a Unix
// socket, `POST /events/enriched`, a body whose first line is `H ` + a JSON header holding
// wazuh.agent.id (a non-empty string of ASCII digits), then events, each starting `E ` at a line start
// and running to the next `\nE ` (empty lines between events skipped). 200 with an empty body when
// the batch's framing parsed; 400 `{"error": "NDJson parser error, …", "code": 400}` when it did not;
// 500 when told its router is gone. Nothing else of the engine is imitated.

export interface ReceivedBatch {
  header: { wazuh?: { agent?: { id?: unknown; name?: unknown } } };
  /** Each event as sent after `E `: `1:Wazuh-AWS:<json>`. */
  events: string[];
  bytes: number;
  contentType: string | undefined;
}

/** How the engine answers the next requests. */
export type EngineMode = 'accept' | 'refuse' | 'router-gone' | 'silent';

class FramingError extends Error {}

/** The engine's NDJSON framing, as its parser reads a request body. */
export function parseBatch(body: string): Omit<ReceivedBatch, 'bytes' | 'contentType'> {
  const newline = body.indexOf('\n');
  if (newline < 0) throw new FramingError('Missing newline after header');
  if (!body.startsWith('H ')) throw new FramingError("Expected 'H ' at header start");
  let header: ReceivedBatch['header'];
  try {
    header = JSON.parse(body.slice(2, newline)) as ReceivedBatch['header'];
  } catch {
    throw new FramingError('Invalid header JSON');
  }
  const id = header?.wazuh?.agent?.id;
  if (typeof id !== 'string' || !/^[0-9]+$/.test(id)) throw new FramingError('/wazuh/agent/id must be a non-empty string of digits');
  const events: string[] = [];
  let rest = body.slice(newline + 1);
  while (rest.length > 0) {
    if (rest.startsWith('\n')) {
      rest = rest.slice(1);
      continue;
    }
    if (!rest.startsWith('E ')) throw new FramingError("Expected 'E ' at event start");
    const next = rest.indexOf('\nE ', 2);
    const event = next < 0 ? rest.slice(2) : rest.slice(2, next);
    events.push(event.replace(/\n+$/, ''));
    rest = next < 0 ? '' : rest.slice(next + 1);
  }
  return { header, events };
}

export class EngineStandIn {
  readonly batches: ReceivedBatch[] = [];
  /** Requests answered, of every kind. */
  requests = 0;
  mode: EngineMode = 'accept';
  private server: Server | null = null;

  /** `keep`: hold every batch accepted (tests look at them); a benchmark only counts. */
  constructor(
    readonly path: string,
    private readonly keep = true,
  ) {}

  static async start(path: string, options: { keep?: boolean } = {}): Promise<EngineStandIn> {
    const engine = new EngineStandIn(path, options.keep ?? true);
    await engine.listen();
    return engine;
  }

  /** The events of every batch accepted, in order. */
  events(): string[] {
    return this.batches.flatMap((batch) => batch.events);
  }

  /** Listens again on the same path (after stop): the engine came back. */
  async listen(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve) => server.listen(this.path, resolve));
    this.server = server;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.requests++;
      if (req.method !== 'POST' || req.url !== '/events/enriched') {
        res.writeHead(404).end();
        return;
      }
      if (this.mode === 'silent') return;
      if (this.mode === 'refuse') {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error": "NDJson parser error, Expected \'E \' at event start", "code": 400}');
        return;
      }
      if (this.mode === 'router-gone') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error": "Internal server error", "code": 500}');
        return;
      }
      const body = Buffer.concat(chunks);
      try {
        const batch = parseBatch(body.toString('utf8'));
        if (this.keep) this.batches.push({ ...batch, bytes: body.length, contentType: req.headers['content-type'] });
        res.writeHead(200, { 'content-length': 0 }).end();
      } catch (err) {
        if (!(err instanceof FramingError)) throw err;
        res.writeHead(400, { 'content-type': 'application/json' }).end(`{"error": "NDJson parser error, ${err.message}", "code": 400}`);
      }
    });
  }

  /** The engine goes away: its socket closes and is removed, connections cut. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}
