import { dayFromFolder } from './dates.js';

// Kinesis Data Firehose's default S3 layout:
//   <path>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>[extension]
// Its error output (processing-failed/, format-conversion-failed/ …) lives outside the date folders.

const FIREHOSE_KEY = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/([^/]+-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-fA-F-]{36}[^/]*)$/;

export interface FirehoseKey {
  day: string;
  hour: number;
}

/** Reads the delivery day out of a key; null for a key outside the Firehose layout. */
export function parseFirehoseKey(path: string, key: string): FirehoseKey | null {
  if (!key.startsWith(path)) return null;
  const match = FIREHOSE_KEY.exec(key.slice(path.length));
  if (!match) return null;
  const [, year, month, dayOfMonth, hour] = match as unknown as [string, string, string, string, string];
  const day = dayFromFolder(year, month, dayOfMonth);
  const hourNumber = Number(hour);
  return day === null || hourNumber > 23 ? null : { day, hour: hourNumber };
}
