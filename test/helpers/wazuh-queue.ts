import unix from 'unix-dgram';

/** A Unix datagram socket bound by the test, standing in for wazuh-analysisd's queue. */
export class DatagramSink {
  readonly messages: string[] = [];
  private readonly socket = unix.createSocket('unix_dgram', (message) => this.messages.push(message.toString('utf8')));

  constructor(readonly path: string) {
    this.socket.bind(path);
  }

  close(): void {
    this.socket.close();
  }
}
