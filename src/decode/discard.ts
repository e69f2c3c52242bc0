import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';
import { isObject, type JsonObject } from './finding.js';

// discard_regex keeps Wazuh's meaning: the pattern must match at the start of the value (Python's
// re.match), the field is a dot path that goes through lists (any element matching discards), and it
// is applied to the finding as read, before any reshaping. Numbers and booleans are matched against
// their JSON text, which Wazuh cannot do.
//
// The engine is RE2 (re2js, a pure JavaScript port): matching takes time linear in the value, whatever
// the pattern, so a pattern like (a+)+$ cannot stall the event loop the way a backtracking engine
// (JavaScript's RegExp, Python's re) does on a value that almost matches. The price: no
// back-references, lookaround, possessive quantifiers or atomic groups; such a pattern does not
// compile, and the configuration loader reports it (config/values.ts parseRegex uses this function).

let engine: typeof RE2JS | null = null;

/** re2js, loaded on first use: a configuration without discard_regex does not pay for it at start-up. */
function re2(): typeof RE2JS {
  engine ??= (createRequire(import.meta.url)('re2js') as typeof import('re2js')).RE2JS;
  return engine;
}

/** A compiled discard pattern: does it match at the start of the text (re.match)? */
export type StartMatcher = (text: string) => boolean;

/** Compiles a pattern anchored at the start of the value; throws the engine's error when it cannot. */
export function compileStartMatcher(pattern: string): StartMatcher {
  const bare = re2().compile(pattern);
  // `^(?:…)` lets test() run on RE2's DFA, several times faster than a Matcher. The bare pattern
  // compiled, so its groups are balanced and the wrapper cannot change its meaning; the only patterns
  // that compile bare but not wrapped end in an unterminated \Q… quote, which swallows the `)`.
  let anchored: RE2JS | null = null;
  try {
    anchored = re2().compile(`^(?:${pattern})`);
  } catch {
    anchored = null;
  }
  if (anchored !== null) {
    const re = anchored;
    return (text) => re.test(text);
  }
  return (text) => bare.matcher(text).lookingAt();
}

export interface DiscardRule {
  field: string;
  pattern: string;
}

export interface CompiledDiscardRule {
  path: string[];
  pattern: string;
  matches: StartMatcher;
}

export function compileDiscardRules(rules: DiscardRule[]): CompiledDiscardRule[] {
  return rules.map((rule) => ({ path: rule.field.split('.'), pattern: rule.pattern, matches: compileStartMatcher(rule.pattern) }));
}

function matches(value: unknown, path: string[], test: StartMatcher): boolean {
  if (Array.isArray(value)) return value.some((item) => matches(item, path, test));
  if (path.length === 0) {
    if (typeof value === 'string') return test(value);
    if (typeof value === 'number' || typeof value === 'boolean') return test(JSON.stringify(value));
    return false;
  }
  if (!isObject(value)) return false;
  const [head, ...rest] = path as [string, ...string[]];
  return head in value && matches(value[head], rest, test);
}

/** The rule that discards this finding, or null to keep it. */
export function discardedBy(finding: JsonObject, rules: CompiledDiscardRule[]): CompiledDiscardRule | null {
  return rules.find((rule) => matches(finding, rule.path, rule.matches)) ?? null;
}
