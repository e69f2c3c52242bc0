// Issue 13 item 2: a deeply nested document must not take its object down. JSON.parse reads a million
// levels, but the walks after it and JSON.stringify recurse; a document nested past the cap is a
// malformed line of its own, and the documents around it are delivered.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { MAX_NESTING_DEPTH, nestedDeeperThan } from '../src/decode/depth.js';
import { compileDiscardRules } from '../src/decode/discard.js';
import { DocumentSplitter } from '../src/decode/documents.js';
import { findingToEvents, type EventOrigin, type JsonObject } from '../src/decode/finding.js';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { runPass } from '../src/daemon.js';
import { FileOutput } from '../src/emit/file.js';
import { Outputs } from '../src/emit/index.js';
import { StateStore } from '../src/state/store.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { FAKE_AWS_ENV, writeConfig } from '../support/cli.js';
import { inProcessRun } from './helpers/run.js';
import { daysAgo, firehoseKey, makeFinding, nativeKey, today } from '../support/findings.js';
import { sampleNames } from '../support/paths.js';
import { random } from './helpers/random.js';
import { useFakeS3 } from '../support/s3.js';
import { stateRows } from './helpers/state.js';
import { decodeAll } from './helpers/decode.js';

const fake = useFakeS3();

const ACCOUNT = '555555555555';
const REGION = 'eu-north-1';
const ORIGIN: EventOrigin = { bucket: 'nest', key: 'k', accountAlias: '' };
const TOO_DEEP = new RegExp(`nested more than ${MAX_NESTING_DEPTH} levels deep`);

type Kind = 'arrays' | 'objects';

/** `[[[…]]]` or `{"a":{"a":…1…}}`, `levels` deep. */
function chain(kind: Kind, levels: number): string {
  return kind === 'arrays' ? '['.repeat(levels) + ']'.repeat(levels) : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
}

function good(id: string): JsonObject {
  return makeFinding(ACCOUNT, REGION, id) as unknown as JsonObject;
}

/** A document that looks like a finding (so nothing short of the cap stops it) nested `levels` deep in all. */
function deepFinding(kind: Kind, levels: number): string {
  return `{"schemaVersion":"2.0","id":"deep","type":"Recon:EC2/PortProbeUnprotectedPort","service":${chain(kind, levels - 1)}}`;
}

/** The same inside an EventBridge envelope (one level more for `detail`). */
function deepEnvelope(kind: Kind, levels: number): string {
  return `{"version":"0","id":"e-deep","detail-type":"GuardDuty Finding","source":"aws.guardduty","detail":${deepFinding(kind, levels - 1)}}`;
}

function envelope(finding: JsonObject): string {
  return JSON.stringify({ version: '0', id: `e-${String(finding['id'])}`, 'detail-type': 'GuardDuty Finding', source: 'aws.guardduty', account: ACCOUNT, region: REGION, detail: finding });
}

function expected(findings: JsonObject[], origin = ORIGIN): string[] {
  return findings.flatMap((f) => findingToEvents(structuredClone(f), 'guardduty', origin).map((e) => e.json));
}

async function decode(bytes: Buffer, chunkBytes = 64 * 1024, discard = compileDiscardRules([])) {
  const { events, malformed, counts } = await decodeAll(bytes, ORIGIN, { discard, chunkBytes });
  return { events: events.map((e) => e.json), malformed, counts };
}

function split(chunks: Buffer[]) {
  const values: Array<[unknown, number]> = [];
  const malformed: Array<[number, string]> = [];
  const splitter = new DocumentSplitter({ value: (v, line) => values.push([v, line]), malformed: (line, reason) => malformed.push([line, reason]) });
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return { values, malformed };
}

function inChunks(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

describe('a document nested past the cap is one malformed line; the lines around it are delivered', () => {
  for (const kind of ['arrays', 'objects'] as const) {
    for (const levels of [50_000, 1_000_000]) {
      test(`JSON lines (gzip): good lines around a ${levels.toLocaleString('en')}-deep line of ${kind}`, async () => {
        const findings = [good('before-1'), good('before-2'), good('after-1'), good('after-2')];
        const lines = [JSON.stringify(findings[0]), JSON.stringify(findings[1]), deepFinding(kind, levels), JSON.stringify(findings[2]), JSON.stringify(findings[3])];
        const { events, malformed, counts } = await decode(gzipSync(lines.join('\n') + '\n'));
        assert.deepEqual(events, expected(findings));
        assert.equal(malformed.length, 1, JSON.stringify(malformed));
        assert.equal(malformed[0]![0], 3);
        assert.match(malformed[0]![1], TOO_DEEP);
        assert.equal(counts.malformed, 1);
        assert.equal(counts.findings, 4);
        assert.equal(counts.events, 4);
      });

      test(`Firehose, concatenated (gzip): good documents around a ${levels.toLocaleString('en')}-deep one of ${kind}`, async () => {
        const findings = [good('fh-1'), good('fh-2'), good('fh-3')];
        const text = envelope(findings[0]!) + deepEnvelope(kind, levels) + envelope(findings[1]!) + envelope(findings[2]!);
        const { events, malformed, counts } = await decode(gzipSync(text));
        assert.deepEqual(events, expected(findings));
        assert.deepEqual(malformed.map(([line]) => line), [1], 'every document is on line 1');
        assert.match(malformed[0]![1], TOO_DEEP);
        assert.equal(counts.malformed, 1);
        assert.equal(counts.events, 3);
      });
    }
  }

  test('Firehose with a newline after each document: the deep one is reported on its own line', async () => {
    const findings = [good('nl-1'), good('nl-2')];
    const text = [envelope(findings[0]!), deepEnvelope('objects', 50_000), envelope(findings[1]!)].join('\n') + '\n';
    const { events, malformed } = await decode(gzipSync(text));
    assert.deepEqual(events, expected(findings));
    assert.equal(malformed.length, 1);
    assert.equal(malformed[0]![0], 2);
    assert.match(malformed[0]![1], TOO_DEEP);
  });

  test('at the cap a document is delivered whole, one level more is malformed, on the fast path and the byte scanner alike', async () => {
    // Two-element lists, so that no list is lifted and the event keeps the whole nesting.
    const pairs = (levels: number) => '['.repeat(levels) + '0' + ',0]'.repeat(levels);
    for (const [kind, nest] of [
      ['objects', (levels: number) => chain('objects', levels)],
      ['lists', pairs],
    ] as const) {
      // The finding object is level 1 and service is level 2: the chain below it makes up the rest.
      const atCap = `{"schemaVersion":"2.0","id":"at-cap","type":"T","service":${nest(MAX_NESTING_DEPTH - 1)}}`;
      const overCap = `{"schemaVersion":"2.0","id":"over-cap","type":"T","service":${nest(MAX_NESTING_DEPTH)}}`;
      assert.equal(nestedDeeperThan(JSON.parse(atCap)), false);
      assert.equal(nestedDeeperThan(JSON.parse(overCap)), true);
      const text = Buffer.from(`${JSON.stringify(good('g1'))}\n${atCap}\n${overCap}\n${JSON.stringify(good('g2'))}\n`);
      for (const chunkBytes of [text.length, 1000, 7]) {
        const { events, malformed } = await decode(text, chunkBytes);
        assert.equal(events.length, 3, `${kind}, ${chunkBytes}-byte chunks`);
        const event = JSON.parse(events[1]!) as { integration: string; aws: { id: string; service: unknown; source: string } };
        assert.equal(event.aws.id, 'at-cap');
        assert.equal(event.aws.source, 'guardduty');
        // The event is one level deeper than the finding: {integration, aws}, with aws in the finding's place.
        assert.equal(nestedDeeperThan(event, MAX_NESTING_DEPTH), true);
        assert.equal(nestedDeeperThan(event, MAX_NESTING_DEPTH + 1), false);
        assert.deepEqual(event.aws.service, JSON.parse(nest(MAX_NESTING_DEPTH - 1)));
        assert.deepEqual(JSON.parse(events[0]!).aws.id, 'g1');
        assert.deepEqual(JSON.parse(events[2]!).aws.id, 'g2');
        assert.equal(malformed.length, 1);
        assert.equal(malformed[0]![0], 3);
        assert.match(malformed[0]![1], TOO_DEEP);
      }
    }
  });

  test('a deep document spread over many chunks, pretty-printed or not, gives what one chunk gives', () => {
    for (const kind of ['arrays', 'objects'] as const) {
      const deep = chain(kind, 50_000);
      const pretty = kind === 'arrays' ? '[\n'.repeat(50_000) + ']\n'.repeat(50_000) : '{\n"a":\n'.repeat(50_000) + '1\n' + '}\n'.repeat(50_000);
      for (const body of [deep, pretty]) {
        const text = Buffer.from(`{"n":1}\n${body}\n{"n":2}{"n":3}\n`);
        const whole = split([text]);
        const after = text.subarray(0, text.indexOf('{"n":2}')).filter((byte) => byte === 0x0a).length + 1;
        assert.deepEqual(whole.values, [[{ n: 1 }, 1], [{ n: 2 }, after], [{ n: 3 }, after]]);
        assert.equal(whole.malformed.length, 1);
        assert.equal(whole.malformed[0]![0], 2);
        assert.match(whole.malformed[0]![1], TOO_DEEP);
        for (const size of [1, 3, 4096, 65536]) assert.deepEqual(split(inChunks(text, size)), whole, `${kind}, ${size}-byte chunks`);
      }
    }
  });

  test('brackets inside strings are not nesting', () => {
    const text = Buffer.from(`{"s":"${'['.repeat(100_000)}${'{'.repeat(100_000)}"}\n`);
    for (const chunks of [[text], inChunks(text, 1000)]) {
      const { values, malformed } = split(chunks);
      assert.deepEqual(malformed, []);
      assert.equal((values[0]![0] as { s: string }).s.length, 200_000);
    }
  });

  test('a deep document cut off at the end: the lines after it are read again, in linear time, with one report', () => {
    const cases = {
      'one line': '['.repeat(1_000_000),
      'one line of objects': '{"a":'.repeat(1_000_000),
      // Every line opens a level that is never closed: read again line by line, this used to cost N² bytes.
      'a level per line': '[\n'.repeat(1_000_000),
    };
    for (const [name, body] of Object.entries(cases)) {
      const text = Buffer.from(`{"n":1}\n${body}\n{"n":2}\n{"n":3}\n`);
      const started = performance.now();
      const result = split(inChunks(text, 65536));
      const ms = performance.now() - started;
      assert.deepEqual(result.values.map(([v]) => v), [{ n: 1 }, { n: 2 }, { n: 3 }], name);
      assert.equal(result.malformed.length, 1, `${name}: ${JSON.stringify(result.malformed.slice(0, 3))}`);
      assert.equal(result.malformed[0]![0], 2);
      assert.match(result.malformed[0]![1], /cut off/);
      assert.ok(ms < 20_000, `${name}: ${ms} ms`);
    }
  });

  test('a finding in an SNS message nested past the cap is a malformed line; the other records are delivered', async () => {
    const kept = good('sns-good');
    const sns = (message: string) => ({ Sns: { Message: message } });
    const doc = JSON.stringify({ Records: [sns(deepEnvelope('arrays', 50_000)), sns(envelope(kept))] });
    const { events, malformed, counts } = await decode(gzipSync(`${JSON.stringify(good('line-1'))}\n${doc}\n`));
    assert.deepEqual(events, expected([good('line-1'), kept]));
    assert.equal(malformed.length, 1);
    assert.equal(malformed[0]![0], 2);
    assert.match(malformed[0]![1], /SNS message is nested more than 512 levels deep/);
    assert.equal(counts.malformed, 1);
  });

  test('discard_regex on a path into a deep list does not overflow: the deep line is malformed before any rule runs', async () => {
    const discard = compileDiscardRules([{ field: 'service.a', pattern: 'nothing' }]);
    const deep = `{"schemaVersion":"2.0","id":"d","type":"T","service":{"a":${chain('arrays', 50_000)}}}`;
    const { events, malformed } = await decode(gzipSync(`${JSON.stringify(good('x'))}\n${deep}\n`), 64 * 1024, discard);
    assert.deepEqual(events, expected([good('x')]));
    assert.equal(malformed.length, 1);
    assert.match(malformed[0]![1], TOO_DEEP);
  });
});

describe('the nesting check', () => {
  test('counts arrays and objects alike, scalars as nothing', () => {
    assert.equal(nestedDeeperThan(null, 0), false);
    assert.equal(nestedDeeperThan('[[[[', 0), false);
    assert.equal(nestedDeeperThan({}, 0), true);
    assert.equal(nestedDeeperThan({}, 1), false);
    assert.equal(nestedDeeperThan([{ a: [1] }], 2), true);
    assert.equal(nestedDeeperThan([{ a: [1] }], 3), false);
    assert.equal(nestedDeeperThan({ a: 1, b: { c: [] } }, 2), true);
    assert.equal(nestedDeeperThan({ a: 1, b: { c: [] } }, 3), false);
    // The deep branch is found wherever it is, also behind a key JSON.parse keeps as its own.
    assert.equal(nestedDeeperThan(JSON.parse(`{"x":1,"__proto__":${chain('arrays', 600)},"y":[]}`)), true);
    assert.equal(nestedDeeperThan(JSON.parse(`[0,[],{},${chain('objects', 600)}]`)), true);
  });

  test('is iterative: a million levels are refused without a stack overflow, and a wide document is fine', () => {
    assert.equal(nestedDeeperThan(JSON.parse(chain('arrays', 1_000_000)), 1_000_000), false);
    assert.equal(nestedDeeperThan(JSON.parse(chain('arrays', 1_000_000)), 999_999), true);
    const wide = Array.from({ length: 100_000 }, (_, i) => ({ i, tags: [{ key: 'k', value: String(i) }] }));
    assert.equal(nestedDeeperThan(wide), false);
  });
});

// The walks of finding.ts before this change, kept here as the reference the one-pass version must match.
type Json = null | boolean | number | string | Json[] | JsonObject;
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);
function referenceDropNulls(object: JsonObject): void {
  for (const key of Object.keys(object)) {
    const value = object[key];
    if (value === null) delete object[key];
    else if (isObject(value)) referenceDropNulls(value);
  }
}
function referenceLift(object: JsonObject): void {
  for (const key of Object.keys(object)) {
    const value = object[key]!;
    if (Array.isArray(value)) {
      if (value.length === 1) object[key] = value[0]!;
    } else if (isObject(value)) referenceLift(value);
  }
}
function referenceEvents(finding: JsonObject, source: string, origin: EventOrigin): string[] {
  referenceDropNulls(finding);
  const aws: JsonObject = { log_info: { aws_account_alias: origin.accountAlias, log_file: origin.key, s3bucket: origin.bucket }, ...finding, source };
  const event: JsonObject = { integration: 'aws', aws };
  const service = aws['service'];
  const action = isObject(service) ? service['action'] : undefined;
  const probe = isObject(action) ? action['portProbeAction'] : undefined;
  const details = isObject(probe) ? probe['portProbeDetails'] : undefined;
  const wrapTags = () => {
    if (aws['tags'] !== undefined && !isObject(aws['tags'])) aws['tags'] = { value: aws['tags'] };
  };
  if (!(Array.isArray(details) && details.length > 1)) {
    referenceLift(event);
    wrapTags();
    return [JSON.stringify(event)];
  }
  wrapTags();
  return details.map((detail) => {
    (probe as JsonObject)['portProbeDetails'] = detail;
    return JSON.stringify(event);
  });
}

describe('null dropping and list lifting in one pass', () => {
  test('give exactly the events of the two-pass rules, on 5,000 seeded findings and on every public sample', () => {
    const next = random(1302);
    const keys = ['a', 'b', 'tags', 'service', 'action', 'portProbeAction', 'portProbeDetails', 'log_info', 'source', '__proto__', '0', 'id'];
    const value = (depth: number): Json => {
      const r = next();
      if (depth > 5 || r < 0.3) return [null, 0, 1.5, '', 'x', true, false][Math.floor(next() * 7)]!;
      if (r < 0.6) return Array.from({ length: [0, 1, 1, 1, 2, 3][Math.floor(next() * 6)]! }, () => value(depth + 1));
      const object: JsonObject = {};
      for (let i = Math.floor(next() * 5); i > 0; i--) object[keys[Math.floor(next() * keys.length)]!] = value(depth + 1);
      return object;
    };
    const findings: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const finding = value(0);
      const object: JsonObject = isObject(finding) ? finding : { a: finding };
      if (i % 3 === 0) object['service'] = { action: { portProbeAction: { portProbeDetails: value(1) } } };
      findings.push(JSON.stringify(object));
    }
    for (const name of sampleNames()) findings.push(JSON.stringify(makeFinding(ACCOUNT, REGION, name, name)));
    let split = 0;
    for (const text of findings) {
      // Parsed twice rather than cloned, so that a "__proto__" key stays an own key as in real input.
      const ours = findingToEvents(JSON.parse(text) as JsonObject, 'guardduty', ORIGIN);
      assert.deepEqual(ours.map((e) => e.json), referenceEvents(JSON.parse(text) as JsonObject, 'guardduty', ORIGIN), text);
      for (const event of ours) assert.deepEqual(JSON.parse(event.rulesJson), JSON.parse(event.json), `the rules' order holds the same members: ${text}`);
      if (ours.length > 1) split++;
    }
    assert.ok(split > 100, `${split} port-probe findings split`);
  });
});

describe('end to end', () => {
  test('a collector pass against S3: a 50,000-deep line among good ones is one error naming the object and line; every good event is written; the pass succeeds under skip_on_error', async () => {
    Object.assign(process.env, FAKE_AWS_ENV);
    const dir = tempDir();
    const native = 'gd-deep-native';
    const firehose = 'gd-deep-firehose';
    fake.s3.createBucket(native);
    fake.s3.createBucket(firehose);
    const nativeFindings = [good('n-1'), good('n-2'), good('n-3'), good('n-4')];
    const key = nativeKey(ACCOUNT, REGION, today());
    const lines = [JSON.stringify(nativeFindings[0]), JSON.stringify(nativeFindings[1]), deepFinding('arrays', 50_000), JSON.stringify(nativeFindings[2]), JSON.stringify(nativeFindings[3])];
    await fake.s3.put(native, key, gzipSync(lines.join('\n') + '\n'));
    const firehoseFindings = [good('f-1'), good('f-2')];
    const fhKey = firehoseKey(today(), 7);
    await fake.s3.put(firehose, fhKey, gzipSync(envelope(firehoseFindings[0]!) + deepEnvelope('objects', 50_000) + envelope(firehoseFindings[1]!)));
    const config = loadConfig(
      writeConfig(
        dir,
        [native, firehose].map((name) => ({ name, endpoint: fake.s3.endpoint, extra: `<only_logs_after>${daysAgo(2)}</only_logs_after>` })),
      ),
    );
    const out = join(dir, 'events.jsonl');
    const state = join(dir, 'state.db');
    // The pass the CLI's --once runs, in this process: its state, a file output, its log lines kept.
    const store = StateStore.open(state);
    const outputs = new Outputs([new FileOutput(out)]);
    const logs: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
    let outcome: Awaited<ReturnType<typeof runPass>>;
    try {
      outcome = await runPass(config.wodles, inProcessRun(store, outputs, new Date(), 8, { log }));
    } finally {
      await outputs.close();
      store.close();
    }
    assert.equal(outcome.ok, true, JSON.stringify(logs.filter((l) => (l['level'] as number) >= 50)));
    assert.ok(!logs.some((l) => /Maximum call stack/.test(JSON.stringify(l))));
    const written = readFileSync(out, 'utf8').trim().split('\n');
    const wanted = [
      ...expected(nativeFindings, { bucket: native, key, accountAlias: '' }),
      ...expected(firehoseFindings, { bucket: firehose, key: fhKey, accountAlias: '' }),
    ];
    assert.deepEqual([...written].sort(), [...wanted].sort());
    assert.deepEqual(eventsFromLines(written.join('\n')).map((e) => e['aws'].id).sort(), ['f-1', 'f-2', 'n-1', 'n-2', 'n-3', 'n-4']);
    const errors = logs.filter((l) => l['level'] === 50).map((l) => String(l['msg']));
    assert.equal(errors.length, 2, errors.join('\n'));
    const nativeError = errors.find((m) => m.includes(`s3://${native}/${key} line 3:`));
    assert.ok(nativeError, errors.join('\n'));
    assert.match(nativeError, TOO_DEEP);
    const firehoseError = errors.find((m) => m.includes(`s3://${firehose}/${fhKey} line 1:`));
    assert.ok(firehoseError, errors.join('\n'));
    assert.match(firehoseError, TOO_DEEP);
    const rows = stateRows(state).map((r) => [r.key, r.status, r.events, r.malformed]).sort();
    assert.deepEqual(rows, [[fhKey, 'done', 2, 1], [key, 'done', 4, 1]].sort());
  });
});
