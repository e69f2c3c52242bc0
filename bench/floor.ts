// The floor `npm run bench` compares the collector with, in a process of its own (so that its CPU
// time and peak RSS are its own, as the collector's are): list the bucket, then GET through the AWS
// SDK with 16 objects in flight, gunzip (node:zlib stream), frame and JSON.parse. No shaping, no
// output, no state. Prints one JSON line: the work's own seconds and CPU seconds (from after the
// modules loaded), the whole process's CPU seconds, its peak RSS and when the work started.
//
//   node dist/bench/floor.js ENDPOINT BUCKET
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { createGunzip } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DocumentSplitter } from '../src/decode/documents.js';

const IN_FLIGHT = 16;

async function floor(endpoint: string, bucket: string): Promise<void> {
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'b', secretAccessKey: 'b' } });
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const { Body } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      // Framing and JSON.parse only (Firehose documents have no separator, so a framer is needed).
      const splitter = new DocumentSplitter({ value: () => {}, malformed: () => {} });
      for await (const chunk of (Body as NodeJS.ReadableStream).pipe(createGunzip())) splitter.push(chunk as Buffer);
      splitter.end();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  client.destroy();
}

const [endpoint, bucket] = process.argv.slice(2);
if (!endpoint || !bucket) {
  console.error('usage: node dist/bench/floor.js ENDPOINT BUCKET');
  process.exit(2);
}
const startedMs = performance.now();
const cpuBefore = process.cpuUsage();
await floor(endpoint, bucket);
const work = process.cpuUsage(cpuBefore);
const usage = process.resourceUsage();
console.log(
  JSON.stringify({
    seconds: (performance.now() - startedMs) / 1000,
    cpuSeconds: (work.user + work.system) / 1e6,
    processCpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    peakRssMb: usage.maxRSS / 1024,
    startMs: startedMs,
  }),
);
