import { readFileSync } from 'node:fs';
import { createGzip } from 'node:zlib';
import { readSample } from './paths.js';

/** A gzip Firehose object of `bytes` decompressed: EventBridge GuardDuty events with distinct ids, concatenated. */
export async function bigFirehoseObject(bytes: number): Promise<{ body: Buffer; events: number; bytes: number }> {
  const envelope = JSON.parse(readSample('JackPott__CredentialAccess-IAMUser-AnomalousBehavior.json')) as { detail: { id: string } };
  const gzip = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const finished = new Promise((resolve) => gzip.on('end', resolve));
  let written = 0;
  let events = 0;
  // Documents are ASCII and about the same size: stop at the last one that still fits.
  const docBytes = JSON.stringify({ ...envelope, detail: { ...envelope.detail, id: 'big-0000000' } }).length;
  while (written + docBytes <= bytes) {
    let batch = '';
    for (let i = 0; i < 1000 && written + batch.length + docBytes <= bytes; i++) {
      envelope.detail.id = `big-${String(events++).padStart(7, '0')}`;
      batch += JSON.stringify(envelope);
    }
    written += batch.length;
    if (!gzip.write(batch)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await finished;
  return { body: Buffer.concat(chunks), events, bytes: written };
}

/** Peak resident set of a running process, from the kernel's high-water mark. */
export function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
