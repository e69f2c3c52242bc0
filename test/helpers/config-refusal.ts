import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, describe as describeError } from '../../src/errors.js';
import { tempDir } from './files.js';

/**
 * The configuration `conf`, written to an ossec.conf and loaded as the CLI loads it; it must be refused
 * with a ConfigError (the CLI's exit 2) whose message is one line (all the CLI prints after its name).
 */
export function refusalOf(conf: string): { file: string; message: string } {
  const file = join(tempDir(), 'ossec.conf');
  writeFileSync(file, conf);
  let refused: unknown;
  try {
    loadConfig(file);
  } catch (err) {
    refused = err;
  }
  assert.ok(refused instanceof ConfigError, `${file} is refused with a configuration error, not ${refused === undefined ? 'accepted' : describeError(refused)}`);
  const message = describeError(refused);
  assert.equal(message.split('\n').length, 1, message);
  return { file, message };
}
