declare module 'unix-dgram' {
  import { EventEmitter } from 'node:events';
  export interface UnixDgramSocket extends EventEmitter {
    bind(path: string): void;
    connect(path: string): void;
    send(buf: Buffer, callback?: (err?: Error & { code?: string }) => void): void;
    close(): void;
  }
  export function createSocket(type: 'unix_dgram', listener?: (message: Buffer) => void): UnixDgramSocket;
  const unix: { createSocket: typeof createSocket };
  export default unix;
}
