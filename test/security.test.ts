import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateStore } from '../src/state/store.js';
import { runCli, writeConfig } from '../support/cli.js';
import { tempDir } from './helpers/files.js';

test('the state file is 0600 and the directory created for it 0700', () => {
  const dir = join(tempDir(), 'var', 'guardduty-wodle');
  const store = StateStore.open(join(dir, 'state.db'));
  store.close();
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'state.db')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'state.db.lock')).mode & 0o777, 0o600);
});

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
