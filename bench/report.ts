// What `npm run bench` reports: medians of repeated runs, its tables on stdout, and every measure in
// bench/results.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/paths.js';
import type { Target } from './targets.js';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

type Rows = Array<Record<string, string | number>>;

export interface Results {
  rows: Rows;
  startModes: Rows;
  targets: Target[];
  manyPartitions: { dataset: Record<string, string | number>; rows: Rows; targets: Target[] } | null;
  fileOutputs: { directory: string; repeats: number; rows: Rows } | null;
  gunzip: Record<string, number>;
}

function targetTable(targets: Target[]) {
  return targets.map(({ target, value, bound, met }) => ({ target, value, bound, met: met ? 'met' : 'NOT MET' }));
}

/** The tables on stdout, then every measure in bench/results.json, with the date, Node and machine. */
export function report({ rows, startModes, targets, manyPartitions, fileOutputs, gunzip }: Results): void {
  if (rows.length > 0) console.table(rows);
  if (startModes.length > 0) console.table(startModes);
  console.table(targetTable(targets));
  if (manyPartitions) {
    console.log(manyPartitions.dataset);
    console.table(manyPartitions.rows);
    console.table(targetTable(manyPartitions.targets));
  }
  if (fileOutputs) console.table(fileOutputs.rows);
  console.log(gunzip);
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    machine: '2 cores',
    rows,
    startModes,
    targets,
    ...(manyPartitions ? { manyPartitions } : {}),
    ...(fileOutputs ? { fileOutputs } : {}),
    gunzip,
  };
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
}
