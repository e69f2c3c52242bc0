// The Dockerfile, checked for what it promises: its stages, the runtime's user, volumes, port and
// entrypoint, and image defaults the CLI's own parser accepts. Its HEALTHCHECK run for real:
// process/docker-healthcheck.test.ts; the entrypoint script run with sh: process/docker-entrypoint.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, test } from 'node:test';
import { MEMORY_FLAGS, parseCli } from '../src/cli.js';
import { WAZUH_QUEUE } from '../src/emit/wazuh.js';
import { CLI, ROOT } from '../support/paths.js';
import {
  ENTRYPOINT_FILE,
  IMAGE_CONFIG,
  IMAGE_DEFAULTS,
  IMAGE_STATE,
  PORT_VARIABLE,
  SOCKET_DIR,
  dockerStages,
  environment,
  execForm,
  lastOf,
  runtime,
  volumes,
} from './helpers/packaging.js';

describe('Dockerfile', () => {
  test('.dockerignore keeps host builds, CI runtimes and state out of the build context, and not the entrypoint', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules/', 'dist/', '.node24/', '.ci-node24/', '*.db', '.git/']) assert.ok(ignored.includes(entry), `${entry} is ignored`);
    assert.ok(!ignored.some((l) => /^\/?config\b/.test(l)), 'config/ (the entrypoint script) is in the build context');
  });

  test('two stages, both on node:24-bookworm-slim; the runtime copies from the named build stage', () => {
    assert.equal(dockerStages.length, 2);
    for (const stage of dockerStages) assert.match(stage.from, /^node:24-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    const build = dockerStages[0]!;
    assert.ok(build.name, 'the build stage is named (FROM … AS name)');
    const copied = runtime.body.filter((i) => i.op === 'COPY' && i.args.includes(`--from=${build.name}`)).map((i) => i.args);
    for (const path of ['/app/dist', '/app/node_modules', '/app/package.json']) {
      assert.ok(copied.some((c) => c.split(/\s+/).includes(path)), `the runtime copies ${path} from the build stage`);
    }
    assert.ok(!runtime.body.some((i) => i.op === 'RUN' && /\bnpm (ci|install)\b/.test(i.args)), 'nothing is installed in the runtime stage');
  });

  test('the build stage installs python3, make and g++, then npm ci, npm run build, npm prune --omit=dev', () => {
    const run = dockerStages[0]!.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    const install = /apt-get install[^\n&;]*/.exec(run)?.[0] ?? '';
    for (const tool of ['python3', 'make', 'g++']) assert.ok(install.split(/\s+/).includes(tool), `apt-get install … ${tool}`);
    const steps = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((step) => run.indexOf(step));
    assert.ok(steps.every((at) => at >= 0), run);
    assert.deepEqual([...steps].sort((a, b) => a - b), steps, 'in that order');
  });

  test('runs as a non-root user with a fixed uid and gid', () => {
    const user = lastOf(runtime.body, 'USER')?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    const args = new Map(
      runtime.body
        .filter((i) => i.op === 'ARG')
        .map((i) => i.args.split('=') as [string, string?])
        .map(([name, value]) => [name, value]),
    );
    for (const name of ['WAZUH_UID', 'WAZUH_GID']) assert.match(args.get(name) ?? '', /^[1-9]\d*$/, `ARG ${name} has a numeric default`);
    const run = runtime.body.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    assert.match(run, new RegExp(`useradd\\b[^\\n]*--uid "?\\$\\{?WAZUH_UID\\}?"?[^\\n]*\\b${user}\\b`), 'the user is created with that uid');
    assert.match(run, /groupadd\b[^\n]*--gid "?\$\{?WAZUH_GID\}?"?/, 'its group with that gid');
  });

  test('declares the state and queue socket volumes, exposes the metrics port, and starts the entrypoint script with sh, which starts the built executable', () => {
    const declared = volumes(runtime.body);
    assert.ok(declared.includes('/var/lib/guardduty-wodle'), declared.join(' '));
    assert.ok(declared.includes(SOCKET_DIR), declared.join(' '));
    assert.ok((lastOf(runtime.body, 'EXPOSE')?.args.split(/\s+/) ?? []).some((p) => p.replace(/\/tcp$/, '') === '9464'));
    const workdir = lastOf(runtime.body, 'WORKDIR')?.args;
    assert.equal(workdir, '/app');
    const entrypoint = execForm(lastOf(runtime.body, 'ENTRYPOINT'), 'ENTRYPOINT');
    assert.equal(entrypoint.length, 2);
    assert.equal(entrypoint[0], '/bin/sh', 'run with sh: the script needs no executable bit');
    // The script in the image is this repository's, at the same place relative to dist/.
    const script = entrypoint[1]!;
    const copy = runtime.body
      .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
      .map((i) => i.args.split(/\s+/).filter((w) => !w.startsWith('--')))
      .find(([source]) => source === relative(ROOT, ENTRYPOINT_FILE));
    assert.ok(copy, `the runtime copies ${relative(ROOT, ENTRYPOINT_FILE)} from the build context`);
    assert.equal(posix.resolve(workdir, copy[1]!), script, 'to the path ENTRYPOINT runs');
    assert.equal(posix.resolve(posix.dirname(script), '../dist/src/cli.js'), '/app/dist/src/cli.js', 'the script starts ../dist/src/cli.js');
    assert.match(readFileSync(ENTRYPOINT_FILE, 'utf8'), /^cli="\$\(dirname -- "\$0"\)\/\.\.\/dist\/src\/cli\.js"$/m);
    assert.match(readFileSync(ENTRYPOINT_FILE, 'utf8'), /^exec "\$cli" "\$@"$/m, 'and replaces itself with it');
    // The same file as npm run build leaves it: executable, with the shebang that starts node.
    assert.ok(statSync(CLI).mode & 0o111, `${CLI} is executable`);
    // The shebang gives node the memory flags the collector checks for (MEMORY_FLAGS).
    assert.equal(readFileSync(CLI, 'utf8').split('\n')[0]!, `#!/usr/bin/env -S node ${MEMORY_FLAGS.join(' ')}`);
    // The defaults are the script's: a CMD holding any would be replaced by the operator's arguments.
    assert.deepEqual(execForm(lastOf(runtime.body, 'CMD'), 'CMD'), []);
  });

  test('the image defaults are accepted by parseCli, point into the declared volumes, and listen on all interfaces on the exposed port', () => {
    const options = parseCli(IMAGE_DEFAULTS);
    const declared = volumes(runtime.body);
    assert.equal(options.config, IMAGE_CONFIG);
    assert.equal(options.state, IMAGE_STATE);
    assert.ok(declared.includes(posix.dirname(options.state)), 'the state directory is a volume');
    assert.deepEqual(options.outputs, [{ kind: 'wazuh', path: WAZUH_QUEUE }]);
    assert.ok(declared.includes(posix.dirname(WAZUH_QUEUE)), 'the queue socket directory is a volume');
    assert.equal(options.metricsHost, '0.0.0.0', 'reachable from outside the container');
    assert.equal(options.metricsPort, 9464);
    assert.equal(environment(runtime.body).get(PORT_VARIABLE), '9464', `ENV ${PORT_VARIABLE}=9464, the port the entrypoint and the health check use`);
    assert.ok((lastOf(runtime.body, 'EXPOSE')?.args.split(/\s+/) ?? []).includes(environment(runtime.body).get(PORT_VARIABLE)!));
  });
});
