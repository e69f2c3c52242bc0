import { closeSync, openSync, readSync, statSync } from 'node:fs';
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
import type { AwsAccess, BucketConfig, Config, FindingUpdates, SubscriberConfig, WodleConfig } from './types.js';
import { utcDay } from '../walk/dates.js';

export { KINDS } from './kinds.js';
export type { AwsAccess, BucketConfig, Config, FindingUpdates, SubscriberConfig, WodleConfig } from './types.js';

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

const FINDING_UPDATE_MODES = ['all', 'changed', 'first'] as const;
/** `<finding_updates_every>` unless given: an ongoing attack is still seen daily. */
export const DEFAULT_FINDING_UPDATES_EVERY = 86_400;

function findingUpdatesSetters(r: Reader): Record<string, Setter<{ findingUpdates: FindingUpdates }>> {
  return {
    finding_updates: (target, _v, e) => {
      const mode = r.text(e);
      if (!(FINDING_UPDATE_MODES as readonly string[]).includes(mode)) r.fail(e, `"${mode}" is not one of ${FINDING_UPDATE_MODES.join(', ')}`);
      target.findingUpdates = { ...target.findingUpdates, mode: mode as FindingUpdates['mode'] };
    },
    finding_updates_every: (target, _v, e) => {
      target.findingUpdates = { ...target.findingUpdates, everySeconds: r.value(e, parseInterval(r.text(e))) };
    },
  };
}

/** What reading depends on besides the text: today (UTC), as `YYYY-MM-DD`, for dates that lie ahead. */
interface ReadContext {
  today: string;
}

function bucketSetters(r: Reader, context: ReadContext): Record<string, Setter<BucketConfig>> {
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
      // Valid, but a listing window never starts before it: the bucket would be read for nothing,
      // without a word, until that day.
      if (b.onlyLogsAfter > context.today) {
        r.warn(e, `${b.onlyLogsAfter} is after today (${context.today}, UTC): nothing of this bucket is read before that day`);
      }
    },
    remove_from_bucket: (b, _v, e) => {
      b.removeFromBucket = r.value(e, parseYesNo(r.text(e)));
    },
    discard_regex: discardSetter(r),
    ...findingUpdatesSetters(r),
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
    findingUpdates: { mode: 'all', everySeconds: DEFAULT_FINDING_UPDATES_EVERY },
    ...emptyAccess(),
    line,
  };
}

/**
 * The bucket a notification names, read with the subscriber's access and discard rules. Its keys are
 * located from the key itself, so no path, account filter or start date applies, and objects stay.
 */
export function notifiedBucket(subscriber: SubscriberConfig, name: string): BucketConfig {
  return { ...emptyBucket(subscriber.line), ...subscriber.access, discardRegex: subscriber.discardRegex, findingUpdates: subscriber.findingUpdates, name };
}

function readBucket(r: Reader, element: XmlElement, context: ReadContext): BucketConfig {
  const bucket = emptyBucket(element.line);
  r.apply(element, bucket, bucketSetters(r, context), ['discard_regex']);
  if (bucket.name === '') r.fail(element, 'has no <name> (the S3 bucket to read)');
  if (/[/\s]/.test(bucket.name)) r.fail(element, `<name> "${bucket.name}" is not an S3 bucket name`);
  if ((bucket.accessKey === null) !== (bucket.secretKey === null)) {
    r.fail(element, 'needs both <access_key> and <secret_key>, or neither');
  }
  return bucket;
}

const SUBSCRIBER_ACCESS = ['aws_profile', 'iam_role_arn', 'iam_role_duration', 'external_id', 'sts_endpoint', 'service_endpoint'];

function readSubscriber(r: Reader, element: XmlElement): SubscriberConfig {
  const subscriber: SubscriberConfig = {
    type: 'buckets',
    sqsName: '',
    access: emptyAccess(),
    discardRegex: [],
    findingUpdates: { mode: 'all', everySeconds: DEFAULT_FINDING_UPDATES_EVERY },
    line: element.line,
  };
  const access = accessSetters(r);
  const setters: Record<string, Setter<SubscriberConfig>> = {
    sqs_name: (sub, _v, e) => {
      sub.sqsName = r.text(e);
    },
    discard_regex: discardSetter(r),
    ...findingUpdatesSetters(r),
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

function readWodle(r: Reader, element: XmlElement, warnings: string[], reportedTypes: Set<string>, context: ReadContext): WodleConfig {
  const wodle = emptyWodle(element.line);
  const typed = (kind: TypeKind, read: (w: WodleConfig, e: XmlElement) => void) => typedSetter(r, kind, read, warnings, reportedTypes);
  r.apply(
    element,
    wodle,
    {
      ...wodleOptionSetters(r),
      bucket: typed('bucket', (w, e) => w.buckets.push(readBucket(r, e, context))),
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

/**
 * Parses the ossec.conf text; every `<wodle name="aws-s3">` block is read and validated. `now` decides
 * which dates lie in the future (a warning).
 */
export function parseConfig(source: string, file: string, now = new Date()): Config {
  const warnings: string[] = [];
  const r = new Reader(file, warnings);
  const context: ReadContext = { today: utcDay(now) };
  const reportedTypes = new Set<string>();
  const blocks = findAll(parseXml(source, file), 'wodle').filter((w) => w.attributes['name'] === 'aws-s3');
  if (blocks.length === 0) throw new ConfigError(`${file}: no <wodle name="aws-s3"> block found`);
  const wodles = blocks.map((block) => readWodle(r, block, warnings, reportedTypes, context));
  for (const bucket of wodles.flatMap((w) => w.buckets)) {
    if (bucket.accessKey !== null) {
      warnings.push(`${file}:${bucket.line}: <access_key>/<secret_key> of bucket ${bucket.name} are deprecated; use aws_profile or iam_role_arn`);
    }
  }
  return { file, wodles, warnings };
}

/**
 * The largest configuration read. Parsing takes about 22 times the file's size in memory (a 50 MB file
 * took 1.1 GB and 9 s, again on every SIGHUP); at this size a check peaks at about 110 MB, under the
 * 128 MB the collector keeps to (docs/performance.md, Memory). A real ossec.conf, with every module and hundreds of
 * <localfile> blocks, is tens to a few hundred KiB.
 */
export const CONFIG_MAX_BYTES = 2 * 1024 * 1024;

const READ_CHUNK_BYTES = 64 * 1024;

function tooLarge(file: string, size?: number): ConfigError {
  const is = size === undefined ? 'is larger than' : `is ${size} bytes (${(size / (1024 * 1024)).toFixed(1)} MiB), larger than`;
  return new ConfigError(
    `${file}: the configuration ${is} the ${CONFIG_MAX_BYTES / (1024 * 1024)} MiB (${CONFIG_MAX_BYTES} bytes) guardduty-wodle reads; ` +
      'an ossec.conf is tens to hundreds of KiB: check that --config names the right file',
  );
}

/**
 * The configuration file's text and mode. Its size is checked before it is read, and no more than
 * CONFIG_MAX_BYTES + 1 bytes are ever read: a file that grows meanwhile, or a pipe, is refused all the same.
 */
export function readConfigFile(file: string): { text: string; mode: number } {
  const cannotRead = (err: unknown) => new ConfigError(`${file}: cannot read configuration: ${(err as Error).message}`);
  let mode: number;
  let fd: number;
  try {
    const stats = statSync(file);
    if (stats.size > CONFIG_MAX_BYTES) throw tooLarge(file, stats.size);
    mode = stats.mode;
    fd = openSync(file, 'r');
  } catch (err) {
    throw err instanceof ConfigError ? err : cannotRead(err);
  }
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, CONFIG_MAX_BYTES + 1 - total));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      total += read;
      if (total > CONFIG_MAX_BYTES) throw tooLarge(file);
    }
    return { text: Buffer.concat(chunks, total).toString('utf8'), mode };
  } catch (err) {
    throw err instanceof ConfigError ? err : cannotRead(err);
  } finally {
    closeSync(fd);
  }
}

export function loadConfig(file: string, now = new Date()): Config {
  const { text, mode } = readConfigFile(file);
  const config = parseConfig(text, file, now);
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
