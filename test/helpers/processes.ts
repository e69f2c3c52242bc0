// Processes the packaging tests start (systemd-analyze, sh, npm, the image's health check), each with
// the asynchronous spawn: its output gathered, and how it ended.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HEALTHCHECK, PORT_VARIABLE } from './packaging.js';

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (not on PATH). */
  error?: Error;
}

export interface Started {
  child: ChildProcess;
  done: Promise<Finished>;
  stderrSoFar(): string;
}

/** `group`: a process group of its own, so that a test can end it and whatever it left behind. */
export function start(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean } = {}): Started {
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

export function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Finished> {
  return start(command, args, options).done;
}

/** A TCP port nothing listens on at the moment (the kernel's choice, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/** Runs the image's HEALTHCHECK command with this node, in an environment of its own (the container's). */
export function healthcheck(env: Record<string, string>): Promise<number | null> {
  assert.equal(HEALTHCHECK.command[0], 'node');
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== PORT_VARIABLE));
  return run(process.execPath, HEALTHCHECK.command.slice(1), { env: { ...clean, ...env } }).then((r) => r.code);
}

/** A /health stand-in answering `status()`, on `port` (0: any). */
export async function healthServer(port: number, status: () => number): Promise<{ server: Server; port: number; paths: string[] }> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status(), { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((done, fail) => server.once('error', fail).listen(port, '127.0.0.1', done));
  return { server, port: (server.address() as AddressInfo).port, paths };
}

export function closed(server: Server): Promise<unknown> {
  return new Promise((done) => server.close(done));
}
