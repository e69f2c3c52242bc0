import { parseFirehoseKey } from './firehose.js';
import { parseNativeKey } from './native.js';

/** Where a key named by a notification sits, for keys found without listing (SQS). */
export type LocatedKey =
  | { layout: 'native'; path: string; pathSuffix: string; account: string; region: string; day: string }
  | { layout: 'firehose'; path: string; day: string };

/**
 * Finds the GuardDuty layout of any key: a native export under some `<path>AWSLogs/[<suffix>/]`, or a
 * Firehose object under some `<path>` followed by its date folders. Null for anything else.
 */
export function locateKey(key: string): LocatedKey | null {
  for (let at = key.indexOf('AWSLogs/'); at >= 0; at = key.indexOf('AWSLogs/', at + 1)) {
    const path = key.slice(0, at);
    const rest = key.slice(at + 'AWSLogs/'.length);
    const suffix = /^(?!\d{12}\/)[^/]+\//.exec(rest)?.[0] ?? '';
    const native = parseNativeKey({ path, pathSuffix: suffix }, key);
    if (native) return { layout: 'native', path, pathSuffix: suffix, ...native };
  }
  const dated = /\d{4}\/\d{2}\/\d{2}\/\d{2}\/[^/]+$/.exec(key);
  if (dated) {
    const path = key.slice(0, dated.index);
    const firehose = parseFirehoseKey(path, key);
    if (firehose) return { layout: 'firehose', path, day: firehose.day };
  }
  return null;
}
