import { ObjectError } from '../errors.js';
import type { ByteReader } from './bytes.js';

// The three containers Snappy data reaches S3 in. The codec is the `snappy` package (native, from
// the registry); only the containers are parsed here.

/** snappy-java's SnappyOutputStream, which Firehose writes: magic, two version words, then blocks. */
export const SNAPPY_JAVA_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const SNAPPY_JAVA_HEADER_BYTES = 16;
/** The official framing format starts with this stream-identifier chunk. */
export const SNAPPY_FRAMED_MAGIC = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);

/** No writer makes blocks this large; a length beyond it is corruption or a bomb. */
const MAX_BLOCK_BYTES = 64 * 1024 * 1024;

/** The uncompressed length a raw Snappy block announces in its varint preamble, or -1. */
export function announcedLength(block: Buffer): number {
  let value = 0;
  for (let i = 0, shift = 0; i < 5 && i < block.length; i++, shift += 7) {
    const byte = block[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return value;
  }
  return -1;
}

type Uncompress = (block: Buffer) => Buffer;

let codec: Promise<Uncompress> | undefined;

/** The native codec is loaded on the first Snappy object: most buckets never hold one. */
function loadCodec(): Promise<Uncompress> {
  codec ??= import('snappy').then(({ uncompressSync }) => (block: Buffer) => uncompressSync(block, { asBuffer: true }) as Buffer);
  return codec;
}

function inflateBlock(uncompress: Uncompress, block: Buffer, where: string): Buffer {
  const length = announcedLength(block);
  if (length < 0 || length > MAX_BLOCK_BYTES) throw new ObjectError(`${where}: Snappy block announces an impossible length`);
  try {
    return uncompress(block);
  } catch (err) {
    throw new ObjectError(`${where}: corrupt Snappy block (${(err as Error).message})`);
  }
}

async function readLength(reader: ByteReader, what: string): Promise<number | null> {
  const bytes = await reader.read(4, what);
  if (!bytes) return null;
  const length = bytes.readUInt32BE(0);
  if (length > MAX_BLOCK_BYTES) throw new ObjectError(`${what} of ${length} bytes at offset ${reader.position - 4} is beyond any real block`);
  return length;
}

export async function* snappyJavaStream(reader: ByteReader): AsyncGenerator<Buffer> {
  const uncompress = await loadCodec();
  for (;;) {
    const head = await reader.peek(SNAPPY_JAVA_MAGIC.length);
    if (head.length === 0) return;
    // Concatenated streams repeat the header; snappy-java reads on through them.
    if (head.equals(SNAPPY_JAVA_MAGIC)) {
      await reader.read(SNAPPY_JAVA_HEADER_BYTES, 'snappy-java header');
      continue;
    }
    const length = await readLength(reader, 'snappy-java block length');
    if (length === null) return;
    const block = await reader.read(length, 'snappy-java block');
    yield inflateBlock(uncompress, block ?? Buffer.alloc(0), `snappy-java block at offset ${reader.position - length}`);
  }
}

export async function* hadoopSnappyStream(reader: ByteReader): AsyncGenerator<Buffer> {
  const uncompress = await loadCodec();
  for (;;) {
    const rawLength = await readLength(reader, 'Hadoop-Snappy block length');
    if (rawLength === null) return;
    let produced = 0;
    while (produced < rawLength) {
      const length = await readLength(reader, 'Hadoop-Snappy chunk length');
      if (length === null) throw new ObjectError(`Hadoop-Snappy block is cut off after ${produced} of ${rawLength} bytes`);
      const chunk = await reader.read(length, 'Hadoop-Snappy chunk');
      const data = inflateBlock(uncompress, chunk ?? Buffer.alloc(0), `Hadoop-Snappy chunk at offset ${reader.position - length}`);
      produced += data.length;
      yield data;
    }
    if (produced !== rawLength) throw new ObjectError(`Hadoop-Snappy block holds ${produced} bytes, its header says ${rawLength}`);
  }
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The framing format's checksum: CRC-32C, rotated and offset so that checksums of checksums differ. */
export function maskedCrc32c(data: Buffer): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export async function* framedSnappyStream(reader: ByteReader): AsyncGenerator<Buffer> {
  const uncompress = await loadCodec();
  for (;;) {
    const header = await reader.read(4, 'Snappy frame header');
    if (!header) return;
    const type = header[0]!;
    const length = header.readUIntLE(1, 3);
    const offset = reader.position - 4;
    const body = (await reader.read(length, 'Snappy frame')) ?? Buffer.alloc(0);
    if (type === 0xff) {
      if (!body.equals(SNAPPY_FRAMED_MAGIC.subarray(4))) throw new ObjectError(`Snappy stream identifier at offset ${offset} is wrong`);
      continue;
    }
    if (type === 0x00 || type === 0x01) {
      if (length < 4) throw new ObjectError(`Snappy frame at offset ${offset} is too short`);
      const data = type === 0x00 ? inflateBlock(uncompress, body.subarray(4), `Snappy frame at offset ${offset}`) : body.subarray(4);
      if (maskedCrc32c(data) !== body.readUInt32LE(0)) throw new ObjectError(`Snappy frame at offset ${offset} fails its CRC-32C check`);
      yield data;
      continue;
    }
    if (type <= 0x7f) throw new ObjectError(`Snappy frame at offset ${offset} has reserved type 0x${type.toString(16)}`);
    // 0x80–0xfe: padding and skippable chunks.
  }
}

/**
 * Hadoop-Snappy has no magic: it starts with a block's raw length, then a chunk's compressed length,
 * then a raw Snappy block whose preamble announces at most that raw length.
 */
export function looksLikeHadoopSnappy(head: Buffer): boolean {
  if (head.length < 9) return false;
  const rawLength = head.readUInt32BE(0);
  const chunkLength = head.readUInt32BE(4);
  if (rawLength === 0 || rawLength > MAX_BLOCK_BYTES || chunkLength === 0 || chunkLength > MAX_BLOCK_BYTES) return false;
  const announced = announcedLength(head.subarray(8));
  return announced > 0 && announced <= rawLength;
}
