// config/guardduty-wodle.service and its drop-in for a Wazuh 5.x manager, checked for what they promise,
// not for their wording: hardening, paths, the restart policy, and that every command line they hold is
// one the CLI's own parser accepts. What systemd itself says of them (systemd-analyze verify and
// security): process/systemd-analyze.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT_USAGE, parseCli } from '../src/cli.js';
import { loadConfig } from '../src/config/load.js';
import { WAZUH_QUEUE } from '../src/emit/wazuh.js';
import { ROOT } from '../support/paths.js';
import {
  DRAIN_GRACE_SECONDS,
  METRICS_FLAGS,
  SOCKET_DIR,
  TRUE,
  UNIT_FILE,
  covers,
  execLine,
  flagValue,
  list,
  parseUnit,
  section,
  single,
  timespan,
  withoutFlags,
} from './helpers/packaging.js';

describe('config/guardduty-wodle.service', () => {
  const text = readFileSync(UNIT_FILE, 'utf8');
  const unit = parseUnit(text);
  const service = section(unit, 'Service');
  const execStart = single(service, 'ExecStart');

  test('parses as Unit, Service and Install sections, with one ExecStart', () => {
    assert.deepEqual([...unit.sections.keys()], ['Unit', 'Service', 'Install']);
    assert.equal(service.filter((a) => a.key === 'ExecStart').length, 1);
    assert.ok(execStart);
    assert.match(single(section(unit, 'Install'), 'WantedBy') ?? '', /\bmulti-user\.target\b/);
    const after = list(section(unit, 'Unit'), 'After') ?? [];
    assert.ok(after.includes('network-online.target') && after.includes('wazuh-manager.service'), `After=${after.join(' ')}`);
  });

  test('runs the installed executable as wazuh, with its own configuration, the state under /var/ossec and the Wazuh queue', () => {
    assert.equal(single(service, 'User'), 'wazuh');
    assert.equal(single(service, 'Group'), 'wazuh');
    const { exe, args } = execLine(execStart!);
    assert.equal(exe, '/usr/local/bin/guardduty-wodle');
    const options = parseCli(args);
    assert.equal(options.config, '/etc/guardduty-wodle/ossec.conf', 'a configuration of its own, not the manager ossec.conf');
    assert.equal(options.state, '/var/ossec/var/guardduty-wodle/state.db');
    assert.deepEqual(options.outputs, [{ kind: 'wazuh', path: WAZUH_QUEUE }]);
    assert.equal(options.once, false, 'a daemon');
    assert.equal(options.checkConfig, false);
  });

  test('restarts on failure, reloads with SIGHUP, and stops with SIGTERM leaving room for the drain', () => {
    assert.equal(single(service, 'Restart'), 'on-failure');
    assert.equal(single(service, 'ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(single(service, 'KillSignal'), 'SIGTERM');
    const stop = timespan(single(service, 'TimeoutStopSec') ?? 'missing');
    assert.ok(stop > DRAIN_GRACE_SECONDS && Number.isFinite(stop), `TimeoutStopSec ${stop} s must exceed the ${DRAIN_GRACE_SECONDS} s drain grace`);
  });

  test('is not restarted after exit 2, the status of a usage or configuration error, and is after exit 1', () => {
    assert.equal(EXIT_USAGE, 2);
    const prevent = list(service, 'RestartPreventExitStatus') ?? [];
    assert.ok(prevent.includes(String(EXIT_USAGE)), `RestartPreventExitStatus=${prevent.join(' ')} holds ${EXIT_USAGE}`);
    assert.ok(!prevent.includes('1'), 'exit 1 (a failed bucket or output) is restarted: what was not delivered is read again');
    assert.equal(single(service, 'Restart'), 'on-failure', 'exit 1 is a failure to Restart=on-failure');
    // That the CLI returns 2 for those: process/command-line-errors.test.ts.
  });

  test('has every hardening directive with its value', () => {
    const booleans = [
      'NoNewPrivileges',
      'PrivateTmp',
      'ProtectHome',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectControlGroups',
      'LockPersonality',
      'RestrictRealtime',
      'RestrictSUIDSGID',
    ];
    for (const key of booleans) assert.ok(TRUE.has(single(service, key) ?? ''), `${key}=yes (got ${single(service, key)})`);
    assert.equal(single(service, 'ProtectSystem'), 'strict');
    assert.equal(single(service, 'SystemCallArchitectures'), 'native');
    assert.equal(Number.parseInt(single(service, 'UMask') ?? 'x', 8), 0o077);
    assert.deepEqual(list(service, 'CapabilityBoundingSet'), [], 'CapabilityBoundingSet= empty: no capabilities at all');
    const families = list(service, 'RestrictAddressFamilies') ?? [];
    assert.deepEqual([...families].sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX'], 'an allow list of exactly these families');
    // V8's JIT writes and executes the same pages: MemoryDenyWriteExecute=yes would kill node at start.
    assert.ok(!TRUE.has(single(service, 'MemoryDenyWriteExecute') ?? 'no'), 'no MemoryDenyWriteExecute');
    // StateDirectory= only makes directories under /var/lib; the state lives under /var/ossec.
    assert.equal(single(service, 'StateDirectory'), undefined);
  });

  test('ReadWritePaths covers the state directory, the queue socket directory and every output, and not the configuration', () => {
    const paths = (list(service, 'ReadWritePaths') ?? []).map((p) => p.replace(/^[-+]+/, ''));
    assert.ok(paths.length > 0 && paths.every((p) => posix.isAbsolute(p)), `ReadWritePaths=${paths.join(' ')}`);
    const options = parseCli(execLine(execStart!).args);
    assert.ok(covers(paths, posix.dirname(options.state)), `${posix.dirname(options.state)} (the --state directory) is writable`);
    assert.ok(covers(paths, SOCKET_DIR), `${SOCKET_DIR} is writable`);
    for (const output of options.outputs) {
      if (output.kind !== 'stdout') assert.ok(covers(paths, posix.dirname(output.path)), `output ${output.kind}:${output.path} is reachable`);
    }
    assert.ok(!covers(paths, options.config), 'the service cannot rewrite its own configuration');
  });

  test('the commented ExecStart with metrics is the same command plus --metrics-port, on loopback, and parseCli accepts it', () => {
    const commented = unit.comments.filter((c) => /^ExecStart=/.test(c) && c.includes('--metrics-port'));
    assert.equal(commented.length, 1, 'one commented ExecStart showing --metrics-port');
    const variant = execLine(commented[0]!.slice('ExecStart='.length));
    const active = execLine(execStart!);
    assert.equal(variant.exe, active.exe);
    assert.deepEqual(withoutFlags(variant.args, METRICS_FLAGS), active.args);
    assert.equal(flagValue(variant.args, '--metrics-port'), '9464');
    assert.equal(flagValue(variant.args, '--metrics-host'), undefined, 'metrics stay on loopback (the default)');
    // Needs the --metrics-port flag in src/cli-options.ts.
    assert.doesNotThrow(() => parseCli(variant.args));
  });
});

describe('config/guardduty-wodle-wazuh5.conf (the drop-in for a Wazuh 5.x manager)', () => {
  const dropIn = readFileSync(join(ROOT, 'config', 'guardduty-wodle-wazuh5.conf'), 'utf8');
  const service = section(parseUnit(dropIn), 'Service');

  test('runs as wazuh-manager (the engine socket\'s group), sends to the engine, the state under the manager\'s home', () => {
    assert.deepEqual([single(service, 'User'), single(service, 'Group')], ['wazuh-manager', 'wazuh-manager']);
    const starts = service.filter((a) => a.key === 'ExecStart').map((a) => a.value);
    assert.equal(starts[0], '', 'the unit\'s ExecStart is reset first');
    const { exe, args } = execLine(starts[1]!);
    assert.equal(exe, '/usr/local/bin/guardduty-wodle');
    const options = parseCli(args);
    assert.equal(options.config, '/etc/guardduty-wodle/wazuh-manager.conf');
    assert.equal(options.state, '/var/wazuh-manager/var/guardduty-wodle/state.db');
    assert.deepEqual(options.outputs, [{ kind: 'wazuh-engine', path: '/var/wazuh-manager/queue/sockets/queue-http.sock' }]);
    const paths = service.filter((a) => a.key === 'ReadWritePaths').map((a) => a.value);
    assert.deepEqual(paths, ['', '/var/wazuh-manager/var/guardduty-wodle /var/wazuh-manager/queue/sockets']);
  });

  test('config/wazuh-manager.conf, the sample it reads, is a <wazuh_config> the collector parses', () => {
    const config = loadConfig(join(ROOT, 'config', 'wazuh-manager.conf'));
    assert.deepEqual(config.wodles.flatMap((w) => w.buckets.map((b) => b.name)), ['my-guardduty-exports']);
  });
});

describe('npm install -g --prefix /usr/local', () => {
  test('the unit and the README agree with where npm install -g --prefix /usr/local puts the package', async () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));
    // npm's global layout under a prefix: lib/node_modules/<name>, bin/<bin name>.
    assert.equal(single(section(unit, 'Unit'), 'Documentation'), `file:/usr/local/lib/node_modules/${manifest.name}/README.md`);
    assert.equal(execLine(single(section(unit, 'Service'), 'ExecStart')!).exe, `/usr/local/bin/${manifest.name}`);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const tarball = `${manifest.name}-${manifest.version}.tgz`;
    assert.ok(readme.includes(`npm install -g --prefix /usr/local ./${tarball}`), `README installs ./${tarball}`);
  });
});
