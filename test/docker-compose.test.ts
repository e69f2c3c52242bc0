// config/docker-compose.yml, checked for what it promises: a Wazuh manager and guardduty-wodle built
// from this repository sharing the queue socket volume, the configuration and state where the image
// defaults expect them, the image's health check, and the metrics port its variable names.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parseCli } from '../src/cli.js';
import {
  COMPOSE_FILE,
  DRAIN_GRACE_SECONDS,
  HEALTHCHECK,
  IMAGE_DEFAULTS,
  PORT_VARIABLE,
  SOCKET_DIR,
  environment,
  parseYamlTree,
  runtime,
  timespan,
  yamlChild,
  yamlItems,
  yamlKey,
  yamlValue,
  type YamlNode,
} from './helpers/packaging.js';

describe('config/docker-compose.yml', () => {
  const tree = parseYamlTree(readFileSync(COMPOSE_FILE, 'utf8'));
  const services = yamlChild(tree, 'services');
  const declaredVolumes = (yamlChild(tree, 'volumes')?.children ?? []).map(yamlKey);
  const all = services?.children ?? [];
  const manager = all.find((s) => /^wazuh\/wazuh-manager:/.test(yamlValue(yamlChild(s, 'image')) ?? ''));
  const sidecar = all.find((s) => yamlChild(s, 'build') !== undefined);

  /** `source:target[:mode]` entries of a service's volumes. */
  function mounts(service: YamlNode | undefined): Array<{ source: string; target: string; mode: string | undefined }> {
    return yamlItems(yamlChild(service!, 'volumes')).map((entry) => {
      const [source, target, mode] = entry.split(':') as [string, string, string?];
      return { source, target, mode };
    });
  }

  test('a Wazuh manager 4.x service and a guardduty-wodle service built from this repository', () => {
    assert.ok(manager, 'a service on wazuh/wazuh-manager');
    assert.match(yamlValue(yamlChild(manager, 'image'))!, /^wazuh\/wazuh-manager:4\.\d+\.\d+$/);
    assert.ok(sidecar, 'a service with build:');
    const context = yamlValue(yamlChild(yamlChild(sidecar, 'build')!, 'context'))!;
    assert.ok(existsSync(join(resolve(dirname(COMPOSE_FILE), context), 'Dockerfile')), `build context ${context} holds the Dockerfile`);
    const dependsOn = yamlItems(yamlChild(sidecar, 'depends_on'));
    assert.ok(dependsOn.includes(yamlKey(manager)), 'guardduty-wodle starts after the manager');
    const buildArgs = (yamlChild(yamlChild(sidecar, 'build')!, 'args')?.children ?? []).map(yamlKey);
    const declaredArgs = runtime.body.filter((i) => i.op === 'ARG').map((i) => i.args.split('=')[0]);
    for (const arg of buildArgs) assert.ok(declaredArgs.includes(arg), `build arg ${arg} is an ARG of the Dockerfile`);
  });

  test('both services mount one named volume at the Wazuh queue socket directory', () => {
    const shared = [manager, sidecar].map((s) => mounts(s).find((m) => m.target === SOCKET_DIR)?.source);
    assert.ok(shared[0] && shared[0] === shared[1], `the same source in both: ${shared.join(', ')}`);
    assert.ok(!/^[./~$]/.test(shared[0]), 'a named volume, not a host path');
    assert.ok(declaredVolumes.includes(shared[0]), `${shared[0]} is declared under volumes:`);
  });

  test('guardduty-wodle mounts its configuration read-only and its state on a named volume, where the image defaults expect them', () => {
    const options = parseCli(IMAGE_DEFAULTS);
    const config = mounts(sidecar).find((m) => m.target === options.config);
    assert.ok(config, `a mount at ${options.config}`);
    assert.equal(config.mode, 'ro');
    assert.ok(existsSync(resolve(dirname(COMPOSE_FILE), config.source)), `${config.source} exists beside the compose file`);
    const state = mounts(sidecar).find((m) => m.target === posix.dirname(options.state));
    assert.ok(state && declaredVolumes.includes(state.source), 'the state directory is a declared named volume');
  });

  test('restarts unless stopped, stops with room for the drain, uses the image health check, and takes AWS credentials from outside', () => {
    assert.equal(yamlValue(yamlChild(sidecar!, 'restart')), 'unless-stopped');
    assert.ok(timespan(yamlValue(yamlChild(sidecar!, 'stop_grace_period')) ?? '0') > DRAIN_GRACE_SECONDS);
    const check = JSON.parse(yamlValue(yamlChild(yamlChild(sidecar!, 'healthcheck')!, 'test'))!) as string[];
    assert.deepEqual(check, ['CMD', ...HEALTHCHECK.command], 'the same check as the Dockerfile HEALTHCHECK');
    const environment = yamlItems(yamlChild(sidecar!, 'environment'));
    for (const name of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) assert.ok(environment.includes(name), `${name} passed through`);
  });

  test(`publishes, on loopback, the metrics port ${PORT_VARIABLE} names, which it passes to the container; a command: only adds flags`, () => {
    assert.ok(yamlItems(yamlChild(sidecar!, 'environment')).includes(PORT_VARIABLE), `${PORT_VARIABLE} passed through`);
    const published = yamlItems(yamlChild(sidecar!, 'ports'));
    assert.equal(published.length, 1, published.join(' '));
    // Unset, the container keeps the image's ENV (9464); set, the collector and its health check use it.
    for (const [shell, container] of [[{}, environment(runtime.body).get(PORT_VARIABLE)!], [{ [PORT_VARIABLE]: '9500' }, '9500']] as const) {
      const [host, hostPort, containerPort, ...rest] = composeInterpolate(published[0]!, shell).split(':');
      assert.deepEqual([host, hostPort, containerPort, rest], ['127.0.0.1', container, container, []], `with ${JSON.stringify(shell)}: ${published[0]}`);
    }
    const command = yamlChild(sidecar!, 'command');
    if (command !== undefined) {
      const extra = JSON.parse(yamlValue(command)!) as string[];
      assert.ok(!extra.some((arg) => arg.startsWith('--metrics-port')), 'the port is the variable, not a flag');
      assert.doesNotThrow(() => parseCli([...IMAGE_DEFAULTS, ...extra]));
    }
  });
});

/** Compose's interpolation of ${NAME}, ${NAME:-default} and ${NAME-default} from the shell's environment. */
function composeInterpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (_all, name: string, op: string | undefined, fallback: string | undefined) => {
    const value = env[name];
    if (op === ':-') return value === undefined || value === '' ? fallback! : value;
    if (op === '-') return value ?? fallback!;
    return value ?? '';
  });
}
