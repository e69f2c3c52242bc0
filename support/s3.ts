process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/** fauxqs takes request bodies up to 11 MiB: larger objects go up in parts, as real clients do. */
const PART_BYTES = 8 * 1024 * 1024;
import { after, before } from 'node:test';
import { startFauxqs, type FauxqsServer } from 'fauxqs';

/** A real S3 API on a free loopback port, in this process; point the collector at `endpoint`. */
export class FakeS3 {
  private constructor(
    readonly server: FauxqsServer,
    readonly client: S3Client,
    private readonly address = server.address,
  ) {}

  /** A client for an S3 endpoint running elsewhere (the benchmark's fauxqs in its own process). */
  static connect(endpoint: string): FakeS3 {
    return new FakeS3(null as unknown as FauxqsServer, FakeS3.clientFor(endpoint), endpoint);
  }

  private static clientFor(endpoint: string): S3Client {
    return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  }

  static async start(): Promise<FakeS3> {
    const server = await startFauxqs({ port: 0, logger: false });
    return new FakeS3(server, FakeS3.clientFor(server.address));
  }

  get endpoint(): string {
    return this.address;
  }

  createBucket(name: string): void {
    this.server.createBucket(name);
  }

  async createRemoteBucket(name: string): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: name }));
  }

  async put(bucket: string, key: string, body: Buffer | string, contentEncoding?: string): Promise<void> {
    if (body.length <= PART_BYTES) {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentEncoding: contentEncoding }));
      return;
    }
    const bytes = Buffer.from(body);
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentEncoding: contentEncoding }));
    const parts: Array<{ ETag: string; PartNumber: number }> = [];
    for (let offset = 0, n = 1; offset < bytes.length; offset += PART_BYTES, n++) {
      const part = await this.client.send(
        new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: bytes.subarray(offset, offset + PART_BYTES) }),
      );
      parts.push({ ETag: part.ETag!, PartNumber: n });
    }
    await this.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
  }

  async delete(bucket: string, key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  async keys(bucket: string, prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) keys.push(object.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async stop(): Promise<void> {
    this.client.destroy();
    await this.server?.stop();
  }
}

/** One FakeS3 for the calling test file: started before its tests, stopped after them. */
export function useFakeS3(): { readonly s3: FakeS3 } {
  const holder = {} as { s3: FakeS3 };
  before(async () => {
    holder.s3 = await FakeS3.start();
  });
  after(async () => {
    await holder.s3.stop();
  });
  return holder;
}
