import type { EncodedEvent } from '../../src/event-batch.js';
import { decodeObject, type ObjectCounts } from '../../src/decode/object.js';
import { compileDiscardRules, type CompiledDiscardRule } from '../../src/decode/discard.js';
import type { EventOrigin } from '../../src/decode/finding.js';

/**
 * Decodes `bytes` as one object's body, handed over `chunkBytes` at a time (all at once by default),
 * gathering every event delivered and every malformed line reported.
 */
export async function decodeAll(
  bytes: Buffer,
  origin: EventOrigin,
  { discard = compileDiscardRules([]), chunkBytes = bytes.length || 1 }: { discard?: CompiledDiscardRule[]; chunkBytes?: number } = {},
): Promise<{ events: EncodedEvent[]; malformed: Array<[number, string]>; counts: ObjectCounts }> {
  const events: EncodedEvent[] = [];
  const malformed: Array<[number, string]> = [];
  const counts = await decodeObject(
    (async function* () {
      for (let i = 0; i < bytes.length; i += chunkBytes) yield bytes.subarray(i, i + chunkBytes);
    })(),
    {
      origin,
      discard,
      deliver: async (batch) => {
        events.push(...batch);
      },
      malformed: (line, reason) => malformed.push([line, reason]),
      skipped: () => {},
    },
  );
  return { events, malformed, counts };
}
