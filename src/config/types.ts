import type { DiscardRule } from '../decode/discard.js';
import type { Schedule } from '../schedule.js';

/**
 * What a re-export of a finding already sent does (`<finding_updates>`): `all` sends every export, as
 * Wazuh does; `changed` only a change of severity, type, resource or archived state, or the first
 * version past `everySeconds` of the finding's own updatedAt since the one last sent; `first` only the
 * first version of each id. Neither `changed` nor `first` sends a version not newer than the last sent.
 */
export interface FindingUpdates {
  mode: 'all' | 'changed' | 'first';
  /** `<finding_updates_every>`, for `changed`. */
  everySeconds: number;
}

export interface BucketConfig {
  type: 'guardduty';
  name: string;
  /** Key prefix before `AWSLogs/` (or the Firehose date folders): '' or ending in '/'. */
  path: string;
  /** Prefix between `AWSLogs/` and the account folder (organisation ids): '' or ending in '/'. */
  pathSuffix: string;
  accountIds: string[] | null;
  accountAlias: string;
  awsProfile: string | null;
  iamRoleArn: string | null;
  iamRoleDuration: number | null;
  externalId: string | null;
  /** ISO date; null means: start of today (UTC) for a partition with no state yet. */
  onlyLogsAfter: string | null;
  regions: string[] | null;
  removeFromBucket: boolean;
  discardRegex: DiscardRule[];
  findingUpdates: FindingUpdates;
  stsEndpoint: string | null;
  serviceEndpoint: string | null;
  accessKey: string | null;
  secretKey: string | null;
  line: number;
}

/** What reaching AWS takes: credentials or a profile, a role, the endpoints, the regions to start from. */
export type AwsAccess = Pick<
  BucketConfig,
  'accessKey' | 'secretKey' | 'awsProfile' | 'iamRoleArn' | 'iamRoleDuration' | 'externalId' | 'stsEndpoint' | 'serviceEndpoint' | 'regions'
>;

/** `<subscriber type="buckets">`: S3 notifications of new objects, read from an SQS queue. */
export interface SubscriberConfig {
  type: 'buckets';
  sqsName: string;
  /** Credentials, role and endpoints, used for the queue and for every bucket it names. */
  access: AwsAccess;
  /** Applied to the findings of every bucket it names. */
  discardRegex: DiscardRule[];
  findingUpdates: FindingUpdates;
  line: number;
}

export interface WodleConfig extends Schedule {
  disabled: boolean;
  subscribers: SubscriberConfig[];
  skipOnError: boolean;
  buckets: BucketConfig[];
  line: number;
}

export interface Config {
  file: string;
  wodles: WodleConfig[];
  /** One line each, for options read but not acted on (unsupported bucket types, services …). */
  warnings: string[];
}
