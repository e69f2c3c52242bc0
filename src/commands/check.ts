// `--check-config` beyond parsing: what can be checked without reading S3 (the output files' and the
// state's directories, the sockets), and with `--check-access` one listing per bucket, like
// `filebeat test output`. Never reads an object, never writes anything.

import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { explainAwsError, networkCode, type AwsLikeError } from '../aws/errors.js';
import { createBucketClient, startRegion } from '../aws/s3.js';
import { describeConfig, readConfigFile, type BucketConfig, type Config } from '../config/load.js';
import { maskUrl } from '../config/values.js';
import { engineSocketProblem } from '../emit/engine.js';
import { outputLabel, type OutputSpec } from '../emit/index.js';
import type { Installation } from '../installation.js';
import { WAZUH_QUEUE, managerWithoutQueue } from '../emit/wazuh.js';
import { describe } from '../errors.js';
import { findStateFileProblem, WRITER_COMPANIONS } from '../state/path.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Sections only Wazuh's own ossec.conf has (a manager's or an agent's), outside any wodle. */
const WAZUH_SECTIONS = /<(global|remote|client|syscheck|rootcheck|ruleset|alerts|auth|cluster|localfile|sca|vulnerability-detection|indexer)[\s>]/;

/**
 * A warning when the file is Wazuh's own ossec.conf and an enabled aws-s3 block in it holds GuardDuty
 * buckets: Wazuh's modulesd reads that block too, so every finding would reach Wazuh twice.
 */
export function wazuhCollectsToo(config: Config, text: string): string | null {
  const enabled = config.wodles.filter((wodle) => !wodle.disabled && wodle.buckets.length > 0);
  if (enabled.length === 0) return null;
  const withoutComments = text.replace(/<!--[\s\S]*?-->/g, '');
  if (!WAZUH_SECTIONS.test(withoutComments) && resolve(config.file) !== '/var/ossec/etc/ossec.conf') return null;
  const lines = enabled.map((wodle) => `${config.file}:${wodle.line}`).join(', ');
  return (
    `${config.file} is Wazuh's own ossec.conf and its <wodle name="aws-s3"> block (${lines}) is enabled: Wazuh's modulesd collects the same buckets, ` +
    'so every finding would arrive twice; give guardduty-wodle a file of its own, or take the buckets out of Wazuh\'s block (README: Switching over from Wazuh)'
  );
}

/** What the local checks found: errors stop the run (exit 2), warnings are said and the run goes on. */
export interface LocalFindings {
  errors: string[];
  warnings: string[];
}

function statOrError(path: string): Stats | NodeJS.ErrnoException {
  try {
    return statSync(path);
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/** null when the process may write (and enter) the directory, else the reason (EACCES, EROFS …). */
function cannotWrite(path: string, mode = constants.W_OK | constants.X_OK): string | null {
  try {
    accessSync(path, mode);
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? describe(err);
  }
}

/** The nearest existing parent of a path that failed with ENOTDIR: the file standing where a directory should. */
function nonDirectoryAbove(path: string): string {
  let at = dirname(path);
  while (dirname(at) !== at) {
    const found = statOrError(at);
    if (!(found instanceof Error)) return at;
    at = dirname(at);
  }
  return path;
}

/** Why a directory that must hold new files cannot, or null. */
function directoryProblem(dir: string): string | null {
  const found = statOrError(dir);
  if (found instanceof Error) {
    if (found.code === 'ENOENT') return `the directory ${dir} does not exist`;
    if (found.code === 'ENOTDIR') return `${nonDirectoryAbove(dir)} is not a directory`;
    return `the directory ${dir} cannot be examined (${found.code ?? describe(found)})`;
  }
  if (!found.isDirectory()) return `${dir} is not a directory`;
  const denied = cannotWrite(dir);
  return denied === null ? null : `the directory ${dir} is not writable by this process (${denied})`;
}

/** `file:PATH`: the file is appended to (created if missing), so it or its directory must be writable. */
function checkFileOutput(path: string): string | null {
  const where = `--output file:${path}`;
  const found = statOrError(path);
  if (!(found instanceof Error)) {
    if (found.isDirectory()) return `${where}: ${path} is a directory`;
    const denied = cannotWrite(path, constants.W_OK);
    if (denied !== null) return `${where}: ${path} is not writable by this process (${denied})`;
    return null;
  }
  if (found.code !== 'ENOENT') {
    const problem = directoryProblem(dirname(resolve(path)));
    return `${where}: ${problem ?? `${path} cannot be examined (${found.code ?? describe(found)})`}`;
  }
  const problem = directoryProblem(dirname(resolve(path)));
  return problem === null ? null : `${where}: ${problem}`;
}

/**
 * `--state PATH`: the database and its companions (-wal, -shm, .lock) live in its directory, which the
 * collector creates (mode 0700) when it is missing: then the nearest existing parent must be writable.
 */
function checkState(path: string): string | null {
  const where = `--state ${path}`;
  const found = statOrError(path);
  if (!(found instanceof Error) && !found.isFile()) return `${where}: ${path} is not a regular file`;
  const unusable = findStateFileProblem(path, WRITER_COMPANIONS);
  if (unusable !== null) return `${where}: ${unusable.file} is ${unusable.is}, ${unusable.advice}`;
  if (!(found instanceof Error)) {
    const denied = cannotWrite(path, constants.R_OK | constants.W_OK);
    if (denied !== null) return `${where}: ${path} is not readable and writable by this process (${denied})`;
  }
  let dir = dirname(resolve(path));
  const missing: string[] = [];
  for (;;) {
    const at = statOrError(dir);
    if (!(at instanceof Error) || at.code !== 'ENOENT' || dirname(dir) === dir) break;
    missing.push(dir);
    dir = dirname(dir);
  }
  const problem = directoryProblem(dir);
  if (problem === null) return null;
  const created = missing.length > 0 ? ` (the state directory ${missing[0]} would be created in it)` : '';
  return `${where}: ${problem}${created}`;
}

/** `wazuh[:PATH]`, `unix:PATH`: a socket some other program binds; absent now is worth saying, not fatal. */
function checkSocket(spec: { kind: 'wazuh' | 'unix'; path: string }): string | null {
  const where = spec.kind === 'wazuh' && spec.path === WAZUH_QUEUE ? '--output wazuh' : `--output ${spec.kind}:${spec.path}`;
  const peer = spec.kind === 'wazuh' ? 'is wazuh-analysisd running?' : 'is the program that reads it running?';
  const found = statOrError(spec.path);
  if (found instanceof Error) {
    if (found.code === 'ENOENT') {
      const manager = spec.kind === 'wazuh' ? managerWithoutQueue(spec.path) : null;
      return `${where}: the socket ${spec.path} does not exist now (${manager ?? peer}); events cannot be delivered until it does`;
    }
    return `${where}: the socket ${spec.path} cannot be examined (${found.code ?? describe(found)})`;
  }
  if (!found.isSocket()) return `${where}: ${spec.path} is not a socket`;
  const denied = cannotWrite(spec.path, constants.W_OK);
  return denied === null ? null : `${where}: the socket ${spec.path} is not writable by this process (${denied})`;
}

/** The checks that need neither S3 nor a running peer. */
export function checkLocal(outputs: OutputSpec[], statePath: string): LocalFindings {
  const findings: LocalFindings = { errors: [], warnings: [] };
  const seen = new Set<string>();
  for (const spec of outputs) {
    if (spec.kind === 'stdout') continue;
    const key = `${spec.kind}:${spec.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (spec.kind === 'file') {
      const error = checkFileOutput(spec.path);
      if (error !== null) findings.errors.push(error);
    } else if (spec.kind === 'wazuh-engine') {
      const problem = engineSocketProblem(spec.path);
      if (problem !== null) findings.warnings.push(`--output ${key}: ${problem}; events cannot be delivered until it is`);
    } else {
      const warning = checkSocket({ kind: spec.kind, path: spec.path });
      if (warning !== null) findings.warnings.push(warning);
    }
  }
  const state = checkState(statePath);
  if (state !== null) findings.errors.push(state);
  return findings;
}

/** The outcome of listing one bucket's prefix, as the check-config JSON carries it. */
export type AccessResult =
  | { status: 'ok'; prefix: string; region: string; credentials: string; objects: boolean; message: string }
  | { status: 'failed'; prefix: string; region: string; credentials: string; error: string; message: string }
  | { status: 'skipped'; prefix: string; message: string };

/** Which credentials a bucket uses, in words (never the keys themselves). */
export function credentialsLabel(bucket: BucketConfig): string {
  const base =
    bucket.accessKey !== null ? 'access_key/secret_key' : bucket.awsProfile !== null ? `aws_profile ${bucket.awsProfile}` : 'the default credential chain';
  return bucket.iamRoleArn === null ? base : `${base}, assuming ${bucket.iamRoleArn}`;
}

/** One ListObjectsV2 of the bucket's prefix, MaxKeys 1, as the collector's client would make it. */
export async function checkBucketAccess(bucket: BucketConfig, timeoutMs: number): Promise<AccessResult> {
  const prefix = bucket.path;
  const where = `s3://${bucket.name}/${prefix}`;
  const credentials = credentialsLabel(bucket);
  let region = '';
  try {
    region = await startRegion(bucket);
    const reader = await createBucketClient(bucket, { maxSockets: 1, timeoutMs });
    try {
      const objects = await reader.exists(prefix);
      const via = bucket.serviceEndpoint !== null ? ` via ${maskUrl(bucket.serviceEndpoint)}` : '';
      const what = objects ? 'objects found' : `nothing under the prefix yet: check <path> if exports should be there`;
      return { status: 'ok', prefix, region, credentials, objects, message: `${where}: OK, listed with ${credentials} in ${region}${via} (${what})` };
    } finally {
      reader.close();
    }
  } catch (err) {
    const e = err as AwsLikeError;
    const error = networkCode(e) ?? e.name ?? e.Code ?? 'Error';
    const explained = explainAwsError(err, { bucket: bucket.name, operation: 'list', endpoint: bucket.serviceEndpoint });
    // explainAwsError names s3://bucket; the check names the prefix it listed.
    const message = explained.startsWith(`s3://${bucket.name}:`) ? `${where}:${explained.slice(`s3://${bucket.name}:`.length)}` : explained;
    return { status: 'failed', prefix, region, credentials, error, message };
  }
}

export interface CheckOptions {
  /** The Wazuh installation the defaults came from, said in the JSON. */
  installation: Installation;
  outputs: OutputSpec[];
  state: string;
  /** `--check-access`: list every bucket once. */
  access: boolean;
  s3TimeoutMs: number;
}

interface DescribedBucket {
  [field: string]: unknown;
  access?: AccessResult;
}

interface Described {
  file: string;
  wodles: Array<{ disabled: boolean; buckets: DescribedBucket[] }>;
}

/**
 * `--check-config [--check-access]`: prints the effective configuration as JSON with the findings,
 * logs each finding on stderr; exit 2 on an error of configuration or paths, 1 when a bucket could not
 * be listed, else 0.
 */
export async function runCheck(config: Config, options: CheckOptions, log: Logger): Promise<number> {
  const local = checkLocal(options.outputs, options.state);
  const twice = wazuhCollectsToo(config, readConfigFile(config.file).text);
  if (twice !== null) local.warnings.push(twice);
  for (const warning of local.warnings) log.warn(warning);
  for (const error of local.errors) log.error(error);
  const described = describeConfig(config) as Described;
  let failed = 0;
  if (options.access) {
    // Every bucket at once; the results are told in the order of the configuration.
    const checks = config.wodles.flatMap((wodle, w) =>
      wodle.buckets.map(async (bucket, b) => {
        const result: AccessResult = wodle.disabled
          ? { status: 'skipped', prefix: bucket.path, message: `s3://${bucket.name}/${bucket.path}: not listed, its <wodle> is disabled` }
          : await checkBucketAccess(bucket, options.s3TimeoutMs);
        return { bucket, target: described.wodles[w]!.buckets[b]!, result };
      }),
    );
    for (const { bucket, target, result } of await Promise.all(checks)) {
      target.access = result;
      const fields = { bucket: bucket.name, prefix: bucket.path, access: result.status };
      if (result.status === 'failed') {
        failed++;
        log.error({ ...fields, error: result.error }, result.message);
      } else {
        log.info(fields, result.message);
      }
    }
  }
  const { home, kind, why } = options.installation;
  const outputs = options.outputs.map(outputLabel);
  const document = { ...described, installation: { home, kind, why }, outputs, state: options.state, warnings: [...config.warnings, ...local.warnings], errors: local.errors };
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  if (local.errors.length > 0) return EXIT_USAGE;
  return failed > 0 ? EXIT_FAILED : EXIT_OK;
}
