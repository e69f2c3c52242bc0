import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { findAll, parseXml, type XmlElement } from './xml.js';
import { DAY, WEEK } from '../schedule.js';
import {
  intervalMonths,
  maskUrl,
  normalisePrefix,
  parseAccountId,
  parseDate,
  parseIntegerRange,
  parseInterval,
  parseList,
  parseRegex,
  parseRegion,
  parseRoleArn,
  parseTimeOfDay,
  parseWeekday,
  parseYesNo,
} from './values.js';
import { KINDS, type TypeKind } from './kinds.js';
import { Reader, type Setter } from './reader.js';
import type { DiscardRule } from '../decode/discard.js';
import type { AwsAccess, BucketConfig, Config, SubscriberConfig, WodleConfig } from './types.js';

export { KINDS } from './kinds.js';
export type { AwsAccess, BucketConfig, Config, SubscriberConfig, WodleConfig } from './types.js';

export const DEFAULTS = {
  intervalSeconds: 600,
  runOnStart: true,
  skipOnError: true,
} as const;

/** The options that say how to reach AWS: shared by `<bucket>` and `<subscriber>`. */
function accessSetters(r: Reader): Record<string, Setter<AwsAccess>> {
  return {
    aws_profile: (a, _v, e) => {
      a.awsProfile = r.text(e);
    },
    iam_role_arn: (a, _v, e) => {
      a.iamRoleArn = r.value(e, parseRoleArn(r.text(e)));
    },
    iam_role_duration: (a, _v, e) => {
      a.iamRoleDuration = r.value(e, parseIntegerRange(r.text(e), 900, 43200));
    },
    external_id: (a, _v, e) => {
      a.externalId = r.text(e);
    },
    regions: (a, _v, e) => {
      a.regions = r.value(e, parseList(r.text(e), parseRegion));
    },
    sts_endpoint: (a, _v, e) => {
      a.stsEndpoint = r.url(e);
    },
    service_endpoint: (a, _v, e) => {
      a.serviceEndpoint = r.url(e);
    },
    access_key: (a, _v, e) => {
      a.accessKey = r.text(e);
    },
    secret_key: (a, _v, e) => {
      a.secretKey = r.text(e);
    },
  };
}

function discardSetter(r: Reader): Setter<{ discardRegex: DiscardRule[] }> {
  return (target, _v, e) => {
    const field = e.attributes['field'];
    if (field === undefined || field.trim() === '') r.fail(e, 'needs a field attribute naming the finding field to match');
    target.discardRegex.push({ field: field.trim(), pattern: r.value(e, parseRegex(r.text(e))) });
  };
}

function bucketSetters(r: Reader): Record<string, Setter<BucketConfig>> {
  return {
    name: (b, _v, e) => {
      b.name = r.text(e);
    },
    path: (b, v) => {
      b.path = normalisePrefix(v);
    },
    path_suffix: (b, v) => {
      b.pathSuffix = normalisePrefix(v);
    },
    aws_account_id: (b, _v, e) => {
      b.accountIds = r.value(e, parseList(r.text(e), parseAccountId));
    },
    aws_account_alias: (b, v) => {
      b.accountAlias = v;
    },
    only_logs_after: (b, _v, e) => {
      b.onlyLogsAfter = r.value(e, parseDate(r.text(e)));
    },
    remove_from_bucket: (b, _v, e) => {
      b.removeFromBucket = r.value(e, parseYesNo(r.text(e)));
    },
    discard_regex: discardSetter(r),
    ...accessSetters(r),
  };
}

function emptyAccess(): AwsAccess {
  return {
    awsProfile: null,
    iamRoleArn: null,
    iamRoleDuration: null,
    externalId: null,
    regions: null,
    stsEndpoint: null,
    serviceEndpoint: null,
    accessKey: null,
    secretKey: null,
  };
}

function emptyBucket(line: number): BucketConfig {
  return {
    type: 'guardduty',
    name: '',
    path: '',
    pathSuffix: '',
    accountIds: null,
    accountAlias: '',
    onlyLogsAfter: null,
    removeFromBucket: false,
    discardRegex: [],
    ...emptyAccess(),
    line,
  };
}

/**
 * The bucket a notification names, read with the subscriber's access and discard rules. Its keys are
 * located from the key itself, so no path, account filter or start date applies, and objects stay.
 */
export function notifiedBucket(subscriber: SubscriberConfig, name: string): BucketConfig {
  return { ...emptyBucket(subscriber.line), ...subscriber.access, discardRegex: subscriber.discardRegex, name };
}

function readBucket(r: Reader, element: XmlElement): BucketConfig {
  const bucket = emptyBucket(element.line);
  r.apply(element, bucket, bucketSetters(r), ['discard_regex']);
  if (bucket.name === '') r.fail(element, 'has no <name> (the S3 bucket to read)');
  if (/[/\s]/.test(bucket.name)) r.fail(element, `<name> "${bucket.name}" is not an S3 bucket name`);
  if ((bucket.accessKey === null) !== (bucket.secretKey === null)) {
    r.fail(element, 'needs both <access_key> and <secret_key>, or neither');
  }
  return bucket;
}

const SUBSCRIBER_ACCESS = ['aws_profile', 'iam_role_arn', 'iam_role_duration', 'external_id', 'sts_endpoint', 'service_endpoint'];

function readSubscriber(r: Reader, element: XmlElement): SubscriberConfig {
  const subscriber: SubscriberConfig = { type: 'buckets', sqsName: '', access: emptyAccess(), discardRegex: [], line: element.line };
  const access = accessSetters(r);
  const setters: Record<string, Setter<SubscriberConfig>> = {
    sqs_name: (sub, _v, e) => {
      sub.sqsName = r.text(e);
    },
    discard_regex: discardSetter(r),
  };
  for (const option of SUBSCRIBER_ACCESS) setters[option] = (sub, value, e) => access[option]!(sub.access, value, e);
  r.apply(element, subscriber, setters, ['discard_regex']);
  if (subscriber.sqsName === '') r.fail(element, 'has no <sqs_name> (the SQS queue receiving the bucket notifications)');
  return subscriber;
}

function emptyWodle(line: number): WodleConfig {
  return {
    disabled: false,
    subscribers: [],
    intervalSeconds: DEFAULTS.intervalSeconds,
    intervalMonths: null,
    day: null,
    wday: null,
    time: null,
    runOnStart: DEFAULTS.runOnStart,
    skipOnError: DEFAULTS.skipOnError,
    buckets: [],
    line,
  };
}

function wodleOptionSetters(r: Reader): Record<string, Setter<WodleConfig>> {
  return {
    disabled: (w, _v, e) => {
      w.disabled = r.value(e, parseYesNo(r.text(e)));
    },
    interval: (w, _v, e) => {
      w.intervalSeconds = r.value(e, parseInterval(r.text(e)));
      w.intervalMonths = intervalMonths(r.text(e));
    },
    day: (w, _v, e) => {
      w.day = r.value(e, parseIntegerRange(r.text(e), 1, 31));
    },
    wday: (w, _v, e) => {
      w.wday = r.value(e, parseWeekday(r.text(e)));
    },
    time: (w, _v, e) => {
      w.time = r.value(e, parseTimeOfDay(r.text(e)));
    },
    run_on_start: (w, _v, e) => {
      w.runOnStart = r.value(e, parseYesNo(r.text(e)));
    },
    skip_on_error: (w, _v, e) => {
      w.skipOnError = r.value(e, parseYesNo(r.text(e)));
    },
  };
}

/**
 * Wazuh's other types are noted once and skipped; a type Wazuh does not know either is a typo, and
 * an error: skipping it would leave the operator's bucket unread without a word.
 */
function typedSetter(
  r: Reader,
  kind: TypeKind,
  read: (w: WodleConfig, e: XmlElement) => void,
  warnings: string[],
  reportedTypes: Set<string>,
): Setter<WodleConfig> {
  return (w, _v, e) => {
    const type = r.typeOf(e, kind);
    if (type === KINDS[kind].collected) {
      read(w, e);
      return;
    }
    const label = `<${e.tag} type="${type}">`;
    if (!reportedTypes.has(label)) {
      reportedTypes.add(label);
      warnings.push(`${r.file}:${e.line}: ${label} ${KINDS[kind].skipped}; skipped`);
    }
  };
}

function readWodle(r: Reader, element: XmlElement, warnings: string[], reportedTypes: Set<string>): WodleConfig {
  const wodle = emptyWodle(element.line);
  const typed = (kind: TypeKind, read: (w: WodleConfig, e: XmlElement) => void) => typedSetter(r, kind, read, warnings, reportedTypes);
  r.apply(
    element,
    wodle,
    {
      ...wodleOptionSetters(r),
      bucket: typed('bucket', (w, e) => w.buckets.push(readBucket(r, e))),
      service: typed('service', () => undefined),
      subscriber: typed('subscriber', (w, e) => w.subscribers.push(readSubscriber(r, e))),
    },
    ['bucket', 'service', 'subscriber'],
  );
  adjustSchedule(r, element, wodle, warnings);
  return wodle;
}

/** Wazuh's rules for calendar schedules: the interval is rounded to what the calendar option needs. */
function adjustSchedule(r: Reader, element: XmlElement, wodle: WodleConfig, warnings: string[]): void {
  const where = `${r.file}:${element.line}: <wodle name="aws-s3">`;
  if (wodle.day !== null && wodle.wday !== null) r.fail(element, "'day' is not compatible with 'wday'");
  if (wodle.day !== null) {
    if (wodle.intervalMonths === null) {
      warnings.push(`${where}: interval must be a multiple of one month with <day>; new interval value: 1M`);
      wodle.intervalMonths = 1;
      wodle.intervalSeconds = 30 * DAY;
    }
    wodle.time ??= '00:00';
  } else if (wodle.wday !== null) {
    if (wodle.intervalSeconds % WEEK !== 0) {
      warnings.push(`${where}: interval must be a multiple of one week with <wday>; new interval value: 1w`);
      wodle.intervalSeconds = WEEK;
      wodle.intervalMonths = null;
    }
    wodle.time ??= '00:00';
  } else if (wodle.time !== null && wodle.intervalSeconds % DAY !== 0) {
    warnings.push(`${where}: interval must be a multiple of one day with <time>; new interval value: 1d`);
    wodle.intervalSeconds = DAY;
    wodle.intervalMonths = null;
  }
}

/** Parses the ossec.conf text; every `<wodle name="aws-s3">` block is read and validated. */
export function parseConfig(source: string, file: string): Config {
  const r = new Reader(file);
  const warnings: string[] = [];
  const reportedTypes = new Set<string>();
  const blocks = findAll(parseXml(source, file), 'wodle').filter((w) => w.attributes['name'] === 'aws-s3');
  if (blocks.length === 0) throw new ConfigError(`${file}: no <wodle name="aws-s3"> block found`);
  const wodles = blocks.map((block) => readWodle(r, block, warnings, reportedTypes));
  for (const bucket of wodles.flatMap((w) => w.buckets)) {
    if (bucket.accessKey !== null) {
      warnings.push(`${file}:${bucket.line}: <access_key>/<secret_key> of bucket ${bucket.name} are deprecated; use aws_profile or iam_role_arn`);
    }
  }
  return { file, wodles, warnings };
}

export function loadConfig(file: string): Config {
  let source: string;
  let mode: number;
  try {
    source = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    throw new ConfigError(`${file}: cannot read configuration: ${(err as Error).message}`);
  }
  const config = parseConfig(source, file);
  // Whoever can write the configuration chooses the credentials, endpoints and output paths.
  if (mode & 0o002) config.warnings.push(`${file}: the configuration is writable by every user; make it writable by its owner only (chmod o-w)`);
  return config;
}

const SECRET_FIELDS = new Set(['accessKey', 'secretKey', 'externalId']);
/** Printed with the password of their userinfo masked (`https://user:****@host`). */
const URL_FIELDS = new Set(['serviceEndpoint', 'stsEndpoint']);

/** The effective configuration with secrets masked, as `--check-config` prints it. */
export function describeConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify({ file: config.file, wodles: config.wodles }, (key, value: unknown) => {
      if (typeof value !== 'string') return value;
      if (SECRET_FIELDS.has(key)) return '********';
      if (URL_FIELDS.has(key)) return maskUrl(value);
      return value;
    }),
  );
}
