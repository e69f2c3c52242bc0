// Finding → Wazuh events, exactly as Wazuh's aws-s3 module shapes GuardDuty findings (CONTRACT.md),
// so that Wazuh's GuardDuty rules and dashboards work unchanged. Pure functions; they take ownership
// of the finding object and may change it.

type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export interface EventOrigin {
  bucket: string;
  key: string;
  accountAlias: string;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Drops null members and, when `lift`, replaces single-element lists by their element; both walk down
 * through objects only, and a lifted element is not walked. One pass does what the contract's two do
 * (all nulls first, then all lifts): both passes reach the same objects, since dropping removes no
 * object and a lifted element is walked by neither, and a list is never null, so a list of one `null`
 * becomes `null` and stays, as it does after two passes. Recursive, which is safe because the framer
 * caps a document's nesting (depth.ts): a finding from it is at most MAX_NESTING_DEPTH deep.
 */
export function reshape(object: JsonObject, lift: boolean): number {
  let fields = 0;
  for (const key in object) {
    const value = object[key]!;
    if (value === null) delete object[key];
    else if (Array.isArray(value)) {
      if (lift && value.length === 1) {
        object[key] = value[0]!;
        fields += fieldsOf(value[0]!);
      } else fields++;
    } else if (typeof value === 'object') fields += reshape(value, lift);
    else fields++;
  }
  return fields;
}

/**
 * The fields Wazuh 4.x analysisd's JSON decoder counts in a value (emit/analysisd.ts): each scalar and
 * each array one, objects walked.
 */
export function fieldsOf(value: Json): number {
  if (!isObject(value)) return 1;
  let fields = 0;
  for (const key in value) fields += fieldsOf(value[key]!);
  return fields;
}

function portProbeDetails(aws: JsonObject): Json[] | null {
  const service = aws['service'];
  if (!isObject(service)) return null;
  const action = service['action'];
  if (!isObject(action)) return null;
  const probe = action['portProbeAction'];
  if (!isObject(probe)) return null;
  const details = probe['portProbeDetails'];
  return Array.isArray(details) && details.length > 1 ? details : null;
}

function wrapTags(finding: JsonObject): void {
  const tags = finding['tags'];
  if (tags !== undefined && !isObject(tags)) finding['tags'] = { value: tags };
}

/**
 * One event as the outputs take it: its JSON in Wazuh's order (`file:`, `unix:`, `stdout`), its JSON
 * with what Wazuh's rules read first (the Wazuh socket and engine), and its fields as analysisd counts
 * them. Only the orders asked for are made; an order not asked for is ''.
 */
export interface ShapedEvent {
  json: string;
  rulesJson: string;
  fields: number;
}

/** Which JSON texts of an event the outputs need (EventOrders of emit/index.ts). */
export interface EventOrders {
  wazuh: boolean;
  rules: boolean;
}

export const BOTH_ORDERS: EventOrders = { wazuh: true, rules: true };

/** The members of `aws` Wazuh's GuardDuty rules (80300-80307) read, first in document order. */
const READ_BY_RULES = ['severity', 'type', 'title', 'id', 'accountId', 'region'];

/** Sets a member as JSON.parse would: a "__proto__" key stays a member instead of setting the prototype. */
function put(target: JsonObject, key: string, value: Json): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** `object` with `first` as its first member, the others after it in their order. */
function withFirst(object: JsonObject, first: string, value: Json): JsonObject {
  const ordered: JsonObject = {};
  put(ordered, first, value);
  for (const key in object) if (key !== first) put(ordered, key, object[key]!);
  return ordered;
}

/**
 * `aws` with what Wazuh's rules read first, since analysisd keeps only the first 256 fields of an
 * event: `source`, the members above, `service` with `action` and its `actionType` first; then the
 * rest, `log_info` first as Wazuh's wodle has it. Only the order of members differs from Wazuh's.
 */
function awsForRules(finding: JsonObject, source: string, logInfo: JsonObject): JsonObject {
  const aws: JsonObject = { source };
  for (const key of READ_BY_RULES) if (Object.hasOwn(finding, key)) aws[key] = finding[key]!;
  const service = finding['service'];
  if (isObject(service) && isObject(service['action']) && Object.hasOwn(service['action'], 'actionType')) {
    const action = withFirst(service['action'], 'actionType', service['action']['actionType']!);
    aws['service'] = withFirst(service, 'action', action);
  }
  // As in Wazuh's order, a finding's own log_info (none has one) would stand in place of the origin's.
  aws['log_info'] = Object.hasOwn(finding, 'log_info') ? finding['log_info']! : logInfo;
  for (const key in finding) if (!Object.hasOwn(aws, key)) put(aws, key, finding[key]!);
  return aws;
}

/**
 * The events of one finding. A finding with several port-probe details becomes one event per detail
 * (with no other list lifted, as Wazuh does); any other finding becomes one event. The finding must be
 * nested no deeper than MAX_NESTING_DEPTH (what the framer hands on), or the walks here and
 * JSON.stringify overflow the stack.
 */
export function findingToEvents(finding: JsonObject, source: string, origin: EventOrigin, orders: EventOrders = BOTH_ORDERS): ShapedEvent[] {
  // Read before nulls are dropped, which cannot change it: a null is neither an object nor a list.
  const details = portProbeDetails(finding);
  // What the event adds around the finding (log_info, source, integration) holds no null and no list,
  // so walking the finding alone shapes the whole event.
  let fields = reshape(finding, details === null);
  const logInfo = { aws_account_alias: origin.accountAlias, log_file: origin.key, s3bucket: origin.bucket };
  // A scalar or list of tags wrapped in an object stays one field.
  wrapTags(finding);
  // integration, source and the three members of log_info.
  fields += 5;
  // Both orders share the finding's members: a port-probe detail set in it is in both.
  const wazuhEvent: JsonObject | null = orders.wazuh ? { integration: 'aws', aws: { log_info: logInfo, ...finding, source } } : null;
  const rulesEvent: JsonObject | null = orders.rules ? { integration: 'aws', aws: awsForRules(finding, source, logInfo) } : null;
  const texts = (eventFields: number): ShapedEvent => ({
    json: wazuhEvent ? JSON.stringify(wazuhEvent) : '',
    rulesJson: rulesEvent ? JSON.stringify(rulesEvent) : '',
    fields: eventFields,
  });
  if (details === null) return [texts(fields)];
  const probe = ((finding['service'] as JsonObject)['action'] as JsonObject)['portProbeAction'] as JsonObject;
  return details.map((detail) => {
    probe['portProbeDetails'] = detail;
    // The list of details counted as one field is now one detail, walked.
    return texts(fields - 1 + fieldsOf(detail));
  });
}

/** AWS's severity classes: low 1.0-3.9, medium 4.0-6.9, high 7.0-8.9, critical 9.0-10.0. */
export type SeverityClass = 'low' | 'medium' | 'high' | 'critical';

export const SEVERITY_CLASSES: readonly SeverityClass[] = ['low', 'medium', 'high', 'critical'];

/** The class of a finding's `severity` (a number, or its text), or null when it has none that is one. */
export function severityClass(severity: Json | undefined): SeverityClass | null {
  const value = typeof severity === 'number' ? severity : typeof severity === 'string' && severity.trim() !== '' ? Number(severity) : NaN;
  if (!Number.isFinite(value)) return null;
  if (value >= 9) return 'critical';
  if (value >= 7) return 'high';
  if (value >= 4) return 'medium';
  return 'low';
}

/** How many events a finding becomes (one per port-probe detail when it holds several). */
export function eventCount(finding: JsonObject): number {
  return portProbeDetails(finding)?.length ?? 1;
}

/** The finding's id, for log lines; '' when it has none. */
export function findingId(finding: JsonObject): string {
  const id = finding['id'] ?? finding['Id'];
  return typeof id === 'string' ? id : '';
}
