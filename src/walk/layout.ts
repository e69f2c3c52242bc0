import type { Logger } from 'pino';
import type { BucketClient } from '../aws/s3.js';
import type { BucketConfig } from '../config/load.js';
import { forEachLimit } from '../concurrency.js';
import { GRANULARITY, chooseLayout, placeKey, type LayoutName, type PlacedKey } from '../policy/layout.js';
import { LISTINGS_IN_FLIGHT } from '../vocabulary.js';
import { accountPrefix, lastSegment, logsRoot, partitionExclusion, partitionOf } from './native.js';
import type { Partition } from './partition.js';
import type { Granularity } from './window.js';

// A bucket's layout as a pass reads it: the one chosen (policy/layout.ts), and its partitions, which
// for native exports are found by listing the account and region folders.

/** Where a bucket's keys are and which of them belong to a partition. */
export interface Layout {
  name: LayoutName;
  granularity: Granularity;
  /** The partitions to list; fewer once `stop` is aborted (the pass is ending: nothing is listed then). */
  partitions(stop?: AbortSignal): Promise<Partition[]>;
  /** Where a key of the partition sits (its folder), or null for a key outside the layout or the partition. */
  placeOf(key: string, partition: Partition): PlacedKey | null;
}

/** The bucket's layout: the one the state knows (`known`), else told by listing `<path>AWSLogs/` once. */
export async function bucketLayout(bucket: BucketConfig, client: BucketClient, known: LayoutName | null, log: Logger, stop?: AbortSignal): Promise<Layout> {
  const root = logsRoot(bucket);
  const name = chooseLayout(known, known === null && (await client.exists(root, stop)));
  log.debug({ prefix: name === 'native' ? root : bucket.path, from: known ? 'state' : 'listing' }, `${name} layout`);
  return {
    name,
    granularity: GRANULARITY[name],
    partitions: async (signal) => (name === 'native' ? nativePartitions(bucket, client, log, signal) : [{ kind: 'firehose', prefix: bucket.path }]),
    placeOf: (key, partition) => {
      const placed = placeKey(bucket, name, key);
      return placed !== null && placed.partition.prefix === partition.prefix ? placed : null;
    },
  };
}

/** The configured accounts and regions, or those the folders under AWSLogs/ show. */
async function nativePartitions(bucket: BucketConfig, client: BucketClient, log: Logger, stop?: AbortSignal): Promise<Partition[]> {
  const discover = async (prefix: string, accept: (name: string) => boolean, what: string): Promise<string[]> => {
    const names: string[] = [];
    for await (const folder of client.listFolders(prefix, stop)) {
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
