import { MAX_NESTING_DEPTH, nestedDeeperThan, tooDeepReason } from './depth.js';
import { isObject, type JsonObject } from './finding.js';

// What one JSON document holds: bare findings (native exports), EventBridge events (Firehose),
// {"findings": [...]} wrappers, SNS notifications carrying an EventBridge event as a string.

export interface FoundFinding {
  finding: JsonObject;
  /** Wazuh's `source`: `guardduty`, or an EventBridge source less its `aws.` prefix. */
  source: string;
}

export interface Unwrapped {
  findings: FoundFinding[];
  /** Documents that hold no finding, with why (another detail-type, not a finding at all). */
  skipped: string[];
  /** What holds a finding that cannot be read (an SNS message nested past the cap), with why. */
  malformed: string[];
}

const FINDING_DETAIL_TYPE = 'GuardDuty Finding';

function looksLikeFinding(value: JsonObject): boolean {
  return typeof value['type'] === 'string' && (typeof value['id'] === 'string' || typeof value['schemaVersion'] === 'string');
}

function collect(value: unknown, into: Unwrapped, depth: number): void {
  if (depth > 4) {
    into.skipped.push('wrapped too deeply');
    return;
  }
  if (Array.isArray(value)) {
    for (const item of value) collect(item, into, depth + 1);
    return;
  }
  if (!isObject(value)) {
    into.skipped.push(`a JSON ${value === null ? 'null' : typeof value}, not a finding`);
    return;
  }
  if ('detail-type' in value) {
    const detailType = value['detail-type'];
    const detail = value['detail'];
    if (detailType !== FINDING_DETAIL_TYPE || !isObject(detail)) {
      into.skipped.push(`EventBridge event with detail-type "${String(detailType)}"`);
      return;
    }
    const source = typeof value['source'] === 'string' ? value['source'].replace(/^aws\./, '') : 'guardduty';
    into.findings.push({ finding: detail, source });
    return;
  }
  const list = value['findings'] ?? value['Findings'];
  if (Array.isArray(list)) {
    collect(list, into, depth + 1);
    return;
  }
  const records = value['Records'];
  if (Array.isArray(records)) {
    for (const record of records) {
      const message = isObject(record) && isObject(record['Sns']) ? record['Sns']['Message'] : undefined;
      if (typeof message !== 'string') {
        into.skipped.push('a Records entry without an SNS message');
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(message);
      } catch {
        into.skipped.push('an SNS message that is not JSON');
        continue;
      }
      // Parsed from a string, so the document's own nesting check did not see inside it.
      if (nestedDeeperThan(parsed, MAX_NESTING_DEPTH)) into.malformed.push(tooDeepReason('an SNS message', MAX_NESTING_DEPTH));
      else collect(parsed, into, depth + 1);
    }
    return;
  }
  if (looksLikeFinding(value)) {
    into.findings.push({ finding: value, source: 'guardduty' });
    return;
  }
  if (isObject(value['detail']) && looksLikeFinding(value['detail'])) {
    into.findings.push({ finding: value['detail'], source: 'guardduty' });
    return;
  }
  into.skipped.push('an object that is not a GuardDuty finding');
}

export function unwrap(value: unknown): Unwrapped {
  const into: Unwrapped = { findings: [], skipped: [], malformed: [] };
  collect(value, into, 0);
  return into;
}
