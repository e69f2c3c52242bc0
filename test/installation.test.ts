// Which Wazuh installation gives the defaults (issue 23): found on temporary trees laid out as a 4.x
// manager, a 5.x agent, a 5.x manager, an agent and a manager on one host; and the CLI on a 5.x
// manager's home delivering to a stand-in engine at its default socket.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { parseCli } from '../src/cli-options.js';
import { findInstallation, installationDefaults } from '../src/installation.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { runCli } from '../support/cli.js';
import { EngineStandIn } from '../support/engine.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../support/findings.js';
import { useFakeS3 } from '../support/s3.js';

const fake = useFakeS3();

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

describe('the CLI on a Wazuh 5.x manager\'s home', () => {
  /** A manager home: its <wazuh_config> with the aws-s3 block a 5.x manager ignores, and its socket folder. */
  function managerHome(bucket: string): string {
    const home = tempDir();
    mkdirSync(join(home, 'etc'));
    mkdirSync(join(home, 'queue/sockets'), { recursive: true });
    writeFileSync(
      join(home, 'etc/wazuh-manager.conf'),
      `<wazuh_config>\n  <global><jsonout_output>yes</jsonout_output></global>\n</wazuh_config>\n<wazuh_config>\n  <wodle name="aws-s3">\n    <disabled>no</disabled>\n    <bucket type="guardduty">\n      <name>${bucket}</name>\n      <service_endpoint>${fake.s3.endpoint}</service_endpoint>\n    </bucket>\n  </wodle>\n</wazuh_config>\n`,
    );
    return home;
  }

  test('with only --wazuh-home, its wazuh-manager.conf is read and the events go to its engine; the start line says why', async () => {
    const bucket = 'gd-manager-home';
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey('606060606060', 'eu-west-1', today()), jsonlGz([makeFinding('606060606060', 'eu-west-1', 'to-engine')]));
    const home = managerHome(bucket);
    const engine = await EngineStandIn.start(join(home, 'queue/sockets/queue-http.sock'));
    try {
      const result = await runCli(['--wazuh-home', home, '--once', '--engine-agent-name', 'gd-test']);
      assert.equal(result.code, 0, result.stderr);
      const start = result.logs.find((l) => String(l['msg']).includes('started for one pass'))!;
      assert.deepEqual(start['installation'], { home, kind: 'manager', why: `--wazuh-home ${home}: a Wazuh 5.x manager (etc/wazuh-manager.conf)` });
      assert.deepEqual(start['outputs'], [`wazuh-engine:${home}/queue/sockets/queue-http.sock`]);
      assert.equal(start['config'], join(home, 'etc/wazuh-manager.conf'));
      assert.deepEqual(engine.batches.map((b) => b.header), [{ wazuh: { agent: { id: '000', name: 'gd-test' } } }]);
      assert.deepEqual(eventsFromLines(engine.events().map((e) => e.slice('1:Wazuh-AWS:'.length)).join('\n')).map((e) => e['aws'].id), ['to-engine']);
      assert.ok(readFileSync(join(home, 'var/guardduty-wodle/state.db')).length > 0, 'the state is in the home');
      const status = await runCli(['status', '--wazuh-home', home, '--json']);
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual((JSON.parse(status.stdout) as { buckets: Array<{ bucket: string; done: number }> }).buckets.map((b) => [b.bucket, b.done]), [[bucket, 1]], 'the commands take the same home');
    } finally {
      await engine.stop();
    }
  });

  test('--output wazuh there: one line saying a Wazuh 5 manager has no analysisd queue, naming both ways out', async () => {
    const bucket = 'gd-manager-queue';
    fake.s3.createBucket(bucket);
    await fake.s3.put(bucket, nativeKey('606060606060', 'eu-west-1', today()), jsonlGz([makeFinding('606060606060', 'eu-west-1', 'nowhere')]));
    const home = managerHome(bucket);
    const result = await runCli(['--wazuh-home', home, '--once', '--output', 'wazuh']);
    assert.equal(result.code, 1, result.stderr);
    const line = result.logs.find((l) => String(l['msg']).includes('has no analysisd queue'));
    assert.ok(line, result.stderr);
    assert.match(
      String(line['msg']),
      new RegExp(`${home} is a Wazuh 5 manager, which has no analysisd queue: send to its engine with --output wazuh-engine, or through a Wazuh agent on this host \\(--output wazuh:/var/ossec/queue/sockets/queue\\)`),
    );
    const check = await runCli(['--wazuh-home', home, '--check-config', '--output', 'wazuh', '--output', 'wazuh-engine']);
    assert.equal(check.code, 0, check.stderr);
    const report = JSON.parse(check.stdout) as { installation: { kind: string }; warnings: string[] };
    assert.equal(report.installation.kind, 'manager');
    assert.ok(report.warnings.some((w) => w.includes('has no analysisd queue')), report.warnings.join('\n'));
    assert.ok(report.warnings.some((w) => w.includes('--output wazuh-engine:') && w.includes('does not exist (is the Wazuh 5 manager')), report.warnings.join('\n'));
  });
});
