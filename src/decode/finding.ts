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

/** Drops null members, walking down through objects only (lists are left as they are). */
export function dropNulls(object: JsonObject): void {
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === null) delete object[key];
    else if (isObject(value)) dropNulls(value);
  }
}

/** Replaces single-element lists by their element, walking through objects only; a lifted element is not walked. */
export function liftSingletons(object: JsonObject): void {
  for (const key of Object.keys(object)) {
    const value = object[key]!;
    if (Array.isArray(value)) {
      if (value.length === 1) object[key] = value[0]!;
    } else if (isObject(value)) liftSingletons(value);
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
 * per detail (with no other list lifted, as Wazuh does); any other finding becomes one event.
 */
export function findingToEvents(finding: JsonObject, source: string, origin: EventOrigin): string[] {
  dropNulls(finding);
  const aws: JsonObject = {
    log_info: { aws_account_alias: origin.accountAlias, log_file: origin.key, s3bucket: origin.bucket },
    ...finding,
    source,
  };
  const event: JsonObject = { integration: 'aws', aws };
  const details = portProbeDetails(aws);
  if (details === null) {
    liftSingletons(event);
    wrapTags(aws);
    return [JSON.stringify(event)];
  }
  wrapTags(aws);
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
