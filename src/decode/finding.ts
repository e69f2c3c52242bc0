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
export function reshape(object: JsonObject, lift: boolean): void {
  for (const key in object) {
    const value = object[key]!;
    if (value === null) delete object[key];
    else if (Array.isArray(value)) {
      if (lift && value.length === 1) object[key] = value[0]!;
    } else if (typeof value === 'object') reshape(value, lift);
  }
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

function wrapTags(aws: JsonObject): void {
  const tags = aws['tags'];
  if (tags !== undefined && !isObject(tags)) aws['tags'] = { value: tags };
}

/**
 * The events of one finding, as JSON text. A finding with several port-probe details becomes one event
 * per detail (with no other list lifted, as Wazuh does); any other finding becomes one event. The
 * finding must be nested no deeper than MAX_NESTING_DEPTH (what the framer hands on), or the walks
 * here and JSON.stringify overflow the stack.
 */
export function findingToEvents(finding: JsonObject, source: string, origin: EventOrigin): string[] {
  // Read before nulls are dropped, which cannot change it: a null is neither an object nor a list.
  const details = portProbeDetails(finding);
  // What the event adds around the finding (log_info, source, integration) holds no null and no list,
  // so walking the finding alone shapes the whole event.
  reshape(finding, details === null);
  const aws: JsonObject = {
    log_info: { aws_account_alias: origin.accountAlias, log_file: origin.key, s3bucket: origin.bucket },
    ...finding,
    source,
  };
  const event: JsonObject = { integration: 'aws', aws };
  wrapTags(aws);
  if (details === null) return [JSON.stringify(event)];
  const probe = ((aws['service'] as JsonObject)['action'] as JsonObject)['portProbeAction'] as JsonObject;
  return details.map((detail) => {
    probe['portProbeDetails'] = detail;
    return JSON.stringify(event);
  });
}

/** The finding's id, for log lines; '' when it has none. */
export function findingId(finding: JsonObject): string {
  const id = finding['id'] ?? finding['Id'];
  return typeof id === 'string' ? id : '';
}
