import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runCli, writeConfig } from '../../support/cli.js';
import { CLI } from '../../support/paths.js';
import type { FakeS3 } from '../../support/s3.js';
import { tempDir } from './files.js';

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

export interface Collected {
  dir: string;
  config: string;
  state: string;
  out: string;
  /** Runs one real collector pass (--once) and returns its exit status. */
  pass(extra?: string[]): Promise<number>;
}

/** A bucket on the S3 emulator, an ossec.conf naming it, and a state file the real collector fills. */
export function collected(fake: { readonly s3: FakeS3 }, bucket: string, extra: string): Collected {
  const { once, ...files } = bucketOnDisk(fake.s3, bucket, extra);
  return {
    ...files,
    async pass(more = []) {
      const result = await once(more);
      if (result.code !== 0) process.stderr.write(`# collector pass exited ${result.code}:\n${result.stderr}`);
      return result.code ?? -1;
    },
  };
}

/** The one line a command writes on stderr when it refuses (exit 2): `guardduty-wodle: …`. */
export function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${stderr}`);
  assert.match(lines[0]!, /^guardduty-wodle: /);
  return lines[0]!;
}
