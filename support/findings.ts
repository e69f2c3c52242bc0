import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { readSample } from './paths.js';

// Findings and the keys GuardDuty and Firehose write them under, for the tests, the benchmark and the demo.

/** Each sample's text, read once: the benchmark builds tens of thousands of findings from one. */
const templates = new Map<string, string>();

/**
 * A bare finding derived from a public sample (its file name, or the finding itself), with the identity
 * fields a test needs to tell them apart; a fresh object each time.
 */
export function makeFinding(account: string, region: string, id: string, template: string | Record<string, unknown> = 'SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json') {
  if (typeof template === 'string' && !templates.has(template)) templates.set(template, readSample(template));
  const finding = (typeof template === 'string' ? JSON.parse(templates.get(template)!) : structuredClone(template)) as Record<string, unknown>;
  return {
    ...finding,
    accountId: account,
    region,
    id,
    arn: `arn:aws:guardduty:${region}:${account}:detector/0123/finding/${id}`,
  };
}

/** One native export object: gzip JSON Lines. */
export function jsonlGz(findings: unknown[]): Buffer {
  return gzipSync(findings.map((f) => JSON.stringify(f)).join('\n') + '\n');
}

export function nativeKey(account: string, region: string, day: string, name = `${randomUUID()}.jsonl.gz`, path = ''): string {
  return `${path}AWSLogs/${account}/GuardDuty/${region}/${day.replaceAll('-', '/')}/${name}`;
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

/** A Firehose object key: `<path>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid><ext>`. */
export function firehoseKey(day: string, hour: number, ext = '.gz', path = '', stream = 'guardduty-to-s3'): string {
  const hh = String(hour).padStart(2, '0');
  return `${path}${day.replaceAll('-', '/')}/${hh}/${stream}-1-${day}-${hh}-15-42-${randomUUID()}${ext}`;
}
