import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new directory of the test's own under the system's temporary directory. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gdw-test-'));
}

/** The JSON events of an output written one per line (file:, stdout, unix:). */
export function eventsFromLines(text: string): Array<Record<string, any>> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, any>);
}
