// The CLI on a Wazuh 5.x manager's home (issue 23): with only --wazuh-home it reads the manager's
// configuration, keeps its state there and delivers to a stand-in engine at the home's default socket,
// and the commands take the same home; --output wazuh there is refused in one line naming both ways
// out. Which installation gives which defaults: installation.test.ts (in this process).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runCli } from '../../support/cli.js';
import { EngineStandIn } from '../../support/engine.js';
import { jsonlGz, makeFinding, nativeKey, today } from '../../support/findings.js';
import { useFakeS3 } from '../../support/s3.js';
import { eventsFromLines, tempDir } from '../helpers/files.js';

const fake = useFakeS3();

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
