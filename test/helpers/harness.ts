import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { parseConfig, type Config } from '../../src/config/load.js';
import { runPass } from '../../src/daemon.js';
import { FileOutput } from '../../src/emit/file.js';
import { Outputs, type Output } from '../../src/emit/index.js';
import type { PassOutcome, RunContext } from '../../src/vocabulary.js';
import { StateStore } from '../../src/state/store.js';
import type { FakeS3 } from '../../support/s3.js';
import { FAKE_AWS_ENV } from '../../support/cli.js';
import { tempDir } from './files.js';
import { jsonlGz, makeFinding } from '../../support/findings.js';
import { S3Proxy, type ProxyOptions, type SeenRequest } from '../../support/proxy.js';
import { inProcessRun } from './run.js';

export const isList = (r: SeenRequest) => r.method === 'GET' && r.url.includes('list-type=2');
export const isGet = (r: SeenRequest) => r.method === 'GET' && !r.url.includes('list-type=');

export interface HarnessOptions {
  proxy?: ProxyOptions;
  /** The outputs of each pass, made anew for it; a file output (`ids()` reads it) unless given. */
  outputs?: () => Output[];
  /** Each pass must succeed (its outcome ok); true unless the test looks at failing passes. */
  expectOk?: boolean;
  /** Options of the `<wodle name="aws-s3">` block around the bucket (skip_on_error…). */
  wodleXml?: string;
}

/** Where the state keeps a partition's next listing starting, read as an operator would. */
export function windowStartIn(statePath: string, bucket: string, prefix: string): string | null {
  const db = new Database(statePath, { readonly: true });
  try {
    const row = db.prepare('SELECT window_start FROM partitions WHERE bucket = ? AND prefix = ?').get(bucket, prefix) as { window_start: string } | undefined;
    return row?.window_start ?? null;
  } finally {
    db.close();
  }
}

/**
 * A bucket, a counting proxy in front of fauxqs, a state and a file output, and collector passes run
 * in this process at a given time: the pipeline whole, without starting the CLI.
 */
export async function inProcessBucket(fake: { readonly s3: FakeS3 }, bucket: string, bucketXml: (endpoint: string) => string, options: HarnessOptions = {}) {
  Object.assign(process.env, FAKE_AWS_ENV);
  fake.s3.createBucket(bucket);
  const proxy = await S3Proxy.start(fake.s3.endpoint, options.proxy);
  const dir = tempDir();
  const config: Config = parseConfig(
    `<ossec_config><wodle name="aws-s3">${options.wodleXml ?? ''}<bucket type="guardduty"><name>${bucket}</name>` +
      `<service_endpoint>${proxy.endpoint}</service_endpoint>${bucketXml(proxy.endpoint)}</bucket></wodle></ossec_config>`,
    `${bucket}.conf`,
  );
  const out = join(dir, 'events.jsonl');
  const statePath = join(dir, 'state.db');
  const logs: Array<Record<string, unknown>> = [];
  const put = async (key: string, ids: string[]) => {
    const [, account = '111111111111', , region = 'us-east-1'] = key.split('/');
    const body = jsonlGz(ids.map((id) => makeFinding(account, region, id)));
    await fake.s3.put(bucket, key, body);
    return body;
  };
  /** One pass at `at`; resolves with its outcome, its summary and the requests it made, by kind. */
  const pass = async (at: string, extra: Partial<RunContext> = {}) => {
    const state = StateStore.open(statePath);
    const outputs = new Outputs(options.outputs?.() ?? [new FileOutput(out)]);
    proxy.reset();
    const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    try {
      const now = new Date(at);
      const result: PassOutcome = await runPass(config.wodles, inProcessRun(state, outputs, now, 8, { log, ...extra }));
      if (options.expectOk ?? true) assert.ok(result.ok, `pass at ${at}`);
      return {
        ok: result.ok,
        summary: result.buckets[0]!,
        lists: proxy.requests.filter(isList),
        gets: proxy.requests.filter(isGet),
        requests: proxy.requests.length,
        windowStart: (prefix: string) => windowStartIn(statePath, bucket, prefix),
      };
    } finally {
      await outputs.close();
      state.close();
    }
  };
  const ids = () => {
    try {
      return readFileSync(out, 'utf8').trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { aws: { id: string } }).aws.id);
    } catch {
      return [];
    }
  };
  return { bucket, proxy, pass, put, ids, logs, statePath, stop: () => proxy.stop() };
}
