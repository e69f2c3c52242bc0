export type TypeKind = 'bucket' | 'service' | 'subscriber';

/**
 * The types Wazuh's aws-s3 module accepts, exactly as its configuration reader compares them
 * (src/config/wmodules-aws.c, case-sensitive): the one guardduty-wodle reads, and the note for the rest.
 */
export const KINDS: Record<TypeKind, { wazuh: readonly string[]; collected: string | null; skipped: string }> = {
  bucket: {
    wazuh: ['cloudtrail', 'config', 'custom', 'guardduty', 'vpcflow', 'cisco_umbrella', 'waf', 'alb', 'clb', 'nlb', 'server_access'],
    collected: 'guardduty',
    skipped: 'is not collected by guardduty-wodle (only type="guardduty" is)',
  },
  service: {
    wazuh: ['inspector', 'cloudwatchlogs'],
    collected: null,
    skipped: 'is a CloudWatch/Inspector service, not collected by guardduty-wodle',
  },
  subscriber: {
    wazuh: ['security_lake', 'buckets', 'security_hub'],
    collected: 'buckets',
    skipped: 'is not read by guardduty-wodle (only type="buckets" subscribers are)',
  },
};

/** Edits (insertions, deletions, substitutions) between two short strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known type the operator probably meant: the same but for case, or one or two edits away. */
export function nearest(type: string, known: readonly string[]): string | undefined {
  const lower = type.toLowerCase();
  const sameButCase = known.find((k) => k === lower);
  if (sameButCase) return sameButCase;
  const shortened = lower.length >= 3 ? known.find((k) => k.startsWith(lower) || lower.startsWith(k)) : undefined;
  if (shortened) return shortened;
  const scored = known.map((k) => ({ k, d: distance(lower, k) })).sort((x, y) => x.d - y.d);
  const best = scored[0];
  return best && best.d <= Math.max(1, Math.min(2, Math.floor(best.k.length / 3))) ? best.k : undefined;
}
