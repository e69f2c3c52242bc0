// analysisd reads at most 64 KiB of one datagram and cuts the rest, which breaks the JSON. An event
// larger than that is trimmed so that it parses and still triggers Wazuh's GuardDuty rules: the
// largest arrays and strings are halved, one at a time, until it fits, never touching what those rules
// read (source, severity, title, type, service.action.*) unless nothing else is left. Deterministic:
// the same event is always trimmed the same way.

type Path = Array<string | number>;

const KEPT: Path[] = [['integration'], ['aws', 'log_info'], ['aws', 'source'], ['aws', 'severity'], ['aws', 'title'], ['aws', 'type'], ['aws', 'id'], ['aws', 'service', 'action']];

function isKept(path: Path): boolean {
  return KEPT.some((kept) => kept.every((part, i) => path[i] === part));
}

interface Candidate {
  parent: Record<string | number, unknown>;
  key: string | number;
  size: number;
}

/** The largest array or string (by its JSON size), first in document order on ties. */
function largest(root: unknown, includeKept: boolean): Candidate | null {
  let best: Candidate | null = null;
  const visit = (node: unknown, path: Path) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      const childPath = [...path, Array.isArray(node) ? Number(key) : key];
      const trimmable = (typeof value === 'string' && value.length > 0) || (Array.isArray(value) && value.length > 0);
      if (trimmable && (includeKept || !isKept(childPath))) {
        const size = JSON.stringify(value).length;
        if (!best || size > best.size) best = { parent: node as Record<string, unknown>, key: Array.isArray(node) ? Number(key) : key, size };
      }
      visit(value, childPath);
    }
  };
  visit(root, []);
  return best;
}

function shrink({ parent, key }: Candidate): void {
  const value = parent[key];
  if (Array.isArray(value)) parent[key] = value.slice(0, Math.floor(value.length / 2));
  else if (typeof value === 'string') parent[key] = value.length <= 16 ? '' : `${value.slice(0, Math.floor(value.length / 2))}…`;
}

export function trimEvent(json: string, maxBytes: number): { json: string; bytes: number } {
  const event = JSON.parse(json) as { aws?: Record<string, unknown> };
  if (event.aws) event.aws['truncated'] = true;
  let text = JSON.stringify(event);
  for (let round = 0; round < 10_000 && Buffer.byteLength(text) > maxBytes; round++) {
    const target = largest(event, false) ?? largest(event, true);
    if (!target) break;
    shrink(target);
    text = JSON.stringify(event);
  }
  return { json: text, bytes: Buffer.byteLength(text) };
}
