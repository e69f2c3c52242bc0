import { ConfigError } from '../errors.js';
import { KINDS, nearest, type TypeKind } from './kinds.js';
import { maskUrl, parseUrl, type Parsed } from './values.js';
import type { XmlElement } from './xml.js';

export type Setter<T> = (target: T, value: string, element: XmlElement) => void;

/** Every configuration error names the file, the line and the tag: the operator finds it without a search. */
export class Reader {
  constructor(
    readonly file: string,
    /** Where warnings go (the configuration's own list), each naming file, line and tag as errors do. */
    private readonly warnings: string[] = [],
  ) {}

  fail(element: XmlElement, message: string): never {
    throw new ConfigError(`${this.file}:${element.line}: <${element.tag}> ${message}`);
  }

  warn(element: XmlElement, message: string): void {
    this.warnings.push(`${this.file}:${element.line}: <${element.tag}> ${message}`);
  }

  value<T>(element: XmlElement, parsed: Parsed<T>): T {
    if (!parsed.ok) this.fail(element, `"${element.text}" ${parsed.reason}`);
    return parsed.value;
  }

  /** An endpoint URL; an error quotes it with its password masked. */
  url(element: XmlElement): string {
    const parsed = parseUrl(this.text(element));
    if (!parsed.ok) this.fail(element, `"${maskUrl(element.text)}" ${parsed.reason}`);
    return parsed.value;
  }

  text(element: XmlElement): string {
    if (element.text === '') this.fail(element, 'is empty');
    return element.text;
  }

  /** The type attribute of a <bucket>, <service> or <subscriber>: one Wazuh knows, else an error naming it. */
  typeOf(element: XmlElement, kind: TypeKind): string {
    const { wazuh, collected } = KINDS[kind];
    const type = element.attributes['type'];
    const example = collected ?? wazuh[0]!;
    if (type === undefined || type.trim() === '') this.fail(element, `needs a type attribute (type="${example}")`);
    if (wazuh.includes(type)) return type;
    const guess = nearest(type, wazuh);
    this.fail(
      element,
      `type="${type}" is not a ${kind} type of Wazuh's aws-s3 module${guess ? ` (did you mean type="${guess}"?)` : ''}; ` +
        `the ${kind} types are ${wazuh.join(', ')}${collected ? `, and guardduty-wodle reads type="${collected}"` : ''}`,
    );
  }

  /** Applies one setter per child tag; unknown and repeated tags are errors naming them. */
  apply<T>(parent: XmlElement, target: T, setters: Record<string, Setter<T>>, repeatable: string[] = []): void {
    const seen = new Set<string>();
    for (const child of parent.children) {
      const setter = setters[child.tag];
      if (!setter) {
        const known = Object.keys(setters).join(', ');
        this.fail(child, `is not a known option of <${parent.tag}> (known: ${known})`);
      }
      if (seen.has(child.tag) && !repeatable.includes(child.tag)) this.fail(child, 'is given more than once');
      seen.add(child.tag);
      setter(target, child.text, child);
    }
  }
}
