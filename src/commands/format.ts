import { fromStored } from '../walk/partition.js';

// Small text helpers shared by the subcommands' plain-text output.

/** `3h 12m`, `2d 4h`, `12m 5s`, `45s`: the two largest units. Negative durations (clock skew) show as 0s. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  for (let i = 0; i < units.length; i++) {
    const [name, size] = units[i]!;
    if (s >= size || name === 's') {
      const whole = Math.floor(s / size);
      const next = units[i + 1];
      return next ? `${whole}${name} ${Math.floor((s % size) / next[1])}${next[0]}` : `${whole}${name}`;
    }
  }
  return `${s}s`;
}

/** `2026-11-29 14:00:03Z`: UTC, to the second. */
export function humanTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** ISO 8601 in UTC, for JSON. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Rows of cells as aligned columns; columns listed in `right` are right-aligned. */
export function table(rows: string[][], right: number[] = [], indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, i) => (i === row.length - 1 && !right.includes(i) ? cell : right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
        .join('  '),
  );
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** How plain text names a partition: `<account> <region>` (native) or `firehose <path>`. */
export function partitionLabel(prefix: string | null, account: string, region: string): string {
  if (fromStored({ prefix: prefix ?? '', account, region }).kind === 'firehose') return `firehose ${prefix === null ? '?' : prefix === '' ? '(bucket root)' : prefix}`;
  return prefix === null ? `${account} ${region} (no partition row)` : `${account} ${region}`;
}

/** `s3://bucket/key: cause` → `cause`, where the key is already shown. */
export function withoutLocation(error: string, bucket: string, key: string): string {
  const location = `s3://${bucket}/${key}: `;
  return error.startsWith(location) ? error.slice(location.length) : error;
}
