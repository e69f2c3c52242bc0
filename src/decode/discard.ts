import type { DiscardRule } from '../config/load.js';
import { isObject, type JsonObject } from './finding.js';

// discard_regex keeps Wazuh's meaning: the pattern must match at the start of the value (Python's
// re.match), the field is a dot path that goes through lists (any element matching discards), and it
// is applied to the finding as read, before any reshaping. Numbers and booleans are matched against
// their JSON text, which Wazuh cannot do.

export interface CompiledDiscardRule {
  path: string[];
  regex: RegExp;
}

export function compileDiscardRules(rules: DiscardRule[]): CompiledDiscardRule[] {
  // The sticky flag anchors each match at lastIndex 0, which is what re.match does.
  return rules.map((rule) => ({ path: rule.field.split('.'), regex: new RegExp(rule.pattern, 'y') }));
}

function matches(value: unknown, path: string[], regex: RegExp): boolean {
  if (Array.isArray(value)) return value.some((item) => matches(item, path, regex));
  if (path.length === 0) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      regex.lastIndex = 0;
      return regex.test(typeof value === 'string' ? value : JSON.stringify(value));
    }
    return false;
  }
  if (!isObject(value)) return false;
  const [head, ...rest] = path as [string, ...string[]];
  return head in value && matches(value[head], rest, regex);
}

/** The rule that discards this finding, or null to keep it. */
export function discardedBy(finding: JsonObject, rules: CompiledDiscardRule[]): CompiledDiscardRule | null {
  return rules.find((rule) => matches(finding, rule.path, rule.regex)) ?? null;
}
