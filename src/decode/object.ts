import { DEFAULT_MAX_DOCUMENT_BYTES, DocumentSplitter } from './documents.js';
import { discardedBy, type CompiledDiscardRule } from './discard.js';
import { unwrap } from './envelope.js';
import { BOTH_ORDERS, eventCount, findingId, findingToEvents, severityClass, type EventOrders, type EventOrigin, type JsonObject, type SeverityClass } from './finding.js';
import { ObjectError } from '../errors.js';
import { decompress, type Encoding } from './decompress.js';
import type { EncodedEvent } from '../event-batch.js';

export interface ObjectCounts {
  findings: number;
  events: number;
  discarded: number;
  /** Documents that hold no finding (other EventBridge detail-types, other objects). */
  skipped: number;
  /** Text that is not JSON, or JSON cut short: reported one by one. */
  malformed: number;
  /** Re-exports of findings already sent that finding_updates held back. */
  suppressed: number;
  /** Findings delivered, by AWS's severity class. */
  severities: Record<SeverityClass, number>;
  encoding: Encoding | null;
}

export interface DecodeOptions {
  origin: EventOrigin;
  /** The JSON texts of each event the outputs take (both unless told). */
  orders?: EventOrders;
  /** finding_updates other than all: whether a finding is sent (policy/updates.ts). */
  updates?(finding: JsonObject): boolean;
  /**
   * Called with events in order, a batch at a time; the next batch waits for it (backpressure). An
   * event marked `suppressed` is a place, not an event: finding_updates held its finding back.
   */
  discard: CompiledDiscardRule[];
  deliver(events: EncodedEvent[]): Promise<void>;
  malformed(line: number, reason: string): void;
  skipped(line: number, reason: string): void;
  batchBytes?: number;
  maxDocumentBytes?: number;
  maxObjectBytes?: number;
  /**
   * Leading events not to deliver again: a retry of an object that failed part-way, whose first
   * events already reached the outputs. Decoding the same bytes yields the same events in order.
   */
  skipEvents?: number;
}

// Objects whose events fit in one batch reach the outputs all at once or not at all.
const DEFAULT_BATCH_BYTES = 64 * 1024;

/** Events shaped from the documents of one object, gathered into the next batch. */
class EventGatherer {
  batch: EncodedEvent[] = [];
  pendingBytes = 0;
  private toSkip: number;

  constructor(
    private readonly counts: ObjectCounts,
    private readonly options: DecodeOptions,
  ) {
    this.toSkip = options.skipEvents ?? 0;
  }

  /** One JSON document: its findings become events, unless discarded or delivered by an earlier attempt. */
  document(value: unknown, line: number): void {
    const { counts, options } = this;
    const { findings, skipped, malformed } = unwrap(value);
    for (const reason of skipped) {
      counts.skipped++;
      options.skipped(line, reason);
    }
    for (const reason of malformed) {
      counts.malformed++;
      options.malformed(line, reason);
    }
    for (const { finding, source } of findings) {
      counts.findings++;
      if (discardedBy(finding, options.discard)) {
        counts.discarded++;
        continue;
      }
      const id = findingId(finding);
      // finding_updates decides per finding, before the port-probe split. A re-export not sent keeps its
      // places among the object's events (not shaped, not delivered), so that a retry skips the same ones.
      if (options.updates && !options.updates(finding)) {
        counts.suppressed++;
        for (let n = eventCount(finding); n > 0; n--) {
          if (this.toSkip > 0) this.toSkip--;
          else this.batch.push({ json: '', rulesJson: '', findingId: id, fields: 0, suppressed: true });
        }
        continue;
      }
      const severity = severityClass(finding['severity']);
      if (severity !== null) counts.severities[severity]++;
      for (const { json, rulesJson, fields } of findingToEvents(finding, source, options.origin, options.orders ?? BOTH_ORDERS)) {
        if (this.toSkip > 0) {
          this.toSkip--;
          counts.events++;
          continue;
        }
        this.batch.push({ json, rulesJson, findingId: id, fields });
        this.pendingBytes += Math.max(json.length, rulesJson.length);
      }
    }
  }

  /** Hands the batch gathered so far to the outputs (and waits for them). */
  async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    const events = this.batch;
    this.batch = [];
    this.pendingBytes = 0;
    for (const event of events) if (!event.suppressed) this.counts.events++;
    await this.options.deliver(events);
  }
}

/** Streams one object's body through decompression, framing, unwrapping and shaping to the outputs. */
export async function decodeObject(body: AsyncIterable<Buffer>, options: DecodeOptions): Promise<ObjectCounts> {
  const counts: ObjectCounts = { findings: 0, events: 0, discarded: 0, skipped: 0, malformed: 0, suppressed: 0, severities: { low: 0, medium: 0, high: 0, critical: 0 }, encoding: null };
  const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
  const events = new EventGatherer(counts, options);
  const splitter = new DocumentSplitter(
    {
      value: (value, line) => events.document(value, line),
      malformed(line, reason) {
        counts.malformed++;
        options.malformed(line, reason);
      },
    },
    options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES,
  );
  const { encoding, content } = await decompress(body, { maxBytes: options.maxObjectBytes });
  counts.encoding = encoding;
  for await (const chunk of content) {
    splitter.push(chunk);
    if (events.pendingBytes >= batchBytes) await events.flush();
  }
  splitter.end();
  if (counts.malformed > 0 && counts.findings === 0 && counts.skipped === 0) {
    throw new ObjectError(`no document in the object is valid JSON (${counts.malformed} bad)`);
  }
  await events.flush();
  return counts;
}
