import { updateReasonText } from '../policy/updates.js';
import { ReadOnlyState, type FindingVersionRow } from '../state/report.js';
import { humanTime, isoTime } from './format.js';

// `guardduty-wodle explain --finding ID`: the versions of a finding the collector saw (with
// finding_updates changed or first), which were sent and why, from the state alone.

export interface FindingExplanation {
  id: string;
  state: string;
  versions: Array<Omit<FindingVersionRow, 'updatedAt' | 'seenAt'> & { updatedAt: string | null; seenAt: string; reason: string }>;
}

export function readFindingExplanation(statePath: string, id: string): FindingExplanation {
  const reader = ReadOnlyState.open(statePath);
  try {
    const versions = reader.findingVersions(id).map((v) => ({
      ...v,
      updatedAt: v.updatedAt === null ? null : isoTime(v.updatedAt),
      seenAt: isoTime(v.seenAt),
      reason: updateReasonText(v, null),
    }));
    return { id, state: statePath, versions };
  } finally {
    reader.close();
  }
}

export function formatFindingExplanation(e: FindingExplanation): string {
  if (e.versions.length === 0) {
    return (
      `finding ${e.id}: no version recorded in ${e.state}. Versions are recorded only for buckets and subscribers with ` +
      '<finding_updates> changed or first, and forgotten 90 days after the id was last seen.\n'
    );
  }
  const sent = e.versions.filter((v) => v.sent).length;
  const lines = [`finding ${e.id}: ${e.versions.length} version(s) seen, ${sent} sent`, ''];
  for (const v of e.versions) {
    lines.push(`  ${v.sent ? 'SENT       ' : 'HELD BACK  '} updatedAt ${v.updatedAt ?? 'none'}, seen ${humanTime(Date.parse(v.seenAt))} in s3://${v.bucket}/${v.key}`);
    lines.push(`             ${v.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
