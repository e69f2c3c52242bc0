import { accessSync, constants, statSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { OutputError, describe } from '../errors.js';
import { prefixedLines, type EventBatch } from '../event-batch.js';
import { ENGINE_SOCKET, MANAGER_HOME } from '../installation.js';
import { GroupWriter, type Output } from './output.js';
import { WAZUH_HEADER } from './wazuh.js';

// `wazuh-engine[:PATH]`: a Wazuh 5.x manager's engine, which takes events only as HTTP requests on a
// Unix socket: `POST /events/enriched`, a body of NDJSON lines, the first `H <header JSON>` naming the
// agent, then `E <queue>:<location>:<message>` per event, the same bytes the 4.x datagram carries. A
// 200 means the engine parsed the batch and queued it, nothing more (docs/operations.md: Wazuh 4.x and 5.x).

export const ENGINE_PATH = '/events/enriched';
export const DEFAULT_ENGINE_SOCKET = `${MANAGER_HOME}/${ENGINE_SOCKET}`;

/**
 * Bytes and events one request carries at most: batches handed in while a request is under way go out
 * together in the next one, up to these (docs/performance.md: the engine output's requests).
 */
export const REQUEST_LIMITS: RequestLimits = { bytes: 1024 * 1024, events: 2000 };

export interface RequestLimits {
  bytes: number;
  events: number;
}

export interface EngineAgent {
  /** ASCII digits: the engine refuses any other `wazuh.agent.id`. */
  id: string;
  name: string;
}

/** The batch header the engine requires, with the agent the events are from. */
export function engineHeader(agent: EngineAgent): Buffer {
  return Buffer.from(`H ${JSON.stringify({ wazuh: { agent: { id: agent.id, name: agent.name } } })}\n`);
}

/** Why the engine's socket cannot be written to now, or null when it can. */
export function engineSocketProblem(path: string): string | null {
  const hint = 'is the Wazuh 5 manager (wazuh-manager-analysisd) running?';
  let found;
  try {
    found = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `the engine socket ${path} does not exist (${hint})` : `the engine socket ${path} cannot be examined (${code ?? describe(err)})`;
  }
  if (!found.isSocket()) return `${path} is not a socket (the engine's is ${DEFAULT_ENGINE_SOCKET})`;
  try {
    accessSync(path, constants.W_OK);
  } catch (err) {
    return `the engine socket ${path} is not writable by this process (${(err as NodeJS.ErrnoException).code}): run it as a member of group wazuh-manager`;
  }
  return null;
}

/** Lines of a request: the events' bytes and how many they are. */
interface Lines {
  bytes: Buffer;
  events: number;
}

/**
 * Requests of whole lines from the batches, in order, each within the limits (but for one line longer
 * than the byte limit alone).
 */
export function requestsOf(batches: Buffer[], limits: RequestLimits): Buffer[][] {
  const requests: Buffer[][] = [];
  let request: Buffer[] = [];
  let bytes = 0;
  let events = 0;
  const flush = () => {
    if (request.length > 0) requests.push(request);
    request = [];
    bytes = 0;
    events = 0;
  };
  for (const line of batches.flatMap(linesOf)) {
    if (bytes + line.bytes.length > limits.bytes || events + line.events > limits.events) flush();
    request.push(line.bytes);
    bytes += line.bytes.length;
    events += line.events;
  }
  flush();
  return requests;
}

/** Each line of a batch (a view, not a copy). */
function linesOf(batch: Buffer): Lines[] {
  const lines: Lines[] = [];
  for (let start = 0; start < batch.length; ) {
    const end = batch.indexOf(0x0a, start);
    const stop = end < 0 ? batch.length : end + 1;
    lines.push({ bytes: batch.subarray(start, stop), events: 1 });
    start = stop;
  }
  return lines;
}

/** What the engine said, as one line: its status and its `error` text. */
function refusal(status: number, body: string): string {
  let text = body.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') text = parsed.error;
  } catch {
    // The engine's error bodies are not always valid JSON (its reason is not escaped): keep the text.
  }
  return `HTTP ${status}${text ? `: ${text.slice(0, 500)}` : ''}`;
}

export class EngineOutput implements Output {
  readonly name: string;
  readonly eventOrder = 'rules' as const;
  private readonly header: Buffer;
  private readonly agent: Agent;
  private readonly group: GroupWriter;

  constructor(
    private readonly path: string,
    agent: EngineAgent,
    private readonly timeoutMs: number,
    private readonly limits: RequestLimits = REQUEST_LIMITS,
  ) {
    this.name = path === DEFAULT_ENGINE_SOCKET ? 'wazuh-engine' : `wazuh-engine:${path}`;
    this.header = engineHeader(agent);
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.group = new GroupWriter((lines) => this.post(lines));
  }

  async open(): Promise<void> {
    const problem = engineSocketProblem(this.path);
    if (problem !== null) throw new OutputError(this.name, problem);
  }

  write(batch: EventBatch): Promise<void> {
    return this.group.write(prefixedLines(batch.events.map((event) => event.rulesJson), `E ${WAZUH_HEADER}`));
  }

  /** The groups of batches, in requests within the limits, one after another. */
  private async post(batches: Buffer[]): Promise<void> {
    for (const request of requestsOf(batches, this.limits)) await this.send(request);
  }

  /** One request; a keep-alive connection the engine closed meanwhile is retried once on a new one. */
  private async send(lines: Buffer[]): Promise<void> {
    try {
      await this.sendOnce(lines);
    } catch (err) {
      if (!(err as { reusedSocket?: boolean }).reusedSocket) throw err;
      await this.sendOnce(lines);
    }
  }

  private sendOnce(lines: Buffer[]): Promise<void> {
    const length = this.header.length + lines.reduce((sum, buffer) => sum + buffer.length, 0);
    return new Promise<void>((resolve, reject) => {
      const down = (why: string, cause?: unknown) => reject(new OutputError(this.name, why, { cause }));
      const req = request(
        {
          socketPath: this.path,
          agent: this.agent,
          method: 'POST',
          path: ENGINE_PATH,
          headers: { 'content-type': 'application/x-ndjson', 'content-length': length, host: 'localhost' },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (chunk: Buffer) => {
            if (kept < 4096) chunks.push(chunk);
            kept += chunk.length;
          });
          res.on('error', (err) => down(`the engine's answer failed: ${describe(err)}`, err));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status === 200) return resolve();
            const said = refusal(status, Buffer.concat(chunks).toString('utf8'));
            if (status === 400) return down(`the engine refused the batch (${said}); nothing of it is recorded`);
            down(`the engine is down (${said}); nothing of the batch is recorded, it is sent again on the next pass`);
          });
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer in ${this.timeoutMs / 1000} s (--output-timeout)`)));
      req.on('error', (err) => {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        const why = ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes(code) ? (engineSocketProblem(this.path) ?? describe(err)) : describe(err);
        const failure = new OutputError(this.name, `cannot send to the engine: ${why}`, { cause: err });
        reject(Object.assign(failure, { reusedSocket: req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' }));
      });
      req.end(Buffer.concat([this.header, ...lines], length));
    });
  }

  async reopen(): Promise<void> {}

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
