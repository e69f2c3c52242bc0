// What decoding hands the outputs: each event's JSON text, and the events of one delivery encoded as
// JSON lines once, however many outputs take lines.

/** One event ready for the outputs, with what a log line about it needs. */
export interface EncodedEvent {
  /** In Wazuh's order, for `file:`, `unix:` and `stdout`. */
  json: string;
  /** With what Wazuh's rules read first, for the Wazuh socket and engine. */
  rulesJson: string;
  findingId: string;
  /** Its fields as Wazuh 4.x analysisd counts them (emit/analysisd.ts). */
  fields: number;
  /** A place only: finding_updates held this finding back; never handed to an output. */
  suppressed?: boolean;
}

/** The events of one delivery. `lines()` is computed on first use and shared by every output. */
export class EventBatch {
  private encoded: Buffer | null = null;

  constructor(readonly events: readonly EncodedEvent[]) {}

  get length(): number {
    return this.events.length;
  }

  /** Each event's JSON and a newline, in one buffer: one write carries the batch. */
  lines(): Buffer {
    return (this.encoded ??= jsonLines(this.events));
  }
}

/**
 * Events as newline-delimited JSON, written straight into one buffer of the exact size: concatenating
 * the strings first would make V8 flatten a copy of them all on the heap.
 */
export function jsonLines(events: readonly EncodedEvent[]): Buffer {
  return prefixedLines(events.map((event) => event.json), '');
}

/** Texts as lines, each `prefix` + the text + a newline, in one buffer of the exact size. */
export function prefixedLines(texts: readonly string[], prefix: string): Buffer {
  const prefixBytes = Buffer.byteLength(prefix);
  let bytes = 0;
  for (const text of texts) bytes += prefixBytes + Buffer.byteLength(text) + 1;
  const lines = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const text of texts) {
    if (prefixBytes > 0) at += lines.write(prefix, at);
    at += lines.write(text, at);
    lines[at++] = 0x0a;
  }
  return lines;
}
