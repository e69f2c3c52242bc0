// The packaging files are checked for what they promise, not for their wording: the systemd unit's
// hardening and paths, the Dockerfile's stages, user, volumes and health check, the compose example's
// shared socket volume, and that every command line they hold is one the CLI's own parser accepts.
// Only node built-ins read them: a small INI reader, a Dockerfile reader and an indentation reader
// that is enough for the compose file written here (no anchors, no multi-line scalars).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, posix, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { parseCli } from '../src/cli.js';
import { WAZUH_QUEUE } from '../src/emit/wazuh.js';
import { tempDir } from './helpers/cli.js';
import { CLI, ROOT } from './helpers/paths.js';

const UNIT_FILE = join(ROOT, 'config', 'guardduty-wodle.service');
const DOCKERFILE = join(ROOT, 'Dockerfile');
const COMPOSE_FILE = join(ROOT, 'config', 'docker-compose.yml');

/** After SIGTERM the collector gives objects in flight this long (STOP_GRACE_MS in src/cli.ts). */
const DRAIN_GRACE_SECONDS = 20;
const SOCKET_DIR = posix.dirname(WAZUH_QUEUE);
const METRICS_FLAGS = ['--metrics-port', '--metrics-host'];

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
    // Needs the --metrics-port flag in src/cli.ts.
    assert.doesNotThrow(() => parseCli(variant.args));
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const haveAnalyze = !analyze.error && analyze.status === 0;

  /** A copy of the unit whose ExecStart runs the built CLI, so that verify finds an executable. */
  function verifiableCopy(extra = ''): string {
    const file = join(tempDir(), 'guardduty-wodle.service');
    const copy = text.replace(/^ExecStart=\/usr\/local\/bin\/guardduty-wodle /m, `ExecStart=${CLI} `).replace(/^\[Service\]$/m, `[Service]\n${extra}`);
    assert.notEqual(copy, text);
    writeFileSync(file, copy);
    return file;
  }

  function verify(file: string): { status: number | null; lines: string[] } {
    const run = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
    return { status: run.status, lines: `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.trim() !== '') };
  }

  test('systemd-analyze verify reports nothing about it', { skip: haveAnalyze ? false : 'systemd-analyze is not on PATH' }, () => {
    const result = verify(verifiableCopy());
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

  test('systemd-analyze verify would notice an unknown directive and a bad value (so its silence means something)', { skip: haveAnalyze ? false : 'systemd-analyze is not on PATH' }, () => {
    const result = verify(verifiableCopy('NoSuchDirective=yes\nUMask=bogus'));
    assert.ok(result.lines.some((l) => l.includes('NoSuchDirective')), result.lines.join('\n'));
    assert.ok(result.lines.some((l) => /failed to parse/i.test(l)), result.lines.join('\n'));
  });

  const offline = haveAnalyze && spawnSync('systemd-analyze', ['security', '--help'], { encoding: 'utf8' }).stdout.includes('--offline');

  test('systemd-analyze security rates its exposure OK or better', { skip: offline ? false : 'systemd-analyze security --offline is not available' }, () => {
    const run = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', verifiableCopy()], { encoding: 'utf8' });
    const verdict = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(run.stdout);
    assert.ok(verdict, run.stdout + run.stderr);
    assert.ok(['PERFECT', 'SAFE', 'OK'].includes(verdict[2]!), `exposure ${verdict[1]} ${verdict[2]}`);
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

const CMD_ARGS = execForm(lastOf(runtime.body, 'CMD'), 'CMD');
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

describe('Dockerfile', () => {
  test('.dockerignore keeps host builds, CI runtimes and state out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules/', 'dist/', '.node24/', '.ci-node24/', '*.db', '.git/']) assert.ok(ignored.includes(entry), `${entry} is ignored`);
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

  test('declares the state and queue socket volumes, exposes the metrics port, and starts the built executable', () => {
    const declared = volumes(runtime.body);
    assert.ok(declared.includes('/var/lib/guardduty-wodle'), declared.join(' '));
    assert.ok(declared.includes(SOCKET_DIR), declared.join(' '));
    assert.ok((lastOf(runtime.body, 'EXPOSE')?.args.split(/\s+/) ?? []).some((p) => p.replace(/\/tcp$/, '') === '9464'));
    assert.deepEqual(execForm(lastOf(runtime.body, 'ENTRYPOINT'), 'ENTRYPOINT'), ['/app/dist/src/cli.js']);
    // The same file as npm run build leaves it: executable, with the shebang that starts node.
    assert.ok(statSync(CLI).mode & 0o111, `${CLI} is executable`);
    assert.match(readFileSync(CLI, 'utf8').split('\n')[0]!, /^#!\/usr\/bin\/env -S node\b/);
    assert.equal(lastOf(runtime.body, 'WORKDIR')?.args, '/app');
  });

  test('CMD is accepted by parseCli (less the metrics flags) and points into the declared volumes', () => {
    const options = parseCli(withoutFlags(CMD_ARGS, METRICS_FLAGS));
    const declared = volumes(runtime.body);
    assert.equal(options.config, '/etc/guardduty-wodle/ossec.conf');
    assert.equal(options.state, '/var/lib/guardduty-wodle/state.db');
    assert.ok(declared.includes(posix.dirname(options.state)), 'the state directory is a volume');
    assert.deepEqual(options.outputs, [{ kind: 'wazuh', path: WAZUH_QUEUE }]);
    assert.ok(declared.includes(posix.dirname(WAZUH_QUEUE)), 'the queue socket directory is a volume');
  });

  test('CMD with its metrics flags is accepted by parseCli, on all interfaces, on the exposed and health-checked port', () => {
    assert.equal(flagValue(CMD_ARGS, '--metrics-port'), '9464');
    assert.equal(flagValue(CMD_ARGS, '--metrics-host'), '0.0.0.0', 'reachable from outside the container');
    assert.ok(HEALTHCHECK.command.some((arg) => arg.includes('http://127.0.0.1:9464/health')));
    // Needs --metrics-port and --metrics-host in src/cli.ts.
    assert.doesNotThrow(() => parseCli(CMD_ARGS));
  });

  test('HEALTHCHECK exits 0 when /health answers 200, 1 on 503 and when nothing listens', async () => {
    assert.equal(HEALTHCHECK.command[0], 'node');
    assert.match(HEALTHCHECK.options, /--timeout=\d+s/);
    const paths: string[] = [];
    let status = 200;
    const server: Server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as AddressInfo).port;
    const check = (at: number) =>
      new Promise<number | null>((done, fail) => {
        const args = HEALTHCHECK.command.slice(1).map((arg) => arg.replace('127.0.0.1:9464', `127.0.0.1:${at}`));
        const child = spawn(process.execPath, args, { stdio: 'ignore' });
        child.on('error', fail).on('close', done);
      });
    try {
      assert.equal(await check(port), 0);
      status = 503;
      assert.equal(await check(port), 1);
      assert.deepEqual(paths, ['/health', '/health']);
    } finally {
      await new Promise((done) => server.close(done));
    }
    assert.equal(await check(port), 1, 'nothing listening');
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

  test('guardduty-wodle mounts its configuration read-only and its state on a named volume, where the image CMD expects them', () => {
    const options = parseCli(withoutFlags(CMD_ARGS, METRICS_FLAGS));
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
});
