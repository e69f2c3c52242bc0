// What one listing covers. Native exports are partitioned by account and region; a Firehose delivery
// stream writes under one path. The state stores both in one row shape, with account and region ''
// for Firehose: toStored() and fromStored() are the only places that know that.

export type Partition =
  | { kind: 'native'; account: string; region: string; /** `<path>AWSLogs/<suffix><account>/GuardDuty/<region>/` */ prefix: string }
  | { kind: 'firehose'; /** The bucket's `<path>`, under which the date folders start. */ prefix: string };

/** A partition as the state's rows hold it. */
export interface StoredPartition {
  prefix: string;
  account: string;
  region: string;
}

export function toStored(partition: Partition): StoredPartition {
  return partition.kind === 'native'
    ? { prefix: partition.prefix, account: partition.account, region: partition.region }
    : { prefix: partition.prefix, account: '', region: '' };
}

export function fromStored(row: StoredPartition): Partition {
  return row.account === '' && row.region === ''
    ? { kind: 'firehose', prefix: row.prefix }
    : { kind: 'native', account: row.account, region: row.region, prefix: row.prefix };
}
