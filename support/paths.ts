// Shared by the tests and the benchmark: the repository's paths and the public samples.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether this runs from test/ or from dist/test/. */
export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
export const SAMPLES = resolve(ROOT, '..', 'shared', 'samples', 'guardduty', 'public');

export function sampleNames(): string[] {
  return readdirSync(SAMPLES).filter((name) => name.endsWith('.json')).sort();
}

export function readSample(name: string): string {
  return readFileSync(join(SAMPLES, name), 'utf8');
}
