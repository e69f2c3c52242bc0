// Which Wazuh installation gives the defaults (issue 23): found on temporary trees laid out as a 4.x
// manager, a 5.x agent, a 5.x manager, an agent and a manager on one host. The CLI on a 5.x manager's
// home, delivering to a stand-in engine at its default socket: process/installation-cli.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { parseCli } from '../src/cli-options.js';
import { findInstallation, installationDefaults } from '../src/installation.js';
import { tempDir } from './helpers/files.js';

/** A file system root with these files (empty unless given), as a Wazuh package would leave them. */
function tree(files: Record<string, string>): string {
  const root = tempDir();
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const MANAGER_4 = { 'var/ossec/etc/ossec.conf': '', 'var/ossec/bin/wazuh-analysisd': '' };
const AGENT_5 = { 'var/ossec/etc/ossec.conf': '', 'var/ossec/bin/wazuh-agentd': '' };
const MANAGER_5 = { 'var/wazuh-manager/etc/wazuh-manager.conf': '' };

describe('finding the Wazuh installation', () => {
  test('a 4.x manager: /var/ossec, the analysisd queue, Wazuh\'s database', () => {
    const found = findInstallation(null, tree(MANAGER_4));
    assert.deepEqual([found.home, found.kind], ['/var/ossec', 'ossec']);
    assert.equal(found.why, '/var/ossec/etc/ossec.conf exists: a Wazuh 4.x manager');
    assert.deepEqual(installationDefaults(found), {
      config: '/var/ossec/etc/ossec.conf',
      state: '/var/ossec/var/guardduty-wodle/state.db',
      output: 'wazuh',
      queue: '/var/ossec/queue/sockets/queue',
      engineSocket: '/var/wazuh-manager/queue/sockets/queue-http.sock',
      wazuhDb: '/var/ossec/wodles/aws/s3_cloudtrail.db',
    });
  });

  test('a 5.x agent: /var/ossec too, the agent\'s queue', () => {
    const found = findInstallation(null, tree(AGENT_5));
    assert.deepEqual([found.home, found.kind, found.why], ['/var/ossec', 'ossec', '/var/ossec/etc/ossec.conf exists: a Wazuh agent']);
    assert.equal(installationDefaults(found).output, 'wazuh');
  });

  test('a 5.x manager: /var/wazuh-manager, its configuration and its engine', () => {
    const found = findInstallation(null, tree(MANAGER_5));
    assert.deepEqual([found.home, found.kind], ['/var/wazuh-manager', 'manager']);
    assert.match(found.why, /^\/var\/wazuh-manager\/etc\/wazuh-manager\.conf exists \(and no \/var\/ossec\/etc\/ossec\.conf\): a Wazuh 5\.x manager$/);
    assert.deepEqual(installationDefaults(found), {
      config: '/var/wazuh-manager/etc/wazuh-manager.conf',
      state: '/var/wazuh-manager/var/guardduty-wodle/state.db',
      output: 'wazuh-engine',
      queue: '/var/wazuh-manager/queue/sockets/queue',
      engineSocket: '/var/wazuh-manager/queue/sockets/queue-http.sock',
      wazuhDb: '/var/wazuh-manager/wodles/aws/s3_cloudtrail.db',
    });
  });

  test('an agent and a 5.x manager on one host: the agent\'s queue, and the start line says how to choose the engine', () => {
    const found = findInstallation(null, tree({ ...AGENT_5, ...MANAGER_5 }));
    assert.deepEqual([found.home, found.kind], ['/var/ossec', 'ossec']);
    assert.match(found.why, /a Wazuh 5\.x manager is installed too \(\/var\/wazuh-manager\): --wazuh-home \/var\/wazuh-manager sends to its engine instead/);
  });

  test('nothing installed: the /var/ossec paths, as before', () => {
    const found = findInstallation(null, tree({}));
    assert.deepEqual([found.home, found.kind], ['/var/ossec', 'none']);
    assert.deepEqual([installationDefaults(found).config, installationDefaults(found).output], ['/var/ossec/etc/ossec.conf', 'wazuh']);
  });

  test('--wazuh-home names it; explicit flags win over every default', () => {
    const root = tree({ ...AGENT_5, ...MANAGER_5 });
    const named = findInstallation('/var/wazuh-manager', root);
    assert.deepEqual([named.kind, named.named, named.why], ['manager', true, '--wazuh-home /var/wazuh-manager: a Wazuh 5.x manager (etc/wazuh-manager.conf)']);
    const options = parseCli(['--wazuh-home', '/var/wazuh-manager'], (home) => findInstallation(home, root));
    assert.deepEqual([options.config, options.state, options.outputs], [
      '/var/wazuh-manager/etc/wazuh-manager.conf',
      '/var/wazuh-manager/var/guardduty-wodle/state.db',
      [{ kind: 'wazuh-engine', path: '/var/wazuh-manager/queue/sockets/queue-http.sock' }],
    ]);
    const explicit = parseCli(['--wazuh-home', '/var/wazuh-manager', '--config', '/etc/gd.conf', '--state', '/srv/s.db', '--output', 'wazuh'], (home) => findInstallation(home, root));
    assert.deepEqual([explicit.config, explicit.state, explicit.outputs], ['/etc/gd.conf', '/srv/s.db', [{ kind: 'wazuh', path: '/var/wazuh-manager/queue/sockets/queue' }]]);
    const found = parseCli([], (home) => findInstallation(home, root));
    assert.deepEqual(found.outputs, [{ kind: 'wazuh', path: '/var/ossec/queue/sockets/queue' }]);
    assert.deepEqual(parseCli(['--output', 'wazuh-engine'], (home) => findInstallation(home, root)).outputs, [
      { kind: 'wazuh-engine', path: '/var/wazuh-manager/queue/sockets/queue-http.sock' },
    ]);
  });

  test('the engine agent: digits only, 000 and the host name by default', () => {
    const options = parseCli(['--engine-agent-id', '042', '--engine-agent-name', 'gd'], () => findInstallation(null, tree({})));
    assert.deepEqual(options.engineAgent, { id: '042', name: 'gd' });
    assert.equal(parseCli([], () => findInstallation(null, tree({}))).engineAgent.id, '000');
    assert.throws(() => parseCli(['--engine-agent-id', '12a'], () => findInstallation(null, tree({}))), /--engine-agent-id 12a: use ASCII digits/);
  });
});
