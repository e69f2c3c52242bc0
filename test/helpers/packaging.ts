// The repository's packaging files and the readers that check them (test/systemd-unit, dockerfile,
// docker-compose tests and their process/ companions). Only node built-ins read them: a small INI
// reader, a Dockerfile reader and an indentation reader that is enough for the compose file written
// here (no anchors, no multi-line scalars).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { WAZUH_QUEUE } from '../../src/emit/wazuh.js';
import { ROOT } from '../../support/paths.js';

export const UNIT_FILE = join(ROOT, 'config', 'guardduty-wodle.service');
export const DOCKERFILE = join(ROOT, 'Dockerfile');
export const COMPOSE_FILE = join(ROOT, 'config', 'docker-compose.yml');
export const ENTRYPOINT_FILE = join(ROOT, 'config', 'docker-entrypoint.sh');
export const SAMPLE_CONFIG = join(ROOT, 'config', 'ossec.conf');

/** What the entrypoint puts before the operator's arguments when they name none of these flags. */
export const IMAGE_CONFIG = '/etc/guardduty-wodle/ossec.conf';
export const IMAGE_STATE = '/var/lib/guardduty-wodle/state.db';
export const IMAGE_DEFAULTS = ['--config', IMAGE_CONFIG, '--state', IMAGE_STATE, '--metrics-port', '9464', '--metrics-host', '0.0.0.0'];
/** The variable naming the image's metrics port, read by the entrypoint and the HEALTHCHECK. */
export const PORT_VARIABLE = 'GUARDDUTY_WODLE_METRICS_PORT';

/** After SIGTERM the collector gives objects in flight this long (STOP_GRACE_MS in src/cli.ts). */
export const DRAIN_GRACE_SECONDS = 20;
export const SOCKET_DIR = posix.dirname(WAZUH_QUEUE);
export const METRICS_FLAGS = ['--metrics-port', '--metrics-host'];

// ---------------------------------------------------------------------------------------------
// Readers

export interface Assignment {
  key: string;
  value: string;
  line: number;
}

export interface Unit {
  sections: Map<string, Assignment[]>;
  /** Comment lines, without their leading `#` or `;`. */
  comments: string[];
}

/** systemd's unit syntax: `[Section]`, `Key=value`, `#`/`;` comments, a trailing `\` continues the line. */
export function parseUnit(text: string): Unit {
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

export function section(unit: Unit, name: string): Assignment[] {
  const found = unit.sections.get(name);
  assert.ok(found, `the unit has a [${name}] section`);
  return found;
}

/** A single-valued directive: the last assignment wins, as in systemd. */
export function single(assignments: Assignment[], key: string): string | undefined {
  return assignments.filter((a) => a.key === key).at(-1)?.value;
}

/** A list-valued directive: assignments add words, an empty assignment resets the list. */
export function list(assignments: Assignment[], key: string): string[] | undefined {
  let words: string[] | undefined;
  for (const a of assignments.filter((x) => x.key === key)) words = a.value === '' ? [] : [...(words ?? []), ...a.value.split(/\s+/)];
  return words;
}

export const TRUE = new Set(['1', 'yes', 'y', 'true', 't', 'on']);

/** systemd time spans: `45`, `45s`, `1min 30s`, `500ms` … in seconds. */
export function timespan(text: string): number {
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
export function words(command: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(command); m; m = re.exec(command)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** ExecStart's executable (less systemd's `-@:+!` prefixes) and its arguments. */
export function execLine(value: string): { exe: string; args: string[] } {
  const [exe, ...args] = words(value);
  assert.ok(exe, 'ExecStart names an executable');
  return { exe: exe.replace(/^[-@:+!]+/, ''), args };
}

export function covers(paths: string[], target: string): boolean {
  return paths.some((p) => target === p || target.startsWith(`${p}/`));
}

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Dockerfile instructions: comments dropped, `\` continuations joined (comment lines inside them skipped, as Docker does). */
export function parseDockerfile(text: string): Instruction[] {
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
export function stages(instructions: Instruction[]): Array<{ from: string; name: string | null; body: Instruction[] }> {
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
export function execForm(ins: Instruction | undefined, what: string): string[] {
  assert.ok(ins, `the Dockerfile has ${what}`);
  const parsed = JSON.parse(ins.args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((x) => typeof x === 'string'), `${what} is in exec (JSON array) form`);
  return parsed as string[];
}

export function flagValue(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

export function withoutFlags(args: string[], flags: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (flags.includes(args[i]!)) i++;
    else out.push(args[i]!);
  }
  return out;
}

export interface YamlNode {
  text: string;
  line: number;
  children: YamlNode[];
}

/** Block-style YAML as a tree of lines by indentation: enough for mappings, lists of scalars and flow lists. */
export function parseYamlTree(text: string): YamlNode {
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

export function unquote(text: string): string {
  return /^(["']).*\1$/.test(text) ? text.slice(1, -1) : text;
}

export function yamlKey(node: YamlNode): string {
  return unquote(node.text.slice(0, node.text.indexOf(':')).trim());
}

export function yamlChild(node: YamlNode, key: string): YamlNode | undefined {
  return node.children.find((c) => !c.text.startsWith('- ') && c.text.includes(':') && yamlKey(c) === key);
}

export function yamlValue(node: YamlNode | undefined): string | undefined {
  return node === undefined ? undefined : unquote(node.text.slice(node.text.indexOf(':') + 1).trim());
}

export function yamlItems(node: YamlNode | undefined): string[] {
  return (node?.children ?? []).filter((c) => c.text.startsWith('- ')).map((c) => unquote(c.text.slice(2).trim()));
}

// ---------------------------------------------------------------------------------------------
// The repository's Dockerfile, read

export const dockerfile = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
export const dockerStages = stages(dockerfile);
export const runtime = dockerStages.at(-1)!;

export function lastOf(body: Instruction[], op: string): Instruction | undefined {
  return body.filter((i) => i.op === op).at(-1);
}

export const HEALTHCHECK = (() => {
  const ins = lastOf(runtime.body, 'HEALTHCHECK');
  assert.ok(ins, 'the Dockerfile has a HEALTHCHECK');
  const at = ins.args.search(/\bCMD\s+\[/);
  assert.ok(at >= 0, 'HEALTHCHECK CMD in exec (JSON array) form');
  return { options: ins.args.slice(0, at).trim(), command: JSON.parse(ins.args.slice(at + 3).trim()) as string[] };
})();

export function volumes(body: Instruction[]): string[] {
  return body
    .filter((i) => i.op === 'VOLUME')
    .flatMap((i) => (i.args.startsWith('[') ? (JSON.parse(i.args) as string[]) : i.args.split(/\s+/)));
}

/** ENV in its KEY=VALUE form (the only one used here); the last assignment wins. */
export function environment(body: Instruction[]): Map<string, string> {
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

