// What the built CLI does with a command line or a configuration it refuses: exit 2, nothing on stdout,
// one line on stderr starting `guardduty-wodle: `. Each refusal's message is checked in this process
// (config.test.ts, discard.test.ts, cli-options.test.ts; the unit's RestartPreventExitStatus=2:
// systemd-unit.test.ts); here one of each kind goes through the CLI,
// the path every other refusal takes too (src/cli.ts main: a ConfigError becomes that line and exit 2).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli, writeConfig } from '../../support/cli.js';
import { tempDir } from '../helpers/files.js';

const wodle = (inner: string, wodleExtra = '') =>
  `<ossec_config>\n  <global><logall>no</logall></global>\n</ossec_config>\n<ossec_config>\n  <wodle name="aws-s3">\n    <disabled>no</disabled>\n${wodleExtra}\n${inner}\n  </wodle>\n</ossec_config>\n`;

function configFile(text: string): { dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, 'ossec.conf');
  writeFileSync(file, text);
  return { dir, file };
}

describe('a configuration --check-config refuses', () => {
  const refused: Array<[label: string, conf: string, starts: (file: string) => string, says: string]> = [
    ['a bad value', wodle('    <bucket type="guardduty"><name>b</name></bucket>', '<interval>10x</interval>'), (file) => `${file}:7: `, '<interval>'],
    ['a type Wazuh does not know', wodle('    <bucket type="guardduty"><name>gd</name></bucket>\n    <bucket type="s3"><name>b</name></bucket>'), (file) => `${file}:9: `, 'type="s3"'],
    ['malformed XML', wodle('    <bucket type="guardduty"><name>b</pth></bucket>'), (file) => `${file}:8: malformed XML: `, 'does not match <name>'],
    ['a discard_regex RE2 cannot run', wodle('    <bucket type="guardduty"><name>b</name>\n      <discard_regex field="title">Recon(?=:EC2)</discard_regex></bucket>'), (file) => `${file}:9: <discard_regex> "Recon(?=:EC2)" `, 'lookahead'],
  ];
  for (const [label, conf, starts, says] of refused) {
    test(`${label}: exit 2, nothing on stdout, one line naming file and line`, async () => {
      const { dir, file } = configFile(conf);
      const result = await runCli(['--check-config', '--config', file, '--state', join(dir, 'state.db')]);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.equal(result.stdout, '');
      const message = result.stderr.trim();
      assert.equal(message.split('\n').length, 1, message);
      assert.ok(message.startsWith(`guardduty-wodle: ${starts(file)}`), message);
      assert.ok(message.includes(says), message);
    });
  }
});

describe('a collecting run', () => {
  test('a configuration error stops it with exit 2 before any output is written', async () => {
    const { dir, file } = configFile(wodle('    <bucket type="guardduty"><name>b</name></bucket>', '<interval>soon</interval>'));
    const result = await runCli(['--config', file, '--once', '--state', join(dir, 'state.db'), '--output', 'stdout']);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
  });

  test('usage errors exit 2 naming the flag or value', async () => {
    const cases: Array<[args: string[], names: string]> = [
      [['--bogus'], '--bogus'],
      [['--log-level', 'loud'], 'loud'],
      [['--output', 'carrier-pigeon', '--once'], 'carrier-pigeon'],
      [['--concurrency', '0'], '0'],
      [['--max-empty-passes=0', '--once'], '--max-empty-passes 0: use a whole number from 1'],
      [['--rescan-since', '2026-02-30', '--once'], '--rescan-since 2026-02-30: use a day as YYYY-MM-DD'],
    ];
    for (const [args, names] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.ok(result.stderr.startsWith('guardduty-wodle: ') && result.stderr.includes(names), result.stderr);
    }
  });

  test('exit 2, which the systemd unit does not restart (RestartPreventExitStatus): an unknown flag, a configuration that cannot be read, a state that is not a database', async () => {
    // Nothing is read: the endpoint is closed anyway.
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-restart', endpoint: 'http://127.0.0.1:9' }]);
    const corrupt = join(dir, 'state.db');
    writeFileSync(corrupt, 'not a database\n'.repeat(400));
    const exits = await Promise.all([
      runCli(['--no-such-flag']),
      runCli(['--check-config', '--config', join(dir, 'missing.conf')]),
      runCli(['--once', '--config', config, '--state', corrupt, '--output', 'stdout']),
    ]);
    for (const exit of exits) assert.equal(exit.code, 2, exit.stderr);
  });

  test('--help prints the usage on stdout, exit 0', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: guardduty-wodle /);
    assert.match(help.stdout, /--max-empty-passes N/);
  });
});
