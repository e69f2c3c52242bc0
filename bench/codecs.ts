// `npm run bench:codecs`: decompression speed of the codecs guardduty-wodle could use, on Firehose-like
// data (EventBridge GuardDuty events concatenated). Snappy is compared per 32 KiB block, as
// snappy-java writes it; gzip as one stream. Prints MB/s of decompressed output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressSync, uncompressSync } from 'snappy';
import snappyjs from 'snappyjs';
import { SAMPLES } from '../support/paths.js';

const doc = readFileSync(join(SAMPLES, 'JackPott__CredentialAccess-IAMUser-AnomalousBehavior.json'), 'utf8').trim();
let text = '';
for (let i = 0; i < 2000; i++) text += doc.replace(/"id":"[^"]+"/, `"id":"f${i}"`);
const data = Buffer.from(text);
const blocks: Buffer[] = [];
for (let i = 0; i < data.length; i += 32 * 1024) blocks.push(compressSync(data.subarray(i, i + 32 * 1024)));
const gzipped = gzipSync(data);

function measure(label: string, run: () => void): void {
  run();
  const rounds = 5;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9 / rounds;
  console.log(`${label.padEnd(28)} ${(data.length / 1e6 / seconds).toFixed(0).padStart(6)} MB/s`);
}

console.log(`${(data.length / 1e6).toFixed(1)} MB of events; gzip ratio ${(data.length / gzipped.length).toFixed(0)}:1`);
measure('snappy (native, napi-rs)', () => blocks.forEach((b) => uncompressSync(b, { asBuffer: true })));
measure('snappyjs (pure JS)', () => blocks.forEach((b) => snappyjs.uncompress(b)));
measure('node:zlib gunzip', () => gunzipSync(gzipped));
