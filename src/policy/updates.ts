import { createHash } from 'node:crypto';
import type { FindingUpdates } from '../config/types.js';
import type { JsonObject } from '../decode/finding.js';

// What a re-export of a finding means (`<finding_updates>`). GuardDuty updates a finding in place while
// its activity goes on (same id, a higher service.count, a later updatedAt) and exports every update
// again; each export would be a new alert. Pure: the version seen and the version last sent in, the
// decision out, the same for the collector, the SQS subscriber and `explain --finding`.

/** How long the versions of a finding are kept after its id was last seen: GuardDuty's own retention. */
export const FINDING_VERSIONS_KEPT_DAYS = 90;

/** What is compared between two versions of a finding: changes of these make a new alert. */
export interface VersionFacts {
  /** The finding's own `updatedAt`, ms; null when it has none that parses. */
  updatedAt: number | null;
  severity: string;
  type: string;
  /** A digest of `resource` (its JSON with members sorted). */
  resource: string;
  /** `service.archived`, as text ('' when absent). */
  archived: string;
}

/** Why a version is sent, or not. */
export type UpdateReason =
  | 'every-export'
  | 'first-seen'
  | 'no-updated-at'
  | 'changed'
  | 'interval'
  | 'not-newer'
  | 'unchanged'
  | 'sent-once';

export interface UpdateDecision {
  send: boolean;
  why: UpdateReason;
  /** With `changed`: which of severity, type, resource, archived differ from the version last sent. */
  changed: string[];
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The facts of a finding compared between versions (read before it is shaped into events). */
export function versionFacts(finding: JsonObject): VersionFacts {
  const updated = typeof finding['updatedAt'] === 'string' ? Date.parse(finding['updatedAt']) : NaN;
  const service = finding['service'];
  const archived = typeof service === 'object' && service !== null && !Array.isArray(service) ? service['archived'] : undefined;
  return {
    updatedAt: Number.isFinite(updated) ? updated : null,
    severity: JSON.stringify(finding['severity'] ?? null),
    type: String(finding['type'] ?? ''),
    resource: createHash('sha256').update(canonical(finding['resource'] ?? null)).digest('base64url').slice(0, 22),
    archived: archived === undefined ? '' : JSON.stringify(archived),
  };
}

/** Whether this version of a finding is sent, given the version last sent of its id (if any). */
export function decideUpdate(updates: FindingUpdates, version: VersionFacts, lastSent: VersionFacts | undefined): UpdateDecision {
  const decision = (send: boolean, why: UpdateReason, changed: string[] = []): UpdateDecision => ({ send, why, changed });
  if (updates.mode === 'all') return decision(true, 'every-export');
  if (lastSent === undefined) return decision(true, 'first-seen');
  // A version with no updatedAt cannot be placed among the others: sending it is the safe side.
  if (version.updatedAt === null || lastSent.updatedAt === null) return decision(true, 'no-updated-at');
  if (version.updatedAt <= lastSent.updatedAt) return decision(false, 'not-newer');
  if (updates.mode === 'first') return decision(false, 'sent-once');
  const changed = (['severity', 'type', 'resource', 'archived'] as const).filter((fact) => version[fact] !== lastSent[fact]);
  if (changed.length > 0) return decision(true, 'changed', changed);
  if (version.updatedAt - lastSent.updatedAt >= updates.everySeconds * 1000) return decision(true, 'interval');
  return decision(false, 'unchanged');
}

/** The decision in words, for the debug line and `explain --finding`. */
export function updateReasonText(decision: Pick<UpdateDecision, 'why' | 'changed'>, updates: Pick<FindingUpdates, 'everySeconds'> | null): string {
  switch (decision.why) {
    case 'every-export':
      return 'sent: finding_updates is all, every export is sent';
    case 'first-seen':
      return 'sent: the first version of this id';
    case 'no-updated-at':
      return 'sent: it (or the version last sent) has no updatedAt to compare';
    case 'changed':
      return `sent: its ${decision.changed.join(', ')} changed since the version last sent`;
    case 'interval':
      return `sent: its updatedAt is ${updates === null ? 'finding_updates_every' : `${updates.everySeconds} s`} or more past the version last sent (finding_updates_every)`;
    case 'not-newer':
      return 'not sent: its updatedAt is not newer than the version last sent (a late or repeated export)';
    case 'unchanged':
      return 'not sent: only counts, times and details changed since the version last sent (finding_updates changed)';
    case 'sent-once':
      return 'not sent: this id was sent once already (finding_updates first)';
  }
}
