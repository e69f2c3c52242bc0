import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import unix from 'unix-dgram';
import { CLI } from '../../support/paths.js';
import type { FakeS3 } from '../../support/s3.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr parsed as pino JSON lines (other lines are skipped). */
  logs: Array<Record<string, unknown>>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gdw-test-'));
}

/** Credentials and region for the local S3 endpoint; nothing from the developer's own AWS set-up. */
export const FAKE_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKEFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake/secret/key/that/must/never/be/logged',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

function parseLogs(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export interface Running {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** What the process wrote to stderr until now (it is still running). */
  stderrSoFar(): string;
}

/**
 * Starts the CLI asynchronously (the S3 endpoint lives in this process's event loop). `viaNode` starts
 * it as `node dist/src/cli.js` does, without the shebang's flags.
 */
export function startCli(args: string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }, viaNode = false): Running {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  // Started as an operator starts it: the executable with its shebang (and the Node flags in it).
  const child = spawn(viaNode ? process.execPath : CLI, viaNode ? [CLI, ...args] : args, {
    ...as,
    env: { ...clean, ...FAKE_AWS_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, logs: parseLogs(stderr) }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(args: string[], env: Record<string, string> = {}, as?: { uid: number; gid: number }): Promise<CliResult> {
  return startCli(args, env, as).done;
}

export interface BucketXml {
  name: string;
  endpoint: string;
  extra?: string;
}

/** An ossec.conf with one aws-s3 wodle holding the given GuardDuty buckets. */
export function writeConfig(dir: string, buckets: BucketXml[], wodleOptions = ''): string {
  const file = join(dir, 'ossec.conf');
  const blocks = buckets
    .map(
      (b) => `    <bucket type="guardduty">
      <name>${b.name}</name>
      <service_endpoint>${b.endpoint}</service_endpoint>
${b.extra ?? ''}
    </bucket>`,
    )
    .join('\n');
  writeFileSync(
    file,
    `<ossec_config>
  <wodle name="aws-s3">
    <disabled>no</disabled>
${wodleOptions.includes('<interval>') ? '' : '    <interval>10m</interval>'}
${wodleOptions}
${blocks}
  </wodle>
</ossec_config>
`,
  );
  return file;
}

/** A Unix datagram socket bound by the test, standing in for wazuh-analysisd's queue. */
export class DatagramSink {
  readonly messages: string[] = [];
  private readonly socket = unix.createSocket('unix_dgram', (message) => this.messages.push(message.toString('utf8')));

  constructor(readonly path: string) {
    this.socket.bind(path);
  }

  close(): void {
    this.socket.close();
  }
}

export function eventsFromLines(text: string): Array<Record<string, any>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/**
 * Why the CLI cannot be started as another (unprivileged) user here, or null when it can: every folder
 * above the checkout must let others in (a checkout under a 0700 folder, as `mktemp -d` makes, cannot).
 */
export function cliUnreachableByOthers(): string | null {
  for (let dir = dirname(CLI); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return `${dir} does not let other users in (mode ${(statSync(dir).mode & 0o777).toString(8)}), so the CLI cannot run as another user`;
    if (dirname(dir) === dir) return null;
  }
}

/** A bucket on the S3 stand-in, an ossec.conf naming it, and the state and events files a real collector fills. */
export function bucketOnDisk(s3: FakeS3, bucket: string, extra: string) {
  const dir = tempDir();
  s3.createBucket(bucket);
  const config = writeConfig(dir, [{ name: bucket, endpoint: s3.endpoint, extra }]);
  const state = join(dir, 'state.db');
  const out = join(dir, 'events.jsonl');
  /** One real collector pass (--once) into the events file. */
  const once = (more: string[] = []) => runCli(['--config', config, '--once', '--state', state, '--output', `file:${out}`, ...more]);
  return { dir, config, state, out, once };
}
