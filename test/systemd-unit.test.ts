// The packaging files are checked for what they promise, not for their wording: the systemd unit's
// hardening, paths and restart policy, the Dockerfile's stages, user, volumes and health check, the
// image's entrypoint script (run for real with sh against the built CLI), the compose example's
// shared socket volume, the npm package's file list, and that every command line they hold is one the
// CLI's own parser accepts. Only node built-ins read them: a small INI reader, a Dockerfile reader and
// an indentation reader that is enough for the compose file written here (no anchors, no multi-line
// scalars). Every process is started with the asynchronous spawn.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { EXIT_USAGE, MEMORY_FLAGS, parseCli } from '../src/cli.js';
import { COMMANDS } from '../src/commands/index.js';
import { WAZUH_QUEUE } from '../src/emit/wazuh.js';
import { FAKE_AWS_ENV, runCli, startCli, writeConfig } from '../support/cli.js';
import { tempDir } from './helpers/files.js';
import { useFakeS3 } from '../support/s3.js';
import { CLI, ROOT } from '../support/paths.js';
import { waitFor } from './helpers/wait.js';

const UNIT_FILE = join(ROOT, 'config', 'guardduty-wodle.service');
const DOCKERFILE = join(ROOT, 'Dockerfile');
const COMPOSE_FILE = join(ROOT, 'config', 'docker-compose.yml');
const ENTRYPOINT_FILE = join(ROOT, 'config', 'docker-entrypoint.sh');
const SAMPLE_CONFIG = join(ROOT, 'config', 'ossec.conf');

/** What the entrypoint puts before the operator's arguments when they name none of these flags. */
const IMAGE_CONFIG = '/etc/guardduty-wodle/ossec.conf';
const IMAGE_STATE = '/var/lib/guardduty-wodle/state.db';
const IMAGE_DEFAULTS = ['--config', IMAGE_CONFIG, '--state', IMAGE_STATE, '--metrics-port', '9464', '--metrics-host', '0.0.0.0'];
/** The variable naming the image's metrics port, read by the entrypoint and the HEALTHCHECK. */
const PORT_VARIABLE = 'GUARDDUTY_WODLE_METRICS_PORT';

/** After SIGTERM the collector gives objects in flight this long (STOP_GRACE_MS in src/cli.ts). */
const DRAIN_GRACE_SECONDS = 20;
const SOCKET_DIR = posix.dirname(WAZUH_QUEUE);
const METRICS_FLAGS = ['--metrics-port', '--metrics-host'];

// ---------------------------------------------------------------------------------------------
// Processes

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (not on PATH). */
  error?: Error;
}

interface Started {
  child: ChildProcess;
  done: Promise<Finished>;
  stderrSoFar(): string;
}

/** `group`: a process group of its own, so that a test can end it and whatever it left behind. */
function start(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {}): Started {
  const { group, ...rest } = options;
  const child = spawn(command, args, { ...rest, detached: group ?? false, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<Finished>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, stdout, stderr, error }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stderrSoFar: () => stderr };
}

function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Finished> {
  return start(command, args, options).done;
}

/** A TCP port nothing listens on at the moment (the kernel's choice, released at once). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Readers

interface Assignment {
  key: string;
  value: string;
  line: number;
}

interface Unit {
  sections: Map<string, Assignment[]>;
  /** Comment lines, without their leading `#` or `;`. */
  comments: string[];
}

/** systemd's unit syntax: `[Section]`, `Key=value`, `#`/`;` comments, a trailing `\` continues the line. */
function parseUnit(text: string): Unit {
  const sections = new Map<string, Assignment[]>();
  const comments: string[] = [];
  let current: Assignment[] | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    let line = lines[i]!.trim();
    if (line === '') continue;
    if (line.startsWith('#') || line.startsWith(';')) {
      comments.push(line.slice(1).trim());
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = sections.get(section[1]!) ?? [];
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `line ${number}: neither a section, a comment nor Key=value: ${line}`);
    assert.ok(current, `line ${number}: an assignment before any [Section]`);
    current.push({ key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim(), line: number });
  }
  return { sections, comments };
}

function section(unit: Unit, name: string): Assignment[] {
  const found = unit.sections.get(name);
  assert.ok(found, `the unit has a [${name}] section`);
  return found;
}

/** A single-valued directive: the last assignment wins, as in systemd. */
function single(assignments: Assignment[], key: string): string | undefined {
  return assignments.filter((a) => a.key === key).at(-1)?.value;
}

/** A list-valued directive: assignments add words, an empty assignment resets the list. */
function list(assignments: Assignment[], key: string): string[] | undefined {
  let words: string[] | undefined;
  for (const a of assignments.filter((x) => x.key === key)) words = a.value === '' ? [] : [...(words ?? []), ...a.value.split(/\s+/)];
  return words;
}

const TRUE = new Set(['1', 'yes', 'y', 'true', 't', 'on']);

/** systemd time spans: `45`, `45s`, `1min 30s`, `500ms` … in seconds. */
function timespan(text: string): number {
  if (text === 'infinity') return Infinity;
  const units: Record<string, number> = { '': 1, us: 1e-6, usec: 1e-6, ms: 1e-3, msec: 1e-3, s: 1, sec: 1, second: 1, seconds: 1, m: 60, min: 60, minute: 60, minutes: 60, h: 3600, hr: 3600, hour: 3600, hours: 3600 };
  let total = 0;
  const rest = text.replace(/(\d+(?:\.\d+)?)\s*([a-z]*)/g, (_all, value: string, unit: string) => {
    const factor = units[unit];
    assert.ok(factor !== undefined, `time unit "${unit}" in ${text}`);
    total += Number(value) * factor;
    return '';
  });
  assert.equal(rest.trim(), '', `time span ${text}`);
  return total;
}

/** Splits a command line the way systemd (and a POSIX shell, for these simple cases) does. */
function words(command: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** ExecStart's executable (less systemd's `-@:+!` prefixes) and its arguments. */
function execLine(value: string): { exe: string; args: string[] } {
  const [exe, ...args] = words(value);
  assert.ok(exe, 'ExecStart names an executable');
  return { exe: exe.replace(/^[-@:+!]+/, ''), args };
}

function covers(paths: string[], target: string): boolean {
  return paths.some((p) => target === p || target.startsWith(`${p}/`));
}

interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile instructions: comments dropped, `\` continuations joined (comment lines inside them skipped, as Docker does). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const line = i + 1;
    let joined = first;
    while (joined.endsWith('\\')) {
      joined = joined.slice(0, -1).trimEnd();
      let next: string | undefined;
      do next = lines[++i]?.trim();
      while (next !== undefined && (next === '' || next.startsWith('#')));
      if (next === undefined) break;
      joined += ` ${next}`;
    }
    const space = joined.search(/\s/);
    out.push({ op: joined.slice(0, space).toUpperCase(), args: joined.slice(space + 1).trim(), line });
  }
  return out;
}

/** Splits the instructions into build stages, one per FROM. */
function stages(instructions: Instruction[]): Array<{ from: string; name: string | null; body: Instruction[] }> {
  const out: Array<{ from: string; name: string | null; body: Instruction[] }> = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      out.push({ from: parts[0]!, name: parts[1]?.toUpperCase() === 'AS' ? parts[2]! : null, body: [] });
    } else if (out.length > 0) {
      out.at(-1)!.body.push(ins);
    }
  }
  return out;
}

/** JSON (exec) form only: a shell-form ENTRYPOINT or CMD would run under /bin/sh and lose signals. */
function execForm(ins: Instruction | undefined, what: string): string[] {
  assert.ok(ins, `the Dockerfile has ${what}`);
  const parsed = JSON.parse(ins.args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `${what} is in exec (JSON array) form`);
  return parsed as string[];
}

function flagValue(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

function withoutFlags(args: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (flags.includes(args[i]!)) i++;
    else out.push(args[i]!);
  }
  return out;
}

interface YamlNode {
  text: string;
  line: number;
  children: YamlNode[];
}

/** Block-style YAML as a tree of lines by indentation: enough for mappings, lists of scalars and flow lists. */
function parseYamlTree(text: string): YamlNode {
  const root: YamlNode = { text: '', line: 0, children: [] };
  const stack: Array<{ indent: number; node: YamlNode }> = [{ indent: -1, node: root }];
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const indent = raw.length - raw.trimStart().length;
    while (stack.at(-1)!.indent >= indent) stack.pop();
    const node: YamlNode = { text: trimmed, line: i + 1, children: [] };
    stack.at(-1)!.node.children.push(node);
    stack.push({ indent, node });
  });
  return root;
}

function unquote(text: string): string {
  return /^(["']).*\1$/.test(text) ? text.slice(1, -1) : text;
}

function yamlKey(node: YamlNode): string {
  return unquote(node.text.slice(0, node.text.indexOf(':')).trim());
}

function yamlChild(node: YamlNode, key: string): YamlNode | undefined {
  return node.children.find((c) => !c.text.startsWith('- ') && c.text.includes(':') && yamlKey(c) === key);
}

function yamlValue(node: YamlNode | undefined): string | undefined {
  return node === undefined ? undefined : unquote(node.text.slice(node.text.indexOf(':') + 1).trim());
}

function yamlItems(node: YamlNode | undefined): string[] {
  return (node?.children ?? []).filter((c) => c.text.startsWith('- ')).map((c) => unquote(c.text.slice(2).trim()));
}

// ---------------------------------------------------------------------------------------------
// The systemd unit

const analyze = await run('systemd-analyze', ['--version']);
const haveAnalyze = !analyze.error && analyze.code === 0;
const offline = haveAnalyze && (await run('systemd-analyze', ['security', '--help'])).stdout.includes('--offline');

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

  test('is not restarted after exit 2, the status of a usage or configuration error, and is after exit 1', async () => {
    assert.equal(EXIT_USAGE, 2);
    const prevent = list(service, 'RestartPreventExitStatus') ?? [];
    assert.ok(prevent.includes(String(EXIT_USAGE)), `RestartPreventExitStatus=${prevent.join(' ')} holds ${EXIT_USAGE}`);
    assert.ok(!prevent.includes('1'), 'exit 1 (a failed bucket or output) is restarted: what was not delivered is read again');
    assert.equal(single(service, 'Restart'), 'on-failure', 'exit 1 is a failure to Restart=on-failure');
    // The exit statuses the unit names are the ones the CLI returns: an unknown flag, a configuration
    // that cannot be read, a state that is not a database (nothing is read: the endpoint is closed anyway).
    const dir = tempDir();
    const config = writeConfig(dir, [{ name: 'gd-restart', endpoint: 'http://127.0.0.1:9' }]);
    const corrupt = join(dir, 'state.db');
    writeFileSync(corrupt, 'not a database\n'.repeat(400));
    const exits = await Promise.all([
      runCli(['--no-such-flag']),
      runCli(['--check-config', '--config', join(dir, 'missing.conf')]),
      runCli(['--once', '--config', config, '--state', corrupt, '--output', 'stdout']),
    ]);
    for (const exit of exits) assert.equal(exit.code, EXIT_USAGE, exit.stderr);
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

  test('config/wazuh-manager.conf, the sample it reads, is a <wazuh_config> the collector parses', async () => {
    const result = await runCli(['--check-config', '--config', join(ROOT, 'config', 'wazuh-manager.conf'), '--output', 'stdout', '--state', join(tempDir(), 'state.db')]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { wodles: Array<{ buckets: Array<{ name: string }> }> };
    assert.deepEqual(report.wodles.flatMap((w) => w.buckets.map((b) => b.name)), ['my-guardduty-exports']);
  });

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

// ---------------------------------------------------------------------------------------------
// The Dockerfile

const dockerfile = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const dockerStages = stages(dockerfile);
const runtime = dockerStages.at(-1)!;

function lastOf(body: Instruction[], op: string): Instruction | undefined {
  return body.filter((i) => i.op === op).at(-1);
}

const HEALTHCHECK = (() => {
  const ins = lastOf(runtime.body, 'HEALTHCHECK');
  assert.ok(ins, 'the Dockerfile has a HEALTHCHECK');
  const at = ins.args.search(/\bCMD\s+\[/);
  assert.ok(at >= 0, 'HEALTHCHECK CMD in exec (JSON array) form');
  return { options: ins.args.slice(0, at).trim(), command: JSON.parse(ins.args.slice(at + 3).trim()) as string[] };
})();

function volumes(body: Instruction[]): string[] {
  return body
    .filter((i) => i.op === 'VOLUME')
    .flatMap((i) => (i.args.startsWith('[') ? (JSON.parse(i.args) as string[]) : i.args.split(/\s+/)));
}

/** ENV in its KEY=VALUE form (the only one used here); the last assignment wins. */
function environment(body: Instruction[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const ins of body.filter((i) => i.op === 'ENV')) {
    for (const word of words(ins.args)) {
      const eq = word.indexOf('=');
      assert.ok(eq > 0, `ENV ${ins.args}: KEY=VALUE form`);
      out.set(word.slice(0, eq), word.slice(eq + 1));
    }
  }
  return out;
}

/** Runs the image's HEALTHCHECK command with this node, in an environment of its own (the container's). */
function healthcheck(env: Record<string, string>): Promise<number | null> {
  assert.equal(HEALTHCHECK.command[0], 'node');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== PORT_VARIABLE));
  return run(process.execPath, HEALTHCHECK.command.slice(1), { env: { ...clean, ...env } }).then((r) => r.code);
}

/** A /health stand-in answering `status()`, on `port` (0: any). */
async function healthServer(port: number, status: () => number): Promise<{ server: Server; port: number; paths: string[] }> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status(), { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((done, fail) => server.once('error', fail).listen(port, '127.0.0.1', done));
  return { server, port: (server.address() as AddressInfo).port, paths };
}

function closed(server: Server): Promise<unknown> {
  return new Promise((done) => server.close(done));
}

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

  test(`HEALTHCHECK asks /health on the port ${PORT_VARIABLE} names: 0 on 200, 1 on 503, on another port and when nothing listens`, async () => {
    assert.match(HEALTHCHECK.options, /--timeout=\d+s/);
    assert.ok(HEALTHCHECK.command.some((arg) => arg.includes(`process.env.${PORT_VARIABLE}`)), 'the port comes from the environment');
    let status = 200;
    const { server, port, paths } = await healthServer(0, () => status);
    const elsewhere = await freePort();
    try {
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 0, `asks port ${port}`);
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(elsewhere) }), 1, 'asks the port named, not the one that answers');
      status = 503;
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 1);
      assert.deepEqual(paths, ['/health', '/health']);
    } finally {
      await closed(server);
    }
    assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 1, 'nothing listening');
  });

  test(`HEALTHCHECK asks port 9464 when ${PORT_VARIABLE} is unset or empty, as the entrypoint does`, async (t) => {
    let standIn: Awaited<ReturnType<typeof healthServer>>;
    try {
      standIn = await healthServer(9464, () => 200);
    } catch (err) {
      t.skip(`port 9464 is taken on this machine: ${(err as Error).message}`);
      return;
    }
    try {
      assert.equal(await healthcheck({}), 0);
      assert.equal(await healthcheck({ [PORT_VARIABLE]: '' }), 0);
      assert.deepEqual(standIn.paths, ['/health', '/health']);
    } finally {
      await closed(standIn.server);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The image's entrypoint, run with sh against the built CLI

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

// ---------------------------------------------------------------------------------------------
// The compose example

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

// ---------------------------------------------------------------------------------------------
// The npm package (the tarball the README installs)

describe('npm package', () => {
  test('npm pack holds the bundle, config/ and README.md, and nothing of test/, the sources or the CI runtimes', async () => {
    // --ignore-scripts: the list of what the build left in dist/ (the suite runs after npm run build),
    // without building again; npm pack itself runs prepare (tsc and the bundle) first.
    const result = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    assert.equal(result.error, undefined, 'npm is on PATH');
    assert.equal(result.code, 0, result.stderr);
    const [pack] = JSON.parse(result.stdout) as Array<{ name: string; version: string; filename: string; files: Array<{ path: string; mode: number }> }>;
    assert.ok(pack);
    const paths = pack.files.map((f) => f.path);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string>; scripts: Record<string, string> };
    assert.equal(pack.filename, `${manifest.name}-${manifest.version}.tgz`);
    for (const path of ['package.json', 'README.md', 'dist/src/cli.js', 'config/guardduty-wodle.service', 'config/docker-entrypoint.sh', 'config/docker-compose.yml', 'config/ossec.conf']) {
      assert.ok(paths.includes(path), `${path} is in the tarball`);
    }
    assert.equal(manifest.bin['guardduty-wodle'], 'dist/src/cli.js', 'the bin is the bundle');
    assert.ok(pack.files.find((f) => f.path === 'dist/src/cli.js')!.mode & 0o111, 'the bundle is executable');
    assert.match(manifest.scripts['prepare'] ?? '', /\btsc\b.*&&.*bundle/, 'npm pack builds the bundle before packing');
    const stray = paths.filter((p) => /^(test|dist\/test|src|scripts|dist\/scripts|bench|dist\/bench|node_modules|\.node24|\.ci-node24|\.ci|\.git)\//.test(p) || /\.db(-|$)/.test(p));
    assert.deepEqual(stray, []);
  });

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

describe('V8 memory flags', () => {
  const fake = useFakeS3();

  test('the executable starts node with them; `node dist/src/cli.js` runs without them and says so', async () => {
    const dir = tempDir();
    fake.s3.createBucket('memory-flags');
    const config = writeConfig(dir, [{ name: 'memory-flags', endpoint: fake.s3.endpoint }]);
    const args = ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'file:/dev/null'];
    const started = (logs: Array<Record<string, unknown>>) => logs.find((l) => String(l['msg']).startsWith('guardduty-wodle 0.1.0 started'));
    const warned = (logs: Array<Record<string, unknown>>) => logs.filter((l) => String(l['msg']).startsWith("started without the executable's V8 memory flags"));

    const viaBin = await runCli(args);
    assert.equal(viaBin.code, 0, viaBin.stderr);
    assert.equal(started(viaBin.logs)?.['memoryFlags'], true);
    assert.deepEqual(warned(viaBin.logs), []);

    const viaNode = await startCli(args, { mode: 'node' }).done;
    assert.equal(viaNode.code, 0, viaNode.stderr);
    assert.equal(started(viaNode.logs)?.['memoryFlags'], false);
    const warning = warned(viaNode.logs);
    assert.equal(warning.length, 1);
    assert.deepEqual(warning[0]!['missing'], MEMORY_FLAGS);
    assert.match(String(warning[0]!['msg']), /start dist\/src\/cli\.js itself/);
  });
});
