// What systemd itself says of config/guardduty-wodle.service and its Wazuh 5.x drop-in: systemd-analyze
// verify finds nothing to report (and would notice a fault, so its silence means something), and
// systemd-analyze security rates the unit's exposure OK or better. Skipped only where this machine has
// no systemd-analyze (or none with --offline). What the unit promises: systemd-unit.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CLI, ROOT } from '../../support/paths.js';
import { tempDir } from '../helpers/files.js';
import { UNIT_FILE } from '../helpers/packaging.js';
import { run } from '../helpers/processes.js';

const analyze = await run('systemd-analyze', ['--version']);
const haveAnalyze = !analyze.error && analyze.code === 0;
const offline = haveAnalyze && (await run('systemd-analyze', ['security', '--help'])).stdout.includes('--offline');

describe('config/guardduty-wodle.service', () => {
  const text = readFileSync(UNIT_FILE, 'utf8');

  /** A copy of the unit whose ExecStart runs the built CLI, so that verify finds an executable. */
  function verifiableCopy(extra = ''): string {
    const file = join(tempDir(), 'guardduty-wodle.service');
    const copy = text.replace(/^ExecStart=\/usr\/local\/bin\/guardduty-wodle /m, `ExecStart=${CLI} `).replace(/^\[Service\]$/m, `[Service]\n${extra}`);
    assert.notEqual(copy, text);
    writeFileSync(file, copy);
    return file;
  }

  async function verify(file: string): Promise<{ status: number | null; lines: string[] }> {
    const result = await run('systemd-analyze', ['verify', '--man=no', file]);
    return { status: result.code, lines: `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => l.trim() !== '') };
  }

  test('systemd-analyze verify reports nothing about it', { skip: haveAnalyze ? false : 'systemd-analyze is not on PATH' }, async () => {
    const result = await verify(verifiableCopy());
    // Fair to forgive: what depends on this machine rather than on the unit. A machine without the
    // wazuh user (like the one the tests run on) may be told that the user or group does not exist
    // (systemd 252 does not look it up; later versions may), and one without the Wazuh manager that
    // wazuh-manager.service is not found. Everything else — an unknown directive or section, a value
    // that does not parse, a missing executable — is a fault of the unit and fails the test.
    const forgiven = /\b(user|group)\b.*\bwazuh\b|\bwazuh\b.*\b(user|group)\b|wazuh-manager\.service/i;
    const reported = result.lines.filter((l) => !forgiven.test(l));
    assert.deepEqual(reported, [], result.lines.join('\n'));
    assert.ok(!result.lines.some((l) => /unknown (key|section|lvalue)|failed to parse/i.test(l)), result.lines.join('\n'));
    if (result.lines.length === 0) assert.equal(result.status, 0);
  });

  test('systemd-analyze verify would notice an unknown directive and a bad value (so its silence means something)', { skip: haveAnalyze ? false : 'systemd-analyze is not on PATH' }, async () => {
    const file = verifiableCopy('NoSuchDirective=yes\nUMask=bogus\nRestartPreventExitStatus=bogus');
    const result = await verify(file);
    const badStatusLine = readFileSync(file, 'utf8').split('\n').indexOf('RestartPreventExitStatus=bogus') + 1;
    assert.ok(result.lines.some((l) => l.includes('NoSuchDirective')), result.lines.join('\n'));
    assert.ok(result.lines.some((l) => /failed to parse/i.test(l)), result.lines.join('\n'));
    // (systemd 252 names the line, not the key, of a RestartPreventExitStatus= it cannot parse.)
    assert.ok(result.lines.some((l) => l.includes(`:${badStatusLine}: `) && /failed to parse/i.test(l)), `a bad RestartPreventExitStatus is reported: ${result.lines.join('\n')}`);
  });

  test('systemd-analyze security rates its exposure OK or better', { skip: offline ? false : 'systemd-analyze security --offline is not available' }, async () => {
    const result = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', verifiableCopy()]);
    const verdict = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(result.stdout);
    assert.ok(verdict, result.stdout + result.stderr);
    assert.ok(['PERFECT', 'SAFE', 'OK'].includes(verdict[2]!), `exposure ${verdict[1]} ${verdict[2]}`);
  });
});

describe('config/guardduty-wodle-wazuh5.conf (the drop-in for a Wazuh 5.x manager)', () => {
  const dropIn = readFileSync(join(ROOT, 'config', 'guardduty-wodle-wazuh5.conf'), 'utf8');

  test('the unit with the drop-in applied passes systemd-analyze verify', { skip: haveAnalyze ? false : 'systemd-analyze is not on PATH' }, async () => {
    const unit = readFileSync(UNIT_FILE, 'utf8');
    // A unit may repeat a section: the drop-in's lines after the unit's are what systemd merges.
    const merged = `${unit}\n${dropIn.replace(/^ExecStart=\/usr\/local\/bin\/guardduty-wodle /m, `ExecStart=${CLI} `)}`;
    const file = join(tempDir(), 'guardduty-wodle.service');
    writeFileSync(file, merged);
    const result = await run('systemd-analyze', ['verify', '--man=no', file]);
    const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((l) => l.trim() !== '');
    const forgiven = /\b(user|group)\b.*\bwazuh(-manager)?\b|\bwazuh(-manager)?\b.*\b(user|group)\b|wazuh-manager\.service/i;
    assert.deepEqual(lines.filter((l) => !forgiven.test(l)), [], lines.join('\n'));
  });
});
