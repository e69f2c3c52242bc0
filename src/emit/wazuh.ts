import type { UnixDgramSocket } from 'unix-dgram';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { OSSEC_HOME, QUEUE_SOCKET } from '../installation.js';
import type { Logger } from 'pino';
import { OutputError, describe } from '../errors.js';
import { SharedOpen, WriteQueue, type EventSource, type Output } from './output.js';
import { ANALYSISD_MAX_BYTES, ANALYSISD_MAX_FIELDS, fitForAnalysisd, fits, type EventObject } from './analysisd.js';
import type { EventBatch } from '../event-batch.js';

export const WAZUH_QUEUE = '/var/ossec/queue/sockets/queue';
/** The header Wazuh's aws-s3 module puts before each event: queue id 1 (localfile), location Wazuh-AWS. */
export const WAZUH_HEADER = '1:Wazuh-AWS:';
const HEADER_BYTES = Buffer.byteLength(WAZUH_HEADER);

const CONGESTION_RETRY_MS = [5, 10, 20, 50, 100, 200, 500, 1000, 1000, 1000, 2000, 2000, 2000, 5000, 5000];

type SendError = Error & { code?: string | number };

const ERRNO_HINTS: Record<string, string> = {
  ENOENT: 'the socket does not exist (is wazuh-analysisd running?)',
  ECONNREFUSED: 'nothing is reading the socket (is wazuh-analysisd running?)',
  EACCES: 'permission denied (run as the wazuh user or group)',
};

/**
 * Why a queue socket is missing when it sits in a Wazuh 5.x manager's home: that manager has no
 * analysisd queue at all, and the operator needs the ways out, not ENOENT. Null elsewhere.
 */
export function managerWithoutQueue(path: string): string | null {
  const home = dirname(dirname(dirname(path)));
  if (existsSync(path) || !existsSync(join(home, 'etc/wazuh-manager.conf'))) return null;
  return (
    `${home} is a Wazuh 5 manager, which has no analysisd queue: send to its engine with --output wazuh-engine, ` +
    `or through a Wazuh agent on this host (--output wazuh:${OSSEC_HOME}/${QUEUE_SOCKET})`
  );
}

/** unix-dgram reports errors as negative errno numbers: name them for the operator. */
function socketError(err: SendError): string {
  if (typeof err.code !== 'number') return describe(err);
  const errno = -err.code;
  const name = Object.entries(constants.errno).find(([, value]) => value === errno)?.[0] ?? `errno ${errno}`;
  return `${ERRNO_HINTS[name] ?? 'error'} (${name})`;
}

/**
 * `wazuh[:PATH]`: the analysisd queue, a Unix datagram socket; each event is one datagram. The socket
 * stays connected across passes; when analysisd restarts it is connected again once before giving up.
 */
export class WazuhOutput implements Output {
  readonly name: string;
  readonly eventOrder = 'rules' as const;
  private socket: UnixDgramSocket | null = null;
  private readonly queue = new WriteQueue();
  private readonly connecting = new SharedOpen(() => this.connect());
  /** Datagrams that had to wait because the queue was full (EAGAIN). */
  congestionRetries = 0;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {
    this.name = path === WAZUH_QUEUE ? 'wazuh' : `wazuh:${path}`;
  }

  open(): Promise<void> {
    return this.socket ? Promise.resolve() : this.connecting.run();
  }

  private async connect(): Promise<void> {
    // Loaded only when the Wazuh output is used.
    const { default: unix } = await import('unix-dgram');
    return new Promise((resolve, reject) => {
      let socket: UnixDgramSocket;
      try {
        socket = unix.createSocket('unix_dgram');
      } catch (err) {
        reject(new OutputError(this.name, `cannot create a datagram socket: ${describe(err)}`, { cause: err }));
        return;
      }
      // unix-dgram reports connect() synchronously, through these events.
      socket.once('error', (err: SendError) => {
        socket.close();
        const why = managerWithoutQueue(this.path) ?? socketError(err);
        reject(new OutputError(this.name, `cannot connect to the Wazuh queue socket ${this.path}: ${why}`, { cause: err }));
      });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        socket.on('error', () => {});
        this.socket = socket;
        resolve();
      });
      socket.connect(this.path);
    });
  }

  write(batch: EventBatch, source: EventSource): Promise<void> {
    return this.queue.run(async () => {
      const waitedBefore = this.congestionRetries;
      for (const [index, event] of batch.events.entries()) {
        let datagram = Buffer.from(WAZUH_HEADER + event.rulesJson);
        if (!fits(event.rulesJson, HEADER_BYTES, event.fields)) {
          const fitted = fitForAnalysisd(JSON.parse(event.rulesJson) as EventObject, HEADER_BYTES);
          datagram = Buffer.from(WAZUH_HEADER + fitted.json);
          this.log.debug(
            { bucket: source.bucket, key: source.key, findingId: event.findingId, bytes: Buffer.byteLength(event.rulesJson) + HEADER_BYTES, fields: event.fields, trimmedBytes: datagram.length, cut: fitted.cuts },
            `event of ${Buffer.byteLength(event.rulesJson) + HEADER_BYTES} bytes and ${event.fields} fields is more than analysisd reads whole (${ANALYSISD_MAX_BYTES} bytes, ${ANALYSISD_MAX_FIELDS} fields); ` +
              `trimmed to ${datagram.length} bytes and marked "truncated": true (cut: ${fitted.cuts.map((c) => `${c.path} ${c.removed} of ${c.of}`).join(', ')})`,
          );
        }
        try {
          await this.send(datagram);
        } catch (err) {
          if (err instanceof OutputError) err.accepted = index;
          throw err;
        }
      }
      const waited = this.congestionRetries - waitedBefore;
      if (waited > 0) {
        this.log.warn({ bucket: source.bucket, key: source.key, retries: waited }, `the Wazuh queue ${this.path} was full ${waited} times; waited for analysisd, nothing dropped`);
      }
    });
  }

  private async send(datagram: Buffer): Promise<void> {
    let reconnected = false;
    for (let attempt = 0; ; attempt++) {
      await this.open();
      const err = this.trySend(datagram);
      if (!err) return;
      if (err.message === 'congestion' || err.code === -constants.errno.EAGAIN || err.code === -constants.errno.ENOBUFS) {
        const delay = CONGESTION_RETRY_MS[attempt];
        if (delay === undefined) throw new OutputError(this.name, `the Wazuh queue ${this.path} stayed full; analysisd is not reading`);
        this.congestionRetries++;
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      this.drop();
      if (reconnected) throw new OutputError(this.name, `send to the Wazuh queue socket ${this.path} failed: ${socketError(err)}`, { cause: err });
      reconnected = true;
    }
  }

  private trySend(datagram: Buffer): SendError | undefined {
    let failure: SendError | undefined;
    this.socket!.send(datagram, (err) => {
      failure = err;
    });
    return failure;
  }

  private drop(): void {
    try {
      this.socket?.close();
    } catch {
      // already closed
    }
    this.socket = null;
  }

  async reopen(): Promise<void> {}

  close(): Promise<void> {
    return this.queue.run(async () => {
      await this.connecting.settled();
      this.drop();
    });
  }
}
