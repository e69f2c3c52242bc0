import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const ASSUMED = {
  accessKeyId: 'ASIAASSUMEDROLEKEY01',
  secretAccessKey: 'assumed/secret/key/never/to/be/logged',
  sessionToken: 'FwoGZXIvYXdzEXAMPLESESSIONTOKENthatmustnotbelogged',
};

/** A loopback STS answering AssumeRole (AWS query protocol) with fixed credentials, recording each call. */
export class FakeSts {
  readonly calls: Array<Record<string, string>> = [];

  private constructor(
    private readonly server: Server,
    readonly endpoint: string,
  ) {}

  static async start(options: { deny?: boolean; lifetimeSeconds?: number } = {}): Promise<FakeSts> {
    let sts: FakeSts | undefined;
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const params = Object.fromEntries(new URLSearchParams(body));
        sts!.calls.push({ ...params, authorization: String(req.headers['authorization'] ?? '') });
        if (options.deny) {
          res.writeHead(403, { 'content-type': 'text/xml' });
          res.end(
            `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>` +
              `<Message>User: arn:aws:iam::123456789012:user/reader is not authorized to perform: sts:AssumeRole on resource: ${params['RoleArn']}</Message>` +
              `</Error><RequestId>fake</RequestId></ErrorResponse>`,
          );
          return;
        }
        const lifetime = options.lifetimeSeconds ?? Number(params['DurationSeconds'] ?? 3600);
        const expiration = new Date(Date.now() + lifetime * 1000).toISOString();
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>${ASSUMED.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${ASSUMED.secretAccessKey}</SecretAccessKey>
      <SessionToken>${ASSUMED.sessionToken}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <AssumedRoleId>AROAFAKEROLEID:${params['RoleSessionName']}</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/reader/${params['RoleSessionName']}</Arn>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>
</AssumeRoleResponse>`);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    sts = new FakeSts(server, `http://127.0.0.1:${port}`);
    return sts;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
