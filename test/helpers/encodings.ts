import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { Compressor, compressSync } from 'snappy';

// Writers for every container Firehose (and Hadoop tooling) puts in S3, built from their
// specifications on the test side, so that the collector's readers are checked against them.

export type FirehoseEncoding = 'gzip' | 'zip' | 'snappy-java' | 'hadoop-snappy' | 'snappy-framed' | 'plain';

export const ENCODINGS: FirehoseEncoding[] = ['gzip', 'zip', 'snappy-java', 'hadoop-snappy', 'snappy-framed', 'plain'];

export const EXTENSIONS: Record<FirehoseEncoding, string> = {
  gzip: '.gz',
  zip: '.zip',
  'snappy-java': '.snappy',
  'hadoop-snappy': '.snappy',
  'snappy-framed': '.sz',
  plain: '',
};

function uint32BE(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

/** Java's ZipOutputStream: one deflated entry whose CRC and sizes follow the data (flag bit 3). */
export function zipOneEntry(data: Buffer, name = 'records', withDescriptor = true): Buffer {
  const deflated = deflateRawSync(data);
  const crc = crc32(data);
  const nameBytes = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(withDescriptor ? 0x08 : 0, 6);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(withDescriptor ? 0 : crc, 14);
  local.writeUInt32LE(withDescriptor ? 0 : deflated.length, 18);
  local.writeUInt32LE(withDescriptor ? 0 : data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  const descriptor = Buffer.alloc(withDescriptor ? 16 : 0);
  if (withDescriptor) {
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(deflated.length, 8);
    descriptor.writeUInt32LE(data.length, 12);
  }
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(withDescriptor ? 0x08 : 0, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(deflated.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  const centralOffset = local.length + nameBytes.length + deflated.length + descriptor.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBytes, deflated, descriptor, central, nameBytes, end]);
}

/** snappy-java's SnappyOutputStream: magic, version 1, compatible version 1, then length-prefixed blocks. */
export function snappyJava(data: Buffer, blockSize = 32 * 1024): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
  const blocks = pieces(data, blockSize).flatMap((piece) => {
    const compressed = compressSync(piece);
    return [uint32BE(compressed.length), compressed];
  });
  return Buffer.concat([header, ...blocks]);
}

/** Hadoop's BlockCompressorStream with SnappyCodec: raw block length, then length-prefixed chunks. */
export function hadoopSnappy(data: Buffer, blockSize = 256 * 1024, chunkSize = 64 * 1024): Buffer {
  const out: Buffer[] = [];
  for (const block of pieces(data, blockSize)) {
    out.push(uint32BE(block.length));
    for (const chunk of pieces(block, chunkSize)) {
      const compressed = compressSync(chunk);
      out.push(uint32BE(compressed.length), compressed);
    }
  }
  return Buffer.concat(out);
}

/** The official Snappy framing format, written by the snappy package's own frame encoder. */
export async function snappyFramed(data: Buffer): Promise<Buffer> {
  const compressor = new Compressor();
  const head = compressor.update(data);
  return Buffer.concat([head, await compressor.finish()]);
}

export async function encode(encoding: FirehoseEncoding, data: Buffer): Promise<Buffer> {
  switch (encoding) {
    case 'gzip':
      return gzipSync(data);
    case 'zip':
      return zipOneEntry(data);
    case 'snappy-java':
      return snappyJava(data);
    case 'hadoop-snappy':
      return hadoopSnappy(data);
    case 'snappy-framed':
      return snappyFramed(data);
    case 'plain':
      return data;
  }
}
