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
