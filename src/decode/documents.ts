import { ObjectError } from '../errors.js';

// Streaming framing of JSON documents. GuardDuty's native exports are JSON Lines, Firehose
// concatenates documents with nothing between them, and real files carry pretty-printed documents
// and raw newlines between tokens. So documents are delimited by JSON structure (depth of braces and
// brackets outside strings), never by newlines or `}{`, and only one document is held at a time.

export interface DocumentSink {
  /** A parsed document and the line it started on (1-based). */
  value(value: unknown, line: number): void;
  /** Text that is not a JSON document, or a document that does not parse; `line` is where it started. */
  malformed(line: number, reason: string): void;
}

export const DEFAULT_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

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
  /** Where the fast path last found a line end and a `}{` in the chunk being scanned. */
  private lineAt = NOT_SEARCHED;
  private joinAt = NOT_SEARCHED;

  constructor(
    private readonly sink: DocumentSink,
    private readonly maxDocumentBytes = DEFAULT_MAX_DOCUMENT_BYTES,
  ) {}

  push(chunk: Buffer): void {
    let pending: Buffer | null = chunk;
    while (pending) pending = this.scan(pending);
  }

  /** Call at the end of the stream: an unfinished document is reported, and what follows its first line is read again. */
  end(): void {
    while (this.depth > 0) {
      const text = Buffer.concat(this.parts);
      this.sink.malformed(this.docLine, 'document is cut off (unbalanced braces or an unterminated string)');
      const retry = this.rewind(text);
      if (!retry) break;
      this.push(retry);
    }
    this.parts = [];
    this.depth = 0;
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
          const end = this.wholeDocumentAt(chunk, i);
          if (end > 0) {
            i = end - 1;
            continue;
          }
          this.depth = 1;
          this.inString = false;
          this.escaped = false;
          this.docLine = this.line;
          this.docBytes = 0;
          docStart = i;
        } else {
          this.sink.malformed(this.line, 'text outside a JSON document');
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
      else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.depth++;
      else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
        if (--this.depth === 0) {
          const retry = this.finishDocument(chunk.subarray(docStart, i + 1));
          if (retry) {
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
    this.sink.value(value, this.line);
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
    const text = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last]);
    this.parts = [];
    if (this.docBytes + last.length > this.maxDocumentBytes) this.tooLarge();
    let value: unknown;
    try {
      value = JSON.parse(text.toString('utf8'));
    } catch (err) {
      this.sink.malformed(this.docLine, `invalid JSON: ${(err as Error).message}`);
      return this.rewind(text);
    }
    this.sink.value(value, this.docLine);
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
