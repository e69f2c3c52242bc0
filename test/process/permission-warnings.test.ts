// Permissions an operator is warned about at start: a state directory open to other users, and a
// configuration every user may write. (The modes the collector gives its own state: state-store.test.ts.)
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, writeConfig } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';

test('a state directory open to others, and a configuration writable by others, are warned about', async () => {
  const dir = tempDir();
  const stateDir = join(dir, 'open');
  mkdirSync(stateDir);
  chmodSync(stateDir, 0o777);
  const config = writeConfig(dir, [{ name: 'unused', endpoint: 'http://127.0.0.1:9' }]);
  chmodSync(config, 0o666);
  const result = await runCli(['--config', config, '--once', '--state', join(stateDir, 'state.db'), '--output', 'stdout']);
  const warnings = result.logs.filter((l) => l['level'] === 40).map((l) => String(l['msg']));
  assert.ok(warnings.some((w) => w.includes(config) && /writable by every user/.test(w)), warnings.join('\n'));
  assert.ok(warnings.some((w) => w.includes(stateDir) && /open to other users \(mode 777\)/.test(w)), warnings.join('\n'));
});
