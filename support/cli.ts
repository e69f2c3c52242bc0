// Starting the built CLI as an operator does, for the tests, the benchmark and the demo: its process,
// its stdout and stderr gathered (stderr also as pino JSON lines), and the ossec.conf it reads.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stderr parsed as pino JSON lines (other lines are skipped). */
  logs: Array<Record<string, unknown>>;
}

/** Credentials and region for the local S3 endpoint; nothing from the developer's own AWS set-up. */
export const FAKE_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKEFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake/secret/key/that/must/never/be/logged',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
};

export function parseLogs(stderr: string): Array<Record<string, unknown>> {
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
 * How the collector is started: `bin` runs the executable (its shebang starts node with the memory
 * flags), `node` runs `node dist/src/cli.js` (without them), `entrypoint` runs the Docker image's
 * entrypoint script with sh, which adds its defaults and execs the executable.
 */
export type StartMode = 'bin' | 'node' | 'entrypoint';

export interface StartOptions {
  env?: Record<string, string>;
  /** Another user to run as (the test runs as root). */
  as?: { uid: number; gid: number };
  mode?: StartMode;
  /** The executable to start; this build's unless told (the benchmark compares with a baseline build). */
  cli?: string;
  /** Node flags before the shebang's, for a profile (`--cpu-prof …`): the CLI then runs under node itself. */
  nodeArgs?: string[];
  /** What happens to stdout: gathered for the result, or dropped (a run writing megabytes of events to it). */
  stdout?: 'pipe' | 'ignore';
}

/** The Node flags the executable's shebang gives, for starts that run node themselves. */
function shebangFlags(cli: string): string[] {
  return readFileSync(cli, 'utf8').split('\n', 1)[0]!.split(' ').slice(3);
}

const ENTRYPOINT = join(ROOT, 'config', 'docker-entrypoint.sh');

function command(args: string[], { mode = 'bin', cli = CLI, nodeArgs }: StartOptions): { file: string; args: string[] } {
  if (nodeArgs && nodeArgs.length > 0) return { file: process.execPath, args: [...nodeArgs, ...shebangFlags(cli), cli, ...args] };
  if (mode === 'node') return { file: process.execPath, args: [cli, ...args] };
  if (mode === 'entrypoint') return { file: '/bin/sh', args: [ENTRYPOINT, ...args] };
  return { file: cli, args };
}

/**
 * Starts the CLI asynchronously (an S3 endpoint may live in this process's event loop), started as an
 * operator starts it unless told otherwise: the executable with its shebang (and the Node flags in it),
 * with the stand-in's credentials and none of the developer's own AWS_* variables.
 */
export function startCli(args: string[], options: StartOptions = {}): Running {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  const run = command(args, options);
  const child = spawn(run.file, run.args, {
    ...options.as,
    env: { ...clean, ...FAKE_AWS_ENV, ...options.env },
    stdio: ['ignore', options.stdout ?? 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, logs: parseLogs(stderr) }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

export function runCli(args: string[], options: StartOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
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
