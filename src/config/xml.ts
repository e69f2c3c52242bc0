import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ConfigError } from '../errors.js';

/** One XML element with what validation needs: where it stood, its attributes, its text, its children. */
export interface XmlElement {
  tag: string;
  line: number;
  attributes: Record<string, string>;
  text: string;
  children: XmlElement[];
}

// ossec.conf is not one XML document: it may hold several <ossec_config> roots and a declaration,
// and Wazuh's own parser tolerates a bare '&'. It is parsed inside a wrapper element of this name;
// no message ever names the wrapper, and every position is mapped back to the operator's file.
const WRAPPER = 'guardduty-wodle-root';
const WRAP_OPEN = `<${WRAPPER}>`;
const WRAP_CLOSE = `</${WRAPPER}>`;

/** The text given to the parser, and where each bare '&' (now '&amp;', four characters longer) stood. */
interface Normalised {
  text: string;
  /** Offsets in the source of the '&' rewritten, in order. */
  ampersands: number[];
}

// Declarations and a byte-order mark are blanked, not removed, so that no character moves.
function normalise(source: string): Normalised {
  const ampersands: number[] = [];
  const blanked = source
    .replace(/^\ufeff/, ' ')
    .replace(/<\?xml[^>]*\?>/g, (decl) => ' '.repeat(decl.length))
    .replace(/&(?!(?:[A-Za-z][\w.-]*|#\d+|#x[0-9A-Fa-f]+);)/g, (_amp, offset: number) => {
      ampersands.push(offset);
      return '&amp;';
    });
  return { text: WRAP_OPEN + blanked + WRAP_CLOSE, ampersands };
}

function lineAt(lineStarts: number[], index: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

interface Position {
  line: number;
  column: number;
}

/** Positions in the parser's text turned into positions in the operator's file, never past its end. */
class SourceMap {
  private readonly sourceStarts: number[];
  private readonly textStarts: number[];
  /** The file's last line that holds anything (an editor's last line; a final newline opens none). */
  readonly lastLine: number;

  constructor(
    private readonly source: string,
    private readonly normalised: Normalised,
  ) {
    this.sourceStarts = lineStartsOf(source);
    this.textStarts = lineStartsOf(normalised.text);
    const lines = this.sourceStarts.length - (source.endsWith('\n') ? 1 : 0);
    this.lastLine = Math.max(1, lines);
  }

  /** The source offset of an offset in the parser's text (inside the wrapper's closing tag: the end). */
  sourceOffset(textOffset: number): number {
    const offset = textOffset - WRAP_OPEN.length;
    if (offset < 0) return 0;
    let shift = 0;
    for (const [k, at] of this.normalised.ampersands.entries()) {
      const inText = at + 4 * k;
      if (offset <= inText) break;
      // Inside an '&amp;' that was a bare '&': the '&'.
      if (offset <= inText + 4) return at;
      shift += 4;
    }
    return Math.min(offset - shift, this.source.length);
  }

  /** The file position of a (line, column) the validator gave for the parser's text. */
  fromText(line: number, column: number): Position {
    const start = this.textStarts[Math.min(Math.max(line, 1), this.textStarts.length) - 1]!;
    return this.at(this.sourceOffset(start + Math.max(column, 1) - 1));
  }

  /** The file position of a source offset; the end of the file is its last line. */
  at(offset: number): Position {
    let line = lineAt(this.sourceStarts, offset);
    if (line > this.lastLine) {
      line = this.lastLine;
      offset = this.sourceStarts[line - 1]! + this.lineText(line).length;
    }
    return { line, column: offset - this.sourceStarts[line - 1]! + 1 };
  }

  lineText(line: number): string {
    const start = this.sourceStarts[line - 1] ?? this.source.length;
    const end = this.sourceStarts[line] ?? this.source.length;
    return this.source.slice(start, end).replace(/\r?\n$/, '');
  }

  get end(): Position {
    return this.at(this.source.length);
  }
}

/** Where an unterminated comment or CDATA section starts, if the file has one: it swallows the rest. */
function unterminated(source: string): { offset: number; what: string; close: string } | null {
  const pattern = /<!--|<!\[CDATA\[|-->|\]\]>/g;
  let open: { offset: number; what: string; close: string } | null = null;
  for (let m = pattern.exec(source); m; m = pattern.exec(source)) {
    if (open === null) {
      if (m[0] === '<!--') open = { offset: m.index, what: 'comment <!--', close: '-->' };
      else if (m[0] === '<![CDATA[') open = { offset: m.index, what: 'CDATA section <![CDATA[', close: ']]>' };
    } else if (m[0] === open.close) {
      open = null;
    }
  }
  return open;
}

/**
 * The validator's complaint in the operator's terms: the line and column of their file (never past its
 * last line), and no word about the wrapper.
 */
function explainMalformed(err: { msg: string; line: number; col: number }, map: SourceMap, source: string): { line: number; message: string } {
  const where = map.fromText(err.line, err.col);
  const place = (p: Position) => `line ${p.line}, column ${p.column}`;
  const mismatch = /^Expected closing tag '([^']*)' \(opened in line (\d+), col (\d+)\) instead of closing tag '([^']*)'\.$/.exec(err.msg);
  if (mismatch) {
    const [, expected, openLine, openCol, found] = mismatch as unknown as [string, string, string, string, string];
    const opened = map.fromText(Number(openLine), Number(openCol));
    if (found === WRAPPER) {
      return { line: opened.line, message: `<${expected}> (opened on ${place(opened)}) is not closed before the end of the file (line ${map.lastLine})` };
    }
    if (expected === WRAPPER) {
      return { line: where.line, message: `closing tag </${found}> at ${place(where)} has no opening tag` };
    }
    return { line: where.line, message: `closing tag </${found}> at ${place(where)} does not match <${expected}> opened on ${place(opened)}` };
  }
  if (err.msg.includes(WRAPPER)) {
    // The wrapper's closing tag was swallowed: by a comment or CDATA section never closed, or by a tag
    // the file ends in the middle of.
    const open = unterminated(source);
    if (open) {
      const at = map.at(open.offset);
      return { line: at.line, message: `the ${open.what} on ${place(at)} is never closed (no ${open.close} before the end of the file)` };
    }
    const lastTag = source.lastIndexOf('<');
    if (lastTag >= 0 && !source.slice(lastTag).includes('>')) {
      const at = map.at(lastTag);
      const tag = /^<\/?[^\s<>/]*/.exec(source.slice(lastTag))?.[0] ?? '<';
      return { line: at.line, message: `the file ends inside the tag ${tag} that starts on ${place(at)} (no closing >)` };
    }
    const tags = err.msg.match(/"([^"]+)"/g)?.map((t) => t.slice(1, -1)).filter((t) => t !== WRAPPER) ?? [];
    const end = map.end;
    const inside = tags.length > 0 ? tags.map((t) => `<${t}>`).join(' ') : 'an unfinished element';
    return { line: end.line, message: `the file ends inside ${inside}, before it is closed` };
  }
  return { line: where.line, message: `${err.msg.replace(/\.$/, '')} (column ${where.column})` };
}

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Parses ossec.conf text into a tree of elements that carry their line numbers. */
export function parseXml(source: string, file: string): XmlElement[] {
  const normalised = normalise(source);
  const text = normalised.text;
  const map = new SourceMap(source, normalised);
  const verdict = XMLValidator.validate(text, { allowBooleanAttributes: true });
  if (verdict !== true) {
    const { line, message } = explainMalformed(verdict.err, map, source);
    throw new ConfigError(`${file}:${line}: malformed XML: ${message}`);
  }
  // The wrapper opens on line 1 and the '&amp;' rewrite adds characters but never newlines, so line
  // numbers counted on the parser's text are the file's.
  const lineStarts = lineStartsOf(text);
  const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    allowBooleanAttributes: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    captureMetaData: true,
    processEntities: true,
  });
  const meta = XMLParser.getMetaDataSymbol() as unknown as symbol;
  let roots: OrderedNode[];
  try {
    roots = parser.parse(text) as OrderedNode[];
  } catch (err) {
    // Not expected after validation; still said without the wrapper.
    const message = (err as Error).message.replaceAll(WRAPPER, 'the file').replace(/\s+/g, ' ');
    throw new ConfigError(`${file}: malformed XML: ${message}`);
  }

  const convert = (node: OrderedNode): XmlElement | null => {
    const tag = Object.keys(node).find((k) => k !== ':@');
    if (tag === undefined || tag === '#text' || tag.startsWith('?')) return null;
    const start = (node as Record<symbol, { startIndex?: number } | undefined>)[meta]?.startIndex ?? 0;
    const body = (node[tag] as OrderedNode[] | undefined) ?? [];
    const children: XmlElement[] = [];
    let value = '';
    for (const child of body) {
      if ('#text' in child) value += String(child['#text']);
      else {
        const converted = convert(child);
        if (converted) children.push(converted);
      }
    }
    return { tag, line: lineAt(lineStarts, start), attributes: { ...(node[':@'] ?? {}) }, text: value.trim(), children };
  };

  const wrapper = roots.map(convert).find((e) => e?.tag === WRAPPER);
  return wrapper?.children ?? [];
}

/** Every element with the given tag, at any depth, in document order. */
export function findAll(elements: XmlElement[], tag: string): XmlElement[] {
  const found: XmlElement[] = [];
  const visit = (list: XmlElement[]) => {
    for (const element of list) {
      if (element.tag === tag) found.push(element);
      else visit(element.children);
    }
  };
  visit(elements);
  return found;
}
