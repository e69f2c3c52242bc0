// The image's entrypoint script (config/docker-entrypoint.sh), run with sh against the built CLI as
// the image runs it: the image defaults it adds, what the operator's arguments replace, the metrics
// port variable, the subcommands, and a daemon started through it (/health, SIGTERM reaching it).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { EXIT_USAGE, parseCli } from '../../src/cli.js';
import { COMMANDS } from '../../src/commands/index.js';
import { FAKE_AWS_ENV, writeConfig } from '../../support/cli.js';
import { CLI } from '../../support/paths.js';
import { tempDir } from '../helpers/files.js';
import { ENTRYPOINT_FILE, IMAGE_CONFIG, IMAGE_DEFAULTS, IMAGE_STATE, PORT_VARIABLE, SAMPLE_CONFIG, withoutFlags } from '../helpers/packaging.js';
import { freePort, healthcheck, start, type Finished, type Started } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/** Loaded by node before the CLI (NODE_OPTIONS=--import): writes the arguments the CLI was given. */
const ARGV_PROBE = (() => {
  const file = join(tempDir(), 'argv-probe.mjs');
  writeFileSync(
    file,
    "import { writeFileSync } from 'node:fs';\nif (process.env.GDW_TEST_ARGV_FILE) writeFileSync(process.env.GDW_TEST_ARGV_FILE, JSON.stringify(process.argv.slice(2)));\n",
  );
  return file;
})();

interface EntrypointRun extends Started {
  /** The arguments the CLI received, once node has started it; null before (or if it never does). */
  argv(): string[] | null;
}

function startEntrypoint(args: string[], env: Record<string, string> = {}, group = false): EntrypointRun {
  const argvFile = join(tempDir(), 'argv.json');
  // Nothing from the developer's own AWS set-up or image variables; the probe instead of any NODE_OPTIONS.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(AWS_|GUARDDUTY_WODLE_|NODE_OPTIONS$)/.test(name)));
  const started = start('sh', [ENTRYPOINT_FILE, ...args], {
    env: {
      ...clean,
      // The CLI's shebang finds node on PATH, as in the image.
      PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
      ...FAKE_AWS_ENV,
      NODE_OPTIONS: `--import=${pathToFileURL(ARGV_PROBE).href}`,
      GDW_TEST_ARGV_FILE: argvFile,
      ...env,
    },
    group,
  });
  return { ...started, argv: () => (existsSync(argvFile) ? (JSON.parse(readFileSync(argvFile, 'utf8')) as string[]) : null) };
}

async function entrypoint(args: string[], env: Record<string, string> = {}): Promise<Finished & { argv: string[] | null }> {
  const started = startEntrypoint(args, env);
  const result = await started.done;
  assert.equal(result.error, undefined, 'sh starts');
  return { ...result, argv: started.argv() };
}

/** The image defaults less some of their flags (and values). */
const defaultsWithout = (flags: string[]) => withoutFlags(IMAGE_DEFAULTS, flags);

describe('config/docker-entrypoint.sh', () => {
  test('with no flags of its own, the CLI gets exactly the image defaults', async () => {
    const version = await entrypoint(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, 'guardduty-wodle 0.1.0\n');
    assert.deepEqual(version.argv, [...IMAGE_DEFAULTS, '--version']);
    assert.doesNotThrow(() => parseCli(version.argv!));

    // --check-config on the image's configuration path, which this machine does not have.
    const check = await entrypoint(['--check-config']);
    assert.deepEqual(check.argv, [...IMAGE_DEFAULTS, '--check-config']);
    if (!existsSync(IMAGE_CONFIG)) {
      assert.equal(check.code, EXIT_USAGE);
      assert.match(check.stderr, new RegExp(`${IMAGE_CONFIG}: cannot read configuration`));
    }
  });

  test('--check-config with the sample configuration: flags after the image name are added to the defaults, and one naming a default replaces it', async () => {
    const [spaced, joined, bad] = await Promise.all([
      entrypoint(['--check-config', '--config', SAMPLE_CONFIG, '--log-level', 'debug']),
      entrypoint(['--check-config', `--config=${SAMPLE_CONFIG}`, '--metrics-host', '127.0.0.1', '--state', '/elsewhere/state.db']),
      entrypoint(['--check-config', '--config', SAMPLE_CONFIG, '--log-level', 'bogus']),
    ]);
    assert.equal(spaced.code, 0, spaced.stderr);
    assert.equal((JSON.parse(spaced.stdout) as { file: string }).file, SAMPLE_CONFIG, 'the configuration given was read');
    assert.deepEqual(spaced.argv, [...defaultsWithout(['--config']), '--check-config', '--config', SAMPLE_CONFIG, '--log-level', 'debug']);
    const options = parseCli(spaced.argv!);
    assert.equal(options.config, SAMPLE_CONFIG);
    assert.equal(options.logLevel, 'debug');
    assert.equal(options.checkConfig, true);
    assert.equal(options.state, IMAGE_STATE);
    assert.equal(options.metricsPort, 9464);
    assert.equal(options.metricsHost, '0.0.0.0');

    assert.equal(joined.code, 0, joined.stderr);
    assert.deepEqual(joined.argv, ['--metrics-port', '9464', '--check-config', `--config=${SAMPLE_CONFIG}`, '--metrics-host', '127.0.0.1', '--state', '/elsewhere/state.db']);
    const replaced = parseCli(joined.argv!);
    assert.deepEqual([replaced.config, replaced.state, replaced.metricsHost, replaced.metricsPort], [SAMPLE_CONFIG, '/elsewhere/state.db', '127.0.0.1', 9464]);

    // The operator's flags reach the CLI, which judges them.
    assert.deepEqual(bad.argv, [...defaultsWithout(['--config']), '--check-config', '--config', SAMPLE_CONFIG, '--log-level', 'bogus']);
    assert.equal(bad.code, EXIT_USAGE);
    assert.match(bad.stderr, /--log-level bogus/);
  });

  test(`${PORT_VARIABLE} sets the port; --metrics-port among the arguments, and a variable that is not a port, exit 2 before the CLI starts`, async () => {
    const [set, empty] = await Promise.all([entrypoint(['--version'], { [PORT_VARIABLE]: '9500' }), entrypoint(['--version'], { [PORT_VARIABLE]: '' })]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(set.argv, ['--config', IMAGE_CONFIG, '--state', IMAGE_STATE, '--metrics-port', '9500', '--metrics-host', '0.0.0.0', '--version']);
    assert.equal(parseCli(set.argv!).metricsPort, 9500);
    assert.deepEqual(empty.argv, [...IMAGE_DEFAULTS, '--version'], 'empty: the default 9464');

    const refused = await Promise.all([
      entrypoint(['--metrics-port', '9500']),
      entrypoint(['--log-level', 'debug', '--metrics-port=9500']),
      ...['abc', '0', '65536', '-1', '9464 ', '1234567'].map((value) => entrypoint(['--version'], { [PORT_VARIABLE]: value })),
    ]);
    for (const result of refused) {
      assert.equal(result.code, EXIT_USAGE, result.stderr);
      assert.equal(result.argv, null, 'the CLI never started');
      assert.match(result.stderr, new RegExp(`^guardduty-wodle: .*${PORT_VARIABLE}`));
    }
  });

  test('every subcommand reaches the CLI with the image --state, and --config when it takes one', async () => {
    const runs = await Promise.all(COMMANDS.map((command) => entrypoint([command, '--help'])));
    COMMANDS.forEach((command, i) => {
      const result = runs[i]!;
      assert.equal(result.code, 0, `${command} --help: ${result.stderr}`);
      const takesConfig = /\[--config PATH\]/.test(result.stdout);
      assert.deepEqual(result.argv, [command, ...(takesConfig ? ['--config', IMAGE_CONFIG] : []), '--state', IMAGE_STATE, '--help'], command);
    });
  });

  test('status, explain and reset get the image --state (explain its --config too); another first word runs as a command', async () => {
    const dir = tempDir();
    const [status, explain, reset, given, other] = await Promise.all([
      entrypoint(['status', '--json']),
      entrypoint(['explain', 'my-bucket', 'AWSLogs/x.jsonl.gz']),
      entrypoint(['reset', 'my-bucket']),
      entrypoint(['status', `--state=${join(dir, 'state.db')}`]),
      entrypoint(['sh', '-c', 'echo "a command: $0"', 'of its own']),
    ]);
    assert.deepEqual(status.argv, ['status', '--state', IMAGE_STATE, '--json']);
    assert.deepEqual(explain.argv, ['explain', '--config', IMAGE_CONFIG, '--state', IMAGE_STATE, 'my-bucket', 'AWSLogs/x.jsonl.gz']);
    assert.deepEqual(reset.argv, ['reset', '--state', IMAGE_STATE, 'my-bucket']);
    assert.deepEqual(given.argv, ['status', `--state=${join(dir, 'state.db')}`]);
    for (const result of [status, explain, reset, given]) assert.ok(result.code !== null && result.code <= EXIT_USAGE, result.stderr);
    assert.match(given.stderr, /does not exist/, 'status read the --state given');
    assert.equal(other.argv, null);
    assert.equal(other.code, 0);
    assert.equal(other.stdout, 'a command: of its own\n');
  });

  test(`a daemon started through it serves /health on ${PORT_VARIABLE}, the HEALTHCHECK finds it there, and SIGTERM reaches the collector`, async () => {
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-entrypoint', endpoint: 'http://127.0.0.1:9' }], '<interval>10m</interval><run_on_start>no</run_on_start>');
    const port = await freePort();
    const args = ['--config', config, '--state', join(dir, 'state.db'), '--output', `file:${join(dir, 'out')}`];
    const daemon = startEntrypoint(args, { [PORT_VARIABLE]: String(port) }, true);
    try {
      const announced = () =>
        daemon
          .stderrSoFar()
          .split('\n')
          .some((line) => /^\{.*"msg":"metrics on /.test(line) && (JSON.parse(line) as { port?: number }).port === port);
      await waitFor(announced, { what: `the metrics server on ${port}`, intervalMs: 50 }).catch((err: Error) => assert.fail(`${err.message}: ${daemon.stderrSoFar()}`));
      assert.deepEqual(daemon.argv(), ['--metrics-port', String(port), '--metrics-host', '0.0.0.0', ...args]);
      assert.equal(parseCli(daemon.argv()!).metricsPort, port);
      // The container's environment is the health check's: the same variable, the same port.
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 0);
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(await freePort()) }), 1);
      // sh exec'd the executable, whose shebang exec'd node: the process started is the collector.
      if (existsSync(`/proc/${daemon.child.pid}/cmdline`)) {
        const cmdline = readFileSync(`/proc/${daemon.child.pid}/cmdline`, 'utf8').split('\0');
        assert.ok(cmdline.some((arg) => resolve(arg) === CLI) && !cmdline.some((arg) => resolve(arg) === ENTRYPOINT_FILE), cmdline.join(' '));
      }
    } finally {
      daemon.child.kill('SIGTERM');
    }
    // Had the shell not exec'd, SIGTERM would end it and leave the collector running, holding the
    // pipes: give up after a while and end the whole process group.
    const result = await Promise.race([daemon.done, sleep(15_000, null, { ref: false })]);
    if (result === null) {
      process.kill(-daemon.child.pid!, 'SIGKILL');
      await daemon.done;
      assert.fail('the collector did not stop within 15 s of SIGTERM: did the entrypoint exec it?');
    }
    assert.deepEqual([result.code, result.signal], [0, null], result.stderr);
    assert.match(result.stderr, /"signal":"SIGTERM"/);
  });
});
