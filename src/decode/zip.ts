import { createInflateRaw, crc32 } from 'node:zlib';
import { throughTransform, zlibFailure } from './transform.js';
import { ObjectError } from '../errors.js';
import type { ByteReader } from './bytes.js';

// A zip holding one entry, as Firehose writes it, streamed: the local header says how the entry is
// stored, node's raw inflater decodes it, and the central directory at the end — kept from the last
// bytes of the stream — gives the CRC and size the entry must have, since streaming writers put them
// after the data.

export const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const LOCAL_HEADER_BYTES = 30;
const CENTRAL_SIGNATURE = 0x02014b50;
const END_SIGNATURE = 0x06054b50;
const END_RECORD_BYTES = 22;
/** The end record, its comment (at most 64 KiB) and a one-entry central directory fit in this. */
const TAIL_BYTES = END_RECORD_BYTES + 65_535 + 4096;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DATA_DESCRIPTOR = 0x8;
const UNKNOWN_32 = 0xffffffff;

interface Expected {
  crc: number;
  size: number;
}

/** The entry's CRC and size from the central directory, found from the end-of-central-directory record. */
function centralEntry(tail: Buffer, tailStart: number): Expected & { entries: number } {
  for (let i = tail.length - END_RECORD_BYTES; i >= 0; i--) {
    if (tail.readUInt32LE(i) !== END_SIGNATURE) continue;
    const entries = tail.readUInt16LE(i + 10);
    const directoryOffset = tail.readUInt32LE(i + 16) - tailStart;
    if (directoryOffset < 0 || directoryOffset + 46 > tail.length || tail.readUInt32LE(directoryOffset) !== CENTRAL_SIGNATURE) {
      throw new ObjectError('zip central directory is missing or damaged');
    }
    return { entries, crc: tail.readUInt32LE(directoryOffset + 16), size: tail.readUInt32LE(directoryOffset + 24) };
  }
  throw new ObjectError('zip is cut off: no end-of-central-directory record');
}

export async function* zipEntryStream(reader: ByteReader): AsyncGenerator<Buffer> {
  const header = await reader.read(LOCAL_HEADER_BYTES, 'zip local header');
  if (!header || header.readUInt32LE(0) !== ZIP_MAGIC.readUInt32LE(0)) throw new ObjectError('zip local header is missing');
  const flags = header.readUInt16LE(6);
  const method = header.readUInt16LE(8);
  const compressedSize = header.readUInt32LE(18);
  await reader.read(header.readUInt16LE(26) + header.readUInt16LE(28), 'zip entry name');
  if (flags & FLAG_ENCRYPTED) throw new ObjectError('zip entry is encrypted');
  if (method !== 8 && method !== 0) throw new ObjectError(`zip entry uses compression method ${method}; only deflate (8) and stored (0) are read`);
  if (method === 0 && flags & FLAG_DATA_DESCRIPTOR) throw new ObjectError('stored zip entry without sizes cannot be streamed');

  // The raw input passes through here on its way to the inflater, leaving its last bytes behind.
  const recent: Buffer[] = [];
  let recentBytes = 0;
  async function* input(): AsyncGenerator<Buffer> {
    for await (const chunk of reader.rest()) {
      recent.push(chunk);
      recentBytes += chunk.length;
      while (recentBytes - recent[0]!.length >= TAIL_BYTES) recentBytes -= recent.shift()!.length;
      yield chunk;
    }
  }

  let crc = 0;
  let size = 0;
  if (method === 8) {
    try {
      for await (const data of throughTransform(createInflateRaw({ chunkSize: 64 * 1024 }), input())) {
        crc = crc32(data, crc);
        size += data.length;
        yield data;
      }
    } catch (err) {
      if (!zlibFailure(err)) throw err;
      throw new ObjectError(`zip entry does not inflate: ${(err as Error).message}`);
    }
    // The inflater stops at the end of the deflate stream: read what remains for the directory.
    for await (const _ of input()) void _;
  } else {
    let remaining = compressedSize;
    for await (const chunk of input()) {
      const data = chunk.subarray(0, Math.max(0, remaining));
      remaining -= data.length;
      if (data.length === 0) continue;
      crc = crc32(data, crc);
      size += data.length;
      yield data;
    }
  }

  const tail = Buffer.concat(recent);
  const expected = centralEntry(tail, reader.position - tail.length);
  if (expected.entries !== 1) throw new ObjectError(`zip holds ${expected.entries} entries; Firehose writes one`);
  if (expected.size !== UNKNOWN_32 && expected.size !== size) throw new ObjectError(`zip entry inflates to ${size} bytes, its directory says ${expected.size}`);
  if (expected.crc !== crc >>> 0) throw new ObjectError('zip entry fails its CRC-32 check');
}
