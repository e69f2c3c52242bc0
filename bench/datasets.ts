// The datasets of `npm run bench`, generated deterministically into the S3 stand-in: (a) and (b) native
// exports of many findings or many objects, (c) one large Firehose object, (d) 680 partitions of which
// one in ten holds objects (issue 12). Findings are the tests' (support/findings.ts), from a public sample.
import { bigFirehoseObject } from '../support/big.js';
import { jsonlGz, makeFinding, nativeKey } from '../support/findings.js';
import type { FakeS3 } from '../support/s3.js';

/** The UTC day the benchmark runs on, as YYYY-MM-DD, and as the folder path GuardDuty writes it under. */
export const today = new Date().toISOString().slice(0, 10);
const dayPath = today.replaceAll('-', '/');

export interface Dataset {
  name: string;
  bucket: string;
  objects: number;
  events: number;
  bytes: number;
}

export async function nativeDataset(s3: FakeS3, name: string, objects: number, perObject: number): Promise<Dataset> {
  const bucket = `bench-${name.slice(0, 1)}`;
  await s3.createRemoteBucket(bucket);
  const partitions = [
    ['111111111111', 'us-east-1'],
    ['111111111111', 'eu-west-1'],
    ['222222222222', 'us-east-1'],
    ['222222222222', 'ap-southeast-2'],
  ] as const;
  let bytes = 0;
  for (let start = 0; start < objects; start += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, objects - start) }, async (_, i) => {
        const o = start + i;
        const [account, region] = partitions[o % partitions.length]!;
        const body = jsonlGz(Array.from({ length: perObject }, (_, f) => makeFinding(account, region, `${name}-${o}-${f}`)));
        bytes += body.length;
        const id = `${String(o).padStart(8, '0')}-0000-4000-8000-000000000000`;
        await s3.put(bucket, nativeKey(account, region, today, `${id}.jsonl.gz`), body);
      }),
    );
  }
  return { name, bucket, objects, events: objects * perObject, bytes };
}

/** The regions of dataset d, all configured in its `<regions>`. */
const MANY_REGIONS = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1',
  'eu-north-1', 'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-southeast-1', 'ap-southeast-2', 'sa-east-1', 'me-south-1',
];
const MANY_ACCOUNTS = 40;
/** One partition in this many holds objects. */
const MANY_EVERY = 10;
const MANY_OBJECTS_PER_PARTITION = 7;
const MANY_FINDINGS_PER_OBJECT = 5;
/** Days of the window ending today: only_logs_after is today less WINDOW_DAYS - 1. */
const MANY_WINDOW_DAYS = 31;
/** S3 pages the first pass may need beyond one per partition and one per account (issue 12's slack). */
export const MANY_EXTRA_PAGES = 5;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** The UTC day `days` before today, as YYYY-MM-DD. */
function daysBeforeToday(days: number): string {
  return new Date(Date.parse(`${today}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

/** YYYY-MM-DD as Wazuh writes only_logs_after: YYYY-MMM-DD (2026-NOV-01). */
function wazuhDate(day: string): string {
  const [year, month, dayOfMonth] = day.split('-') as [string, string, string];
  return `${year}-${MONTHS[Number(month) - 1]!}-${dayOfMonth}`;
}

export interface ManyPartitions extends Dataset {
  accounts: number;
  regions: string[];
  partitions: number;
  partitionsWithObjects: number;
  onlyLogsAfter: string;
  /** The `<bucket>` options it is collected with. */
  config: string;
}

/**
 * Dataset d: 40 accounts x 17 regions = 680 native partitions, of which every tenth in account-major
 * order (partition p = account * 17 + region, p = 0, 10, 20…) holds objects: 68 partitions, and every
 * account has one or two (17 consecutive partitions always hold a multiple of 10), over all regions
 * (10 and 17 are coprime). Each holds 7 objects of 5 findings on distinct days of the 31-day window
 * ending today; over the 68 partitions every day of the window, today and its first day included, has
 * objects. The other 612 partitions have no key at all (S3 has no folders).
 */
export async function manyPartitionsDataset(s3: FakeS3): Promise<ManyPartitions> {
  const name = 'd: 680 partitions';
  const bucket = 'bench-d';
  await s3.createRemoteBucket(bucket);
  const accounts = Array.from({ length: MANY_ACCOUNTS }, (_, i) => String(100_000_000_000 + i));
  const partitions = accounts.length * MANY_REGIONS.length;
  const filled: Array<{ n: number; account: string; region: string }> = [];
  for (let p = 0; p < partitions; p += MANY_EVERY) {
    filled.push({ n: filled.length, account: accounts[Math.floor(p / MANY_REGIONS.length)]!, region: MANY_REGIONS[p % MANY_REGIONS.length]! });
  }
  const objects = filled.flatMap(({ n, account, region }) =>
    Array.from({ length: MANY_OBJECTS_PER_PARTITION }, (_, j) => {
      // Offsets 4 days apart (0…24) shifted by 3 days per partition: distinct days in a partition.
      const day = daysBeforeToday((n * 3 + j * 4) % MANY_WINDOW_DAYS);
      const id = `${String(n).padStart(8, '0')}-${String(j).padStart(4, '0')}-4000-8000-000000000000`;
      return { account, region, key: nativeKey(account, region, day, `${id}.jsonl.gz`), tag: `d-${n}-${j}` };
    }),
  );
  let bytes = 0;
  for (let start = 0; start < objects.length; start += 64) {
    await Promise.all(
      objects.slice(start, start + 64).map(async ({ account, region, key, tag }) => {
        const body = jsonlGz(Array.from({ length: MANY_FINDINGS_PER_OBJECT }, (_, f) => makeFinding(account, region, `${tag}-${f}`)));
        bytes += body.length;
        await s3.put(bucket, key, body);
      }),
    );
  }
  const onlyLogsAfter = wazuhDate(daysBeforeToday(MANY_WINDOW_DAYS - 1));
  return {
    name,
    bucket,
    objects: objects.length,
    events: objects.length * MANY_FINDINGS_PER_OBJECT,
    bytes,
    accounts: accounts.length,
    regions: MANY_REGIONS,
    partitions,
    partitionsWithObjects: filled.length,
    onlyLogsAfter,
    config: `<regions>${MANY_REGIONS.join(',')}</regions><only_logs_after>${onlyLogsAfter}</only_logs_after>`,
  };
}

export async function firehoseDataset(s3: FakeS3, decompressedBytes: number): Promise<Dataset & { decompressed: number }> {
  const bucket = 'bench-firehose';
  await s3.createRemoteBucket(bucket);
  const { body, events, bytes } = await bigFirehoseObject(decompressedBytes);
  await s3.put(bucket, `${dayPath}/12/guardduty-stream-1-${today}-12-00-00-00000000-0000-4000-8000-000000000000.gz`, body);
  return { name: 'c: 1 Firehose object', bucket, objects: 1, events, bytes: body.length, decompressed: bytes };
}
