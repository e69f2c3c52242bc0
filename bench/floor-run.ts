// The floor `npm run bench` compares the collector with (bench/floor.ts), run in a process of its own so
// that its time, CPU and peak RSS are its own, as the collector's are.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../support/paths.js';

export interface FloorRun {
  /** The whole process, spawn to exit, as the collector's seconds are. */
  seconds: number;
  /** User + system CPU of the whole process. */
  cpuSeconds: number;
  peakRssMb: number;
  /** The work alone, from after its modules loaded. */
  workSeconds: number;
  workCpuSeconds: number;
}

/** The floor (bench/floor.ts), in a process of its own: list, GET 16 at a time, gunzip, frame, parse. */
export async function floor(bucket: string, endpoint: string): Promise<FloorRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', 'floor.js'), endpoint, bucket], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exit = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (exit !== 0) throw new Error(`the floor failed (exit ${exit})`);
  const report = JSON.parse(stdout) as { seconds: number; cpuSeconds: number; processCpuSeconds: number; peakRssMb: number };
  return { seconds, cpuSeconds: report.processCpuSeconds, peakRssMb: report.peakRssMb, workSeconds: report.seconds, workCpuSeconds: report.cpuSeconds };
}
