import { ObjectError } from '../errors.js';
import { MAX_NESTING_DEPTH, nestedDeeperThan, tooDeepReason } from './depth.js';

// Streaming framing of JSON documents. GuardDuty's native exports are JSON Lines, Firehose
// concatenates documents with nothing between them, and real files carry pretty-printed documents
// and raw newlines between tokens. So documents are delimited by JSON structure (depth of braces and
// brackets outside strings), never by newlines or `}{`, and only one document is held at a time.
// A document nested deeper than the cap (depth.ts) is reported as malformed, never handed on: what
// reads it afterwards recurses.

export interface DocumentSink {
  /** A parsed document and the line it started on (1-based). */
  value(value: unknown, line: number): void;
  /** Text that is not a JSON document, or a document that does not parse; `line` is where it started. */
  malformed(line: number, reason: string): void;
}

export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

const CUT_OFF = 'document is cut off (unbalanced braces or an unterminated string)';

const LF = 0x0a;
// Positions the fast path caches per chunk: not looked for yet, and none left in the chunk.
const NOT_SEARCHED = -2;
const NONE_LEFT = -1;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(byte: number): boolean {
  // JSON whitespace, plus the bytes of a UTF-8 byte-order mark some writers put first.
  return byte === 0x20 || byte === LF || byte === 0x0d || byte === 0x09 || byte === 0xef || byte === 0xbb || byte === 0xbf;
}

export class DocumentSplitter {
  private depth = 0;
  private inString = false;
  private escaped = false;
  private line = 1;
  private docLine = 0;
  private parts: Buffer[] = [];
  private docBytes = 0;
  /** Inside text outside any document: skipped up to the end of its line. */
  private inGarbage = false;
  /** The deepest nesting the byte scanner has seen in the document being read. */
  private docDepth = 0;
  /** Where in the document's text the bracket that opened each level still open is (byte scanner). */
  private openAt = new Int32Array(64);
  /**
   * While end() reads a cut-off document's text again: where in that text (the first cut-off
   * document's, which every later retry is a suffix of) the buffer being scanned starts, else -1.
   */
  private retryBase = -1;
  /** Where the document being read starts in that text. */
  private docRoot = 0;
  /**
   * Brackets in that text, ascending, that are known never to be closed: a document starting at one
   * runs to the end of the stream whatever came before it, so a retry reports it at once instead of
   * scanning to the end again (which made a cut-off document of N nested lines cost N² bytes).
   */
  private cutOffAt: number[] = [];
  /** Cut-off documents reported one after another with nothing between: reported as one. */
  private pendingCutOff: { line: number; more: number; last: number } | null = null;
  /** Where the fast path last found a line end and a `}{` in the chunk being scanned. */
  private lineAt = NOT_SEARCHED;
  private joinAt = NOT_SEARCHED;

  constructor(
    private readonly sink: DocumentSink,
    private readonly maxDocumentBytes = DEFAULT_MAX_DOCUMENT_BYTES,
    private readonly maxDepth = MAX_NESTING_DEPTH,
  ) {}

  push(chunk: Buffer): void {
    let pending: Buffer | null = chunk;
    while (pending) pending = this.scan(pending);
  }

  /** Call at the end of the stream: an unfinished document is reported, and what follows its first line is read again. */
  end(): void {
    while (this.depth > 0) {
      const text = Buffer.concat(this.parts);
      this.noteUnclosed();
      this.cutOff(this.docLine);
      const start = this.docRoot;
      const retry = this.rewind(text);
      if (!retry) break;
      this.retryBase = start + text.length - retry.length;
      this.push(retry);
    }
    this.flushCutOff();
    this.parts = [];
    this.depth = 0;
    this.retryBase = -1;
    this.cutOffAt = [];
  }

  /** Records the brackets of the cut-off document still open at the end of the stream. */
  private noteUnclosed(): void {
    const root = this.docRoot;
    const unclosed: number[] = [];
    // Level 1 is the document itself, which is read again from its second line on.
    for (let level = 2; level <= this.depth; level++) unclosed.push(root + this.openAt[level]!);
    // What was known stays true (a bracket never closed stays so); only what lies ahead matters.
    const known = this.cutOffAt;
    const merged: number[] = [];
    let k = 0;
    while (k < known.length && known[k]! <= root) k++;
    let u = 0;
    while (k < known.length || u < unclosed.length) {
      const next = u >= unclosed.length || (k < known.length && known[k]! < unclosed[u]!) ? known[k++]! : unclosed[u++]!;
      if (merged.length === 0 || merged[merged.length - 1]! < next) merged.push(next);
    }
    this.cutOffAt = merged;
  }

  private knownCutOff(at: number): boolean {
    const known = this.cutOffAt;
    let low = 0;
    let high = known.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const value = known[mid]!;
      if (value === at) return true;
      if (value < at) low = mid + 1;
      else high = mid - 1;
    }
    return false;
  }

  private cutOff(line: number): void {
    const pending = this.pendingCutOff;
    if (pending === null) this.pendingCutOff = { line, more: 0, last: line };
    else {
      pending.more++;
      pending.last = line;
    }
  }

  private flushCutOff(): void {
    const pending = this.pendingCutOff;
    if (pending === null) return;
    this.pendingCutOff = null;
    const { line, more, last } = pending;
    this.sink.malformed(line, more === 0 ? CUT_OFF : `${CUT_OFF}; so are the ${more} documents that start after it, up to line ${last}`);
  }

  /** Everything handed to the sink goes through these two, after any cut-off report held back. */
  private deliver(value: unknown, line: number): void {
    if (this.pendingCutOff !== null) this.flushCutOff();
    this.sink.value(value, line);
  }

  private report(line: number, reason: string): void {
    if (this.pendingCutOff !== null) this.flushCutOff();
    this.sink.malformed(line, reason);
  }

  /** Scans one buffer; returns bytes to scan again after a bad document was rewound, else null. */
  private scan(chunk: Buffer): Buffer | null {
    this.lineAt = NOT_SEARCHED;
    this.joinAt = NOT_SEARCHED;
    let docStart = this.depth > 0 ? 0 : -1;
    const length = chunk.length;
    for (let i = 0; i < length; i++) {
      const byte = chunk[i]!;
      if (byte === LF) this.line++;
      if (this.depth === 0) {
        if (this.inGarbage) {
          if (byte === LF) this.inGarbage = false;
          continue;
        }
        if (isSpace(byte)) continue;
        if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          if (this.knownCutOffAt(i)) {
            // Read again to the end, this document would be cut off and rewound to its next line.
            this.cutOff(this.line);
            this.inGarbage = true;
            continue;
          }
          const end = this.wholeDocumentAt(chunk, i);
          if (end > 0) {
            i = end - 1;
            continue;
          }
          this.openDocument(i);
          docStart = i;
        } else {
          this.report(this.line, 'text outside a JSON document');
          this.inGarbage = true;
        }
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.openLevel(this.docBytes + i - docStart);
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          const retry = this.finishDocument(chunk.subarray(docStart, i + 1));
          if (retry) {
            // The bytes to read again run on to the end of this buffer, so they start retry.length before the document's end.
            if (this.retryBase >= 0) this.retryBase += i + 1 - retry.length;
            const rest = chunk.subarray(i + 1);
            return rest.length === 0 ? retry : Buffer.concat([retry, rest]);
          }
          docStart = -1;
        }
      }
    }
    if (docStart >= 0 && this.depth > 0) this.keep(chunk.subarray(docStart));
    return null;
  }

  /** The byte scanner takes the document opening at `at` in the chunk being scanned. */
  private openDocument(at: number): void {
    this.depth = 1;
    this.docDepth = 1;
    if (this.openAt.length > 4096) this.openAt = new Int32Array(64);
    this.openAt[1] = 0;
    this.docRoot = this.retryBase >= 0 ? this.retryBase + at : 0;
    this.inString = false;
    this.escaped = false;
    this.docLine = this.line;
    this.docBytes = 0;
  }

  /** Whether a document opening at `at` in the chunk being scanned is one an earlier retry found never closed. */
  private knownCutOffAt(at: number): boolean {
    return this.retryBase >= 0 && this.cutOffAt.length > 0 && this.knownCutOff(this.retryBase + at);
  }

  /** A bracket inside the document, `at` bytes into its text, opens one level deeper. */
  private openLevel(at: number): void {
    const depth = ++this.depth;
    if (depth > this.docDepth) this.docDepth = depth;
    if (depth >= this.openAt.length) {
      const grown = new Int32Array(this.openAt.length * 2);
      grown.set(this.openAt);
      this.openAt = grown;
    }
    this.openAt[depth] = at;
  }

  /**
   * The fast path for what real objects hold: a document that ends at the end of its line (JSON Lines)
   * or right before the next one (`}{`, Firehose). The candidate is parsed as it stands; if it does not
   * parse (a `}{` inside a string, a pretty-printed or broken document, a document running past this
   * chunk) nothing is reported and the byte scanner reads it instead, so results never depend on this.
   * Returns where the document ended (exclusive), or -1.
   */
  private wholeDocumentAt(chunk: Buffer, start: number): number {
    if (this.lineAt !== NONE_LEFT && this.lineAt < start) this.lineAt = chunk.indexOf(LF, start);
    if (this.joinAt !== NONE_LEFT && this.joinAt < start) this.joinAt = chunk.indexOf('}{', start);
    let end = this.lineAt;
    if (this.joinAt !== NONE_LEFT && (end === NONE_LEFT || this.joinAt < end)) end = this.joinAt + 1;
    if (end === NONE_LEFT) return -1;
    let last = end - 1;
    while (last > start && (chunk[last] === 0x0d || chunk[last] === 0x20 || chunk[last] === 0x09)) last--;
    const closing = chunk[last];
    if ((closing !== CLOSE_BRACE && closing !== CLOSE_BRACKET) || last + 1 - start > this.maxDocumentBytes) return -1;
    let value: unknown;
    try {
      value = JSON.parse(chunk.toString('utf8', start, last + 1));
    } catch {
      return -1;
    }
    if (nestedDeeperThan(value, this.maxDepth)) this.report(this.line, tooDeepReason('document', this.maxDepth));
    else this.deliver(value, this.line);
    return end;
  }

  /** A document past the cap fails the whole object: nothing may hold memory without bound. */
  private tooLarge(): never {
    throw new ObjectError(`document starting on line ${this.docLine} is larger than the cap of ${this.maxDocumentBytes} bytes (--max-document-bytes)`);
  }

  private keep(part: Buffer): void {
    this.docBytes += part.length;
    if (this.docBytes > this.maxDocumentBytes) this.tooLarge();
    // The chunk belongs to the stream's reader, which may reuse it: copy what is kept across chunks.
    this.parts.push(Buffer.from(part));
  }

  /** Parses a complete document; returns bytes to scan again when it was bad and spanned lines. */
  private finishDocument(last: Buffer): Buffer | null {
    if (this.docBytes + last.length > this.maxDocumentBytes) this.tooLarge();
    if (this.docDepth > this.maxDepth) {
      // Framed as one document, so not read again line by line (a pretty-printed one would come back
      // as one bad document per line), and not parsed: a million nested arrays (2 MB) parse in ~0.8 s
      // into ~58 MB of heap.
      this.parts = [];
      this.report(this.docLine, tooDeepReason('document', this.maxDepth));
      return null;
    }
    const text = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last]);
    this.parts = [];
    let value: unknown;
    try {
      value = JSON.parse(text.toString('utf8'));
    } catch (err) {
      this.report(this.docLine, `invalid JSON: ${(err as Error).message}`);
      return this.rewind(text);
    }
    this.deliver(value, this.docLine);
    return null;
  }

  /**
   * A broken line (a torn write, an unterminated string) can swallow the lines after it into one bogus
   * document. Go back to the line after the bad document's first one and read on from there.
   */
  private rewind(text: Buffer): Buffer | null {
    this.parts = [];
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.inGarbage = false;
    const newline = text.indexOf(LF);
    if (newline < 0) return null;
    this.line = this.docLine + 1;
    return text.subarray(newline + 1);
  }
}
