// Parsers for the value syntaxes of Wazuh's aws-s3 options. Each returns the parsed value or a
// reason string; the caller turns a reason into an error naming file, line and tag.

import { compileStartMatcher } from '../decode/discard.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

const INTERVAL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000 };

/** `Ns`, `Nm`, `Nh`, `Nd`, `Nw`, `NM` (a month counts as 30 days), or bare seconds. */
export function parseInterval(text: string): Parsed<number> {
  const match = /^(\d+)([smhdwM]?)$/.exec(text);
  if (!match) return fail('is not a valid interval (a whole number followed by s, m, h, d, w or M)');
  const seconds = Number(match[1]) * INTERVAL_UNITS[match[2] || 's']!;
  if (seconds <= 0) return fail('must be greater than zero');
  return ok(seconds);
}

/** Whole months when the interval was given as `NM`, else null (a schedule on a `day` needs months). */
export function intervalMonths(text: string): number | null {
  const match = /^(\d+)M$/.exec(text);
  return match ? Number(match[1]) : null;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** A day of the week by name (`monday`, `Mon`, any case); 0 is Sunday. */
export function parseWeekday(text: string): Parsed<number> {
  const lower = text.toLowerCase();
  const index = WEEKDAYS.findIndex((name) => name === lower || (lower.length === 3 && name.startsWith(lower)));
  return index < 0 ? fail('is not a day of the week (sunday … saturday)') : ok(index);
}

/** `hh:mm`, 24-hour. */
export function parseTimeOfDay(text: string): Parsed<string> {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!match || Number(match[1]) > 23 || Number(match[2]) > 59) return fail('is not a time of day (hh:mm, 00:00 to 23:59)');
  return ok(`${match[1]!.padStart(2, '0')}:${match[2]}`);
}

export function parseYesNo(text: string): Parsed<boolean> {
  const lower = text.toLowerCase();
  if (lower === 'yes') return ok(true);
  if (lower === 'no') return ok(false);
  return fail('must be yes or no');
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** `YYYY-MMM-DD` (Wazuh's form, any case) or ISO `YYYY-MM-DD`; returns ISO `YYYY-MM-DD`. */
export function parseDate(text: string): Parsed<string> {
  const match = /^(\d{4})-([A-Za-z]{3}|\d{2})-(\d{2})$/.exec(text);
  if (!match) return fail('is not a date (use YYYY-MMM-DD, e.g. 2026-NOV-01, or YYYY-MM-DD)');
  const [, y, m, d] = match as unknown as [string, string, string, string];
  const month = /^\d+$/.test(m) ? Number(m) : MONTHS.indexOf(m.toUpperCase()) + 1;
  const year = Number(y);
  const day = Number(d);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (month < 1 || month > 12 || date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return fail('is not a valid calendar date');
  }
  return ok(date.toISOString().slice(0, 10));
}

// AWS region names: an area prefix (us, eu, ap, cn, eusc …), words (gov, iso, de, east, southeast …)
// and a number. No list: regions AWS opens later must work without a release.
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

export function parseRegion(text: string): Parsed<string> {
  return REGION.test(text) ? ok(text) : fail('is not an AWS region name (like us-east-1, us-gov-west-1, cn-north-1)');
}

export function parseAccountId(text: string): Parsed<string> {
  return /^\d{12}$/.test(text) ? ok(text) : fail('is not a 12-digit AWS account id');
}

export function parseList<T>(text: string, item: (part: string) => Parsed<T>): Parsed<T[]> {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) return fail('has an empty entry in its comma-separated list');
  const values: T[] = [];
  for (const part of parts) {
    const parsed = item(part);
    if (!parsed.ok) return fail(`entry "${part}" ${parsed.reason}`);
    values.push(parsed.value);
  }
  return ok([...new Set(values)]);
}

const ROLE_ARN = /^arn:aws(-cn|-us-gov|-iso(-[a-z])?)?:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

export function parseRoleArn(text: string): Parsed<string> {
  return ROLE_ARN.test(text) ? ok(text) : fail('is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)');
}

export function parseIntegerRange(text: string, min: number, max: number): Parsed<number> {
  if (!/^\d+$/.test(text)) return fail('is not a whole number');
  const value = Number(text);
  return value >= min && value <= max ? ok(value) : fail(`must be between ${min} and ${max}`);
}

/**
 * A URL fit to print: the password of its userinfo (`https://user:pass@host`) becomes `****`, the
 * user name stays. Every place that prints service_endpoint or sts_endpoint goes through this (the
 * check-config JSON, configuration errors, "cannot reach" lines); the SDK alone gets the real URL.
 */
export function maskUrl(text: string): string {
  if (!text.includes('@')) return text;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text)?.[0];
  if (scheme !== undefined) {
    try {
      const url = new URL(text);
      if (url.password === '') return text;
      url.password = '****';
      // Keep the text as written otherwise: the URL parser adds a '/' to a bare origin.
      const bare = url.pathname === '/' && url.search === '' && url.hash === '' && !text.endsWith('/');
      return bare ? url.href.slice(0, -1) : url.href;
    } catch {
      // Not a URL the parser takes: handled as text below.
    }
  }
  // Not a URL (an error is about to quote it, perhaps without its scheme): everything from the
  // first ':' after the scheme to the last '@' is taken for the password.
  const prefix = scheme ?? '';
  const rest = text.slice(prefix.length);
  const colon = rest.indexOf(':');
  const at = rest.lastIndexOf('@');
  return colon >= 0 && colon < at ? `${prefix}${rest.slice(0, colon)}:****${rest.slice(at)}` : text;
}

/** Free text (an SDK error message) with every URL in it passed through maskUrl. */
export function maskUrlsIn(text: string): string {
  return text.includes('@') ? text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, maskUrl) : text;
}

export function parseUrl(text: string): Parsed<string> {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  try {
    const url = new URL(withScheme);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must be an http or https URL');
    return ok(withScheme.replace(/\/+$/, ''));
  } catch {
    return fail('is not a valid endpoint URL');
  }
}

// What a backtracking engine has and RE2 has not, to name it in the error rather than RE2's terse words.
const UNSUPPORTED: Array<[RegExp, string]> = [
  [/\(\?<?[=!]/, 'lookahead and lookbehind are not supported'],
  [/\\[1-9]|\\k<|\(\?P=/, 'back-references are not supported'],
  [/\(\?>/, 'atomic groups are not supported'],
  [/[*+?}]\+/, 'possessive quantifiers are not supported'],
];

/**
 * A discard_regex pattern, compiled by the engine that will run it (RE2, linear time): one it cannot
 * compile fails here, at load time, never while findings are read.
 */
export function parseRegex(text: string): Parsed<string> {
  try {
    compileStartMatcher(text);
    return ok(text);
  } catch (err) {
    const detail = (err as Error).message.replace(/^error parsing regexp: /, '');
    const hint = UNSUPPORTED.find(([shape]) => shape.test(text))?.[1];
    return fail(
      `is not a regular expression the RE2 engine accepts (${detail}): ` +
        (hint ? `${hint} by its linear-time matching` : 'RE2 syntax, without back-references, lookaround, possessive quantifiers or atomic groups'),
    );
  }
}

/** An S3 key prefix: no leading slash, and a trailing slash when not empty. */
export function normalisePrefix(text: string): string {
  const trimmed = text.replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}
