import type { Logger } from 'pino';
import type { BucketReader } from '../aws/s3.js';
import type { BucketConfig } from '../config/load.js';
import { forEachLimit } from '../concurrency.js';
import { LISTINGS_IN_FLIGHT, type LayoutName } from '../run.js';
import { parseFirehoseKey } from './firehose.js';
import { accountPrefix, lastSegment, logsRoot, parseNativeKey, partitionExclusion, partitionOf } from './native.js';
import type { Partition } from './partition.js';
import { folderTime, type FolderTime, type Granularity } from './window.js';

// Which layout a bucket is read by, and its partitions: the one place that tells native exports from
// Firehose folders and lists the account and region folders of the former.

/** Where a bucket's keys are and which of them belong to a partition. */
export interface Layout {
  name: LayoutName;
  granularity: Granularity;
  /** The partitions to list; fewer once `stop` is aborted (the pass is ending: nothing is listed then). */
  partitions(stop?: AbortSignal): Promise<Partition[]>;
  /** The folder a key of the partition sits in, or null for a key outside the layout. */
  folderOf(key: string, partition: Partition): FolderTime | null;
}

/**
 * The layout the state knows the bucket by (`known`); for a bucket it never read, native exports when
 * `<path>AWSLogs/` holds anything, else the Firehose date folders under `<path>`. Never guessed again
 * from what happens to be listed: a bucket emptied by remove_from_bucket keeps its layout.
 */
export async function bucketLayout(bucket: BucketConfig, reader: BucketReader, known: LayoutName | null, log: Logger, stop?: AbortSignal): Promise<Layout> {
  const root = logsRoot(bucket);
  const native = known !== null ? known === 'native' : await reader.exists(root, stop);
  if (native) {
    log.debug({ prefix: root, from: known ? 'state' : 'listing' }, 'native GuardDuty export layout');
    return {
      name: 'native',
      granularity: 'day',
      partitions: (signal) => nativePartitions(bucket, reader, log, signal),
      folderOf: (key, partition) => {
        const parsed = parseNativeKey(bucket, key);
        const inPartition = parsed && partition.kind === 'native' && parsed.account === partition.account && parsed.region === partition.region;
        return inPartition ? folderTime(parsed.day, null) : null;
      },
    };
  }
  log.debug({ prefix: bucket.path, from: known ? 'state' : 'listing' }, `Firehose layout (date folders under the path)`);
  return {
    name: 'firehose',
    granularity: 'hour',
    partitions: async () => [{ kind: 'firehose', prefix: bucket.path }],
    folderOf: (key) => {
      const parsed = parseFirehoseKey(bucket.path, key);
      return parsed && folderTime(parsed.day, parsed.hour);
    },
  };
}

/** The configured accounts and regions, or those the folders under AWSLogs/ show. */
async function nativePartitions(bucket: BucketConfig, reader: BucketReader, log: Logger, stop?: AbortSignal): Promise<Partition[]> {
  const discover = async (prefix: string, accept: (name: string) => boolean, what: string): Promise<string[]> => {
    const names: string[] = [];
    for await (const folder of reader.listFolders(prefix, stop)) {
      const name = lastSegment(folder);
      if (accept(name)) names.push(name);
      else log.debug({ folder }, `ignoring folder that is not an ${what}`);
    }
    return names;
  };
  const accounts = bucket.accountIds ?? (await discover(logsRoot(bucket), (name) => /^\d{12}$/.test(name), 'account'));
  const regionsOf = new Map<string, string[]>();
  await forEachLimit(accounts, LISTINGS_IN_FLIGHT, async (account) => {
    const regions =
      bucket.regions ?? (await discover(accountPrefix(bucket, account), (name) => partitionExclusion(bucket, account, name) === null, 'region'));
    regionsOf.set(account, regions);
  });
  return accounts.flatMap((account) => regionsOf.get(account)!.map((region) => partitionOf(bucket, account, region)));
}

