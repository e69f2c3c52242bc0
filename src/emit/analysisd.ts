// What Wazuh 4.x analysisd makes of one event: it reads at most 65,535 bytes of a message (the rest is
// cut, and the JSON no longer parses), and its JSON decoder keeps only the first 256 fields in document
// order (decoder_order_size; every scalar and every array is one field, objects are walked), so a field
// a rule needs must come early: events are shaped with those first (decode/finding.ts). A finding that
// would still not be read whole is trimmed here, knowing what a GuardDuty finding holds. Pure: an event
// in, an event out, the same way every time.

import { fieldsOf, isObject, type JsonObject } from '../decode/finding.js';

/** Bytes of one message analysisd reads, the `1:Wazuh-AWS:` header included. */
export const ANALYSISD_MAX_BYTES = 65_535;
/** Fields analysisd's JSON decoder keeps (decoder_order_size's default). */
export const ANALYSISD_MAX_FIELDS = 256;

type Json = JsonObject[string];
/** An event as JSON.parse gives it back. */
export type EventObject = JsonObject;


/** What trimming cut: where, and how much of how much. */
export interface Cut {
  path: string;
  /** Elements (of a list) or members (of an object) taken out, or 1 for a value replaced. */
  removed: number;
  of: number;
}

export interface Fitted {
  event: JsonObject;
  json: string;
  /** Empty when the event fitted as it was. */
  cuts: Cut[];
}

/** Whether analysisd reads this message whole: its bytes with the header, and its fields. */
export function fits(json: string, headerBytes: number, fields: number): boolean {
  return fields <= ANALYSISD_MAX_FIELDS && Buffer.byteLength(json) + headerBytes <= ANALYSISD_MAX_BYTES;
}

const numberOrZero = (value: Json | undefined): number => (typeof value === 'number' ? value : Number(value) || 0);

/** Signals the most severe first; ties, the latest `lastSeenAt` first; then as they came. */
function bySeverity(signals: Json[]): Json[] {
  return signals
    .map((signal, index) => ({ signal, index }))
    .sort((a, b) => {
      const sa = isObject(a.signal) ? a.signal : {};
      const sb = isObject(b.signal) ? b.signal : {};
      return numberOrZero(sb['severity']) - numberOrZero(sa['severity']) || numberOrZero(sb['lastSeenAt']) - numberOrZero(sa['lastSeenAt']) || a.index - b.index;
    })
    .map(({ signal }) => signal);
}

/** Members of a GuardDuty finding that trimming never takes out, as paths under `aws`. */
const KEPT = new Set([
  'aws',
  'aws.source',
  'aws.severity',
  'aws.type',
  'aws.title',
  'aws.id',
  'aws.accountId',
  'aws.region',
  'aws.description',
  'aws.log_info',
  'aws.service',
  'aws.service.action',
  'aws.service.action.actionType',
  'aws.service.detection',
  'aws.service.detection.sequence',
  'aws.service.detection.sequence.uid',
  'aws.service.detection.sequence.description',
  'aws.service.detection.sequence.signals',
  'aws.truncated',
  'aws.truncation',
]);

function sequenceOf(event: JsonObject): JsonObject | null {
  const aws = event['aws'];
  const service = isObject(aws) ? aws['service'] : undefined;
  const detection = isObject(service) ? service['detection'] : undefined;
  const sequence = isObject(detection) ? detection['sequence'] : undefined;
  return isObject(sequence) ? sequence : null;
}

/** The largest member (by its JSON bytes) that may be taken out, with its parent and path: first in document order on ties. */
function largestRemovable(event: JsonObject): { parent: JsonObject; key: string; path: string; size: number; count: number } | null {
  let best: { parent: JsonObject; key: string; path: string; size: number; count: number } | null = null;
  const visit = (object: JsonObject, path: string) => {
    for (const [key, value] of Object.entries(object)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (!KEPT.has(childPath) && childPath.startsWith('aws.')) {
        const size = JSON.stringify(value).length;
        if (best === null || size > best.size) best = { parent: object, key, path: childPath, size, count: Array.isArray(value) ? value.length : isObject(value) ? Object.keys(value).length : 1 };
      }
      if (isObject(value) && (KEPT.has(childPath) || childPath === '')) visit(value, childPath);
    }
  };
  visit(event, '');
  return best;
}

/**
 * Trims an event analysisd would not read whole so that it does, knowing GuardDuty: an attack
 * sequence first loses the signals' id lists, then its actors, resources, endpoints and indicators
 * details, then the least severe signals (the most severe, then the latest, are kept); any finding then
 * loses its largest members outside what the rules and an analyst need first (id, type, severity,
 * title, description, the sequence's uid and description). The event says it was cut and what:
 * `"truncated": true` and `truncation` (paths and counts).
 */
export function fitForAnalysisd(event: JsonObject, headerBytes: number): Fitted {
  const json = JSON.stringify(event);
  if (fits(json, headerBytes, fieldsOf(event))) return { event, json, cuts: [] };
  const trimmed = structuredClone(event);
  const aws = trimmed['aws'] as JsonObject;
  const cuts: Cut[] = [];
  const mark = () => {
    aws['truncated'] = true;
    aws['truncation'] = cuts.map((cut) => ({ path: cut.path, removed: cut.removed, of: cut.of }));
  };
  const done = () => {
    mark();
    const text = JSON.stringify(trimmed);
    return fits(text, headerBytes, fieldsOf(trimmed)) ? text : null;
  };
  const sequence = sequenceOf(trimmed);
  if (sequence !== null) {
    const signals = Array.isArray(sequence['signals']) ? sequence['signals'] : [];
    for (const list of ['resourceUids', 'actorIds', 'endpointIds']) {
      let removed = 0;
      for (const signal of signals) {
        if (isObject(signal) && Array.isArray(signal[list])) {
          removed += signal[list].length;
          delete signal[list];
        }
      }
      if (removed > 0) cuts.push({ path: `aws.service.detection.sequence.signals[].${list}`, removed, of: removed });
      const text = done();
      if (text !== null) return { event: trimmed, json: text, cuts };
    }
    for (const detail of ['actors', 'resources', 'endpoints', 'sequenceIndicators', 'additionalSequenceTypes']) {
      const value = sequence[detail];
      if (value === undefined) continue;
      delete sequence[detail];
      cuts.push({ path: `aws.service.detection.sequence.${detail}`, removed: Array.isArray(value) ? value.length : 1, of: Array.isArray(value) ? value.length : 1 });
      const text = done();
      if (text !== null) return { event: trimmed, json: text, cuts };
    }
    if (signals.length > 0) {
      const ranked = bySeverity(signals);
      const cut: Cut = { path: 'aws.service.detection.sequence.signals', removed: 0, of: signals.length };
      cuts.push(cut);
      // The most signals that fit: fewer fit whenever more do, so a binary search finds it.
      let low = 0;
      let high = ranked.length;
      while (low < high) {
        const middle = Math.ceil((low + high) / 2);
        sequence['signals'] = ranked.slice(0, middle);
        cut.removed = ranked.length - middle;
        if (done() !== null) low = middle;
        else high = middle - 1;
      }
      sequence['signals'] = ranked.slice(0, low);
      cut.removed = ranked.length - low;
      if (cut.removed === 0) cuts.pop();
      const text = done();
      if (text !== null) return { event: trimmed, json: text, cuts };
    }
  }
  for (let round = 0; round < 10_000; round++) {
    const text = done();
    if (text !== null) return { event: trimmed, json: text, cuts };
    const target = largestRemovable(trimmed);
    if (target === null) break;
    delete target.parent[target.key];
    cuts.push({ path: target.path, removed: target.count, of: target.count });
  }
  // Only what is kept is left, and still too much (a description of 64 KiB): cut the longest strings.
  const text = done();
  if (text !== null) return { event: trimmed, json: text, cuts };
  return cutLongStrings(trimmed, headerBytes, cuts, mark);
}

function cutLongStrings(event: JsonObject, headerBytes: number, cuts: Cut[], mark: () => void): Fitted {
  for (let round = 0; round < 1_000; round++) {
    let longest: { parent: JsonObject; key: string; path: string; length: number } | null = null;
    const visit = (object: JsonObject, path: string) => {
      for (const [key, value] of Object.entries(object)) {
        const childPath = path === '' ? key : `${path}.${key}`;
        if (typeof value === 'string' && (longest === null || value.length > longest.length)) longest = { parent: object, key, path: childPath, length: value.length };
        if (isObject(value)) visit(value, childPath);
      }
    };
    visit(event, '');
    if (longest === null) break;
    const target: { parent: JsonObject; key: string; path: string; length: number } = longest;
    const value = target.parent[target.key] as string;
    target.parent[target.key] = value.length <= 16 ? '' : `${value.slice(0, Math.floor(value.length / 2))}…`;
    cuts.push({ path: target.path, removed: 1, of: 1 });
    mark();
    const text = JSON.stringify(event);
    if (fits(text, headerBytes, fieldsOf(event))) return { event, json: text, cuts };
  }
  mark();
  return { event, json: JSON.stringify(event), cuts };
}
