import type { Logger } from 'pino';
import { ConfigError, OutputError } from '../errors.js';
import { EventBatch, type EncodedEvent } from '../event-batch.js';
import { DEFAULT_ENGINE_SOCKET, EngineOutput, type EngineAgent } from './engine.js';
import type { EventOrders } from '../decode/finding.js';
import { FileOutput } from './file.js';
import type { EventSource, Output } from './output.js';
import { StdoutOutput } from './stdout.js';
import { UnixStreamOutput } from './unix-stream.js';
import { WAZUH_QUEUE, WazuhOutput } from './wazuh.js';

export type { Output } from './output.js';

export type OutputSpec = { kind: 'wazuh' | 'wazuh-engine' | 'unix' | 'file'; path: string } | { kind: 'stdout' };

/** Where `wazuh` and `wazuh-engine` go when no path is given: the installation's sockets. */
export interface DefaultSockets {
  queue: string;
  engineSocket: string;
}

const DEFAULT_SOCKETS: DefaultSockets = { queue: WAZUH_QUEUE, engineSocket: DEFAULT_ENGINE_SOCKET };

/** An output as the command line names it: `wazuh:/var/ossec/queue/sockets/queue`, `file:PATH`, `stdout`. */
export function outputLabel(spec: OutputSpec): string {
  return spec.kind === 'stdout' ? 'stdout' : `${spec.kind}:${spec.path}`;
}

/** `wazuh[:PATH]`, `wazuh-engine[:PATH]`, `unix:PATH`, `file:PATH`, `stdout` (CONTRACT.md). */
export function parseOutputSpec(spec: string, sockets: DefaultSockets = DEFAULT_SOCKETS): OutputSpec {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const path = colon < 0 ? '' : spec.slice(colon + 1);
  if (kind === 'stdout' && colon < 0) return { kind };
  if (kind === 'wazuh' && colon < 0) return { kind, path: sockets.queue };
  if (kind === 'wazuh-engine' && colon < 0) return { kind, path: sockets.engineSocket };
  if (kind === 'wazuh' || kind === 'wazuh-engine' || kind === 'unix' || kind === 'file') {
    if (path === '') throw new ConfigError(`--output ${spec}: a path is needed after "${kind}:"`);
    return { kind, path };
  }
  throw new ConfigError(`--output ${spec}: unknown output (use wazuh, wazuh:PATH, wazuh-engine, wazuh-engine:PATH, unix:PATH, file:PATH or stdout)`);
}

export interface OutputOptions {
  /** How long a stream peer may take nothing (or the engine give no answer) before the output fails. */
  timeoutMs: number;
  /** Who the events are from, in the header of each batch sent to the engine. */
  engineAgent: EngineAgent;
}

export function createOutput(spec: OutputSpec, log: Logger, options: OutputOptions): Output {
  switch (spec.kind) {
    case 'wazuh':
      return new WazuhOutput(spec.path, log);
    case 'wazuh-engine':
      return new EngineOutput(spec.path, options.engineAgent, options.timeoutMs);
    case 'unix':
      return new UnixStreamOutput(spec.path, options.timeoutMs);
    case 'file':
      return new FileOutput(spec.path);
    case 'stdout':
      return new StdoutOutput();
  }
}

/**
 * Bytes of events handed to the outputs and not yet taken by all of them, past which no object starts
 * decoding (waitForRoom). Decoding outruns a slow output otherwise, and every object waiting holds its
 * events: memory grows with the backlog instead of staying at this much.
 */
export const EVENT_BYTES_IN_FLIGHT = 1024 * 1024;

/** Every event goes to every output; a batch counts as delivered only once all of them took it. */
export class Outputs {
  private bytesInFlight = 0;
  private readonly waiting: Array<() => void> = [];

  /** The JSON texts of each event these outputs take: decoding makes only those. */
  readonly orders: EventOrders;

  constructor(
    readonly list: Output[],
    private readonly maxBytesInFlight = EVENT_BYTES_IN_FLIGHT,
  ) {
    this.orders = { wazuh: list.some((output) => output.eventOrder === 'wazuh'), rules: list.some((output) => output.eventOrder === 'rules') };
  }

  /** Resolves once the events in flight are under the bound: an object's decoding waits for it. */
  waitForRoom(): Promise<void> {
    if (this.bytesInFlight < this.maxBytesInFlight) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async open(): Promise<void> {
    await Promise.all(this.list.map((output) => output.open()));
  }

  async deliver(events: EncodedEvent[], source: EventSource): Promise<void> {
    const batch = new EventBatch(events);
    let bytes = 0;
    for (const event of events) bytes += event.json.length + 1;
    this.bytesInFlight += bytes;
    let results: Array<PromiseSettledResult<void>>;
    try {
      results = await Promise.allSettled(this.list.map((output) => output.write(batch, source)));
    } finally {
      this.bytesInFlight -= bytes;
      while (this.bytesInFlight < this.maxBytesInFlight && this.waiting.length > 0) this.waiting.shift()!();
    }
    const failures = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => (r.reason instanceof OutputError ? r.reason : new OutputError('unknown', String(r.reason), { cause: r.reason })));
    if (failures.length > 0) {
      // What every output took: the least any failed output accepted (the others took the whole batch).
      const first = failures[0]!;
      first.accepted = Math.min(...failures.map((f) => f.accepted));
      throw first;
    }
  }

  async reopen(): Promise<void> {
    await Promise.all(this.list.map((output) => output.reopen()));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.list.map((output) => output.close()));
  }
}
