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

const WRAP_OPEN = '<guardduty-wodle-root>';
const WRAP_CLOSE = '</guardduty-wodle-root>';

// ossec.conf is not one XML document: it may hold several <ossec_config> roots and a declaration,
// and Wazuh's own parser tolerates a bare '&'. Make it one well-formed document without moving any
// character, so that positions still map to the operator's line numbers.
function normalise(source: string): string {
  const blanked = source
    .replace(/<\?xml[^>]*\?>/g, (decl) => ' '.repeat(decl.length))
    .replace(/&(?!(?:[A-Za-z][\w.-]*|#\d+|#x[0-9A-Fa-f]+);)/g, '&amp;');
  return WRAP_OPEN + blanked + WRAP_CLOSE;
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

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Parses ossec.conf text into a tree of elements that carry their line numbers. */
export function parseXml(source: string, file: string): XmlElement[] {
  const text = normalise(source);
  const verdict = XMLValidator.validate(text, { allowBooleanAttributes: true });
  if (verdict !== true) {
    // The wrapper is on line 1 and adds no newline, so the validator's line numbers are the file's.
    throw new ConfigError(`${file}:${verdict.err.line}: malformed XML: ${verdict.err.msg}`);
  }
  // Offsets in the normalised text differ from the source only by the wrapper; the '&amp;' rewrite
  // adds characters but never newlines, so line numbers are counted on the normalised text.
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
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
  const roots = parser.parse(text) as OrderedNode[];

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

  const wrapper = roots.map(convert).find((e) => e?.tag === 'guardduty-wodle-root');
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
