// A cap on how deeply a document may nest. JSON.parse is iterative in V8 and reads a million levels,
// but what comes after recurses: null dropping, list lifting, discard_regex paths through lists, and
// JSON.stringify itself, which overflows the stack at about 4,500 levels (fewer on a deeper stack). An
// overflow there escapes the per-line handling and takes the whole object down, so a document deeper
// than the cap is reported as a malformed line instead. Real GuardDuty findings nest fewer than 20
// levels; 512 leaves room for anything plausible, keeps every later walk far from the stack limit, and
// keeps the event (two levels more) under the 1,000 levels Wazuh's JSON decoder (cJSON) accepts.

export const MAX_NESTING_DEPTH = 512;

/** The reason a document or message deeper than the cap is reported with. */
export function tooDeepReason(what: string, maxDepth: number): string {
  return `${what} is nested more than ${maxDepth} levels deep (arrays and objects), past the nesting cap`;
}

// Reused between calls (the decoder is synchronous): no allocation per document on the hot path.
const stack: object[] = [];
const depths: number[] = [];

/**
 * Whether `value` nests more than `maxDepth` levels of arrays and objects (a scalar is depth 0, `{}` and
 * `[]` are depth 1). Iterative, depth first, so a deep chain is found after `maxDepth` steps; an ordinary
 * finding costs one look at each of its values.
 */
export function nestedDeeperThan(value: unknown, maxDepth = MAX_NESTING_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (maxDepth < 1) return true;
  let top = 0;
  stack[0] = value;
  depths[0] = 1;
  top = 1;
  let deeper = false;
  walk: while (top > 0) {
    top--;
    const container = stack[top]!;
    const depth = depths[top]!;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const child: unknown = container[i];
        if (typeof child === 'object' && child !== null) {
          if (depth >= maxDepth) {
            deeper = true;
            break walk;
          }
          stack[top] = child;
          depths[top] = depth + 1;
          top++;
        }
      }
    } else {
      const record = container as Record<string, unknown>;
      for (const key in record) {
        const child = record[key];
        if (typeof child === 'object' && child !== null) {
          if (depth >= maxDepth) {
            deeper = true;
            break walk;
          }
          stack[top] = child;
          depths[top] = depth + 1;
          top++;
        }
      }
    }
  }
  // Hold no document alive between calls.
  stack.length = 0;
  return deeper;
}
