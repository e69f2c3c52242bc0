import { readdirSync, readlinkSync } from 'node:fs';

/** The descriptors of process `pid` whose target satisfies `matches` (a path, or `socket:[inode]`). */
export function descriptors(matches: (target: string) => boolean, pid: number | 'self' = 'self'): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (matches(readlinkSync(`/proc/${pid}/fd/${fd}`))) count++;
    } catch {
      // A descriptor closed while the directory was read.
    }
  }
  return count;
}
