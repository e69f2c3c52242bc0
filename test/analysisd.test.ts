// Issue 25: the findings of 2024-2026 reach Wazuh 4.x whole and alerting. analysisd reads at most
// 65,535 bytes of a message and its JSON decoder keeps the first 256 fields in document order (each
// scalar and each array one field, objects walked): the rules' fields come first, and a finding that
// does not fit is trimmed knowing GuardDuty. Events are read back here the way analysisd reads them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { fieldsOf as countFields, findingToEvents, severityClass, type JsonObject } from '../src/decode/finding.js';
import { ANALYSISD_MAX_BYTES, ANALYSISD_MAX_FIELDS, fitForAnalysisd } from '../src/emit/analysisd.js';
import { FileOutput } from '../src/emit/file.js';
import { WAZUH_HEADER, WazuhOutput } from '../src/emit/wazuh.js';
import { Metrics } from '../src/metrics.js';
import { addDays } from '../src/walk/dates.js';
import { ATTACK_SEQUENCE_TYPES, SEQUENCE_SIZES, attackSequence, newerFamilies } from '../support/guardduty-2024.js';
import { readSample, sampleNames } from '../support/paths.js';
import { useFakeS3 } from '../support/s3.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { DatagramSink } from './helpers/wazuh-queue.js';
import { jsonlGz, nativeKey } from '../support/findings.js';
import { inProcessBucket } from './helpers/harness.js';
import { waitFor } from './helpers/wait.js';

const fake = useFakeS3();
const ORIGIN = { bucket: 'b', key: 'AWSLogs/111122223333/GuardDuty/us-east-1/2025/12/01/x.jsonl.gz', accountAlias: '' };
const RULE_FIELDS = ['integration', 'aws.source', 'aws.severity', 'aws.type', 'aws.title', 'aws.id', 'aws.accountId', 'aws.region'];

/** What analysisd decodes of a message: its first 65,535 bytes parsed, the first 256 fields in document order, by path. */
function readByAnalysisd(datagram: string): { parsed: boolean; fields: string[] } {
  const bytes = Buffer.from(datagram).subarray(0, ANALYSISD_MAX_BYTES).toString('utf8');
  let event: unknown;
  try {
    event = JSON.parse(bytes.slice(WAZUH_HEADER.length));
  } catch {
    return { parsed: false, fields: [] };
  }
  return { parsed: true, fields: fieldOrder(event).slice(0, ANALYSISD_MAX_FIELDS) };
}

/** Every field of an event, in document order, as analysisd's decoder walks it. */
function fieldOrder(event: unknown): string[] {
  const fields: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, path === '' ? key : `${path}.${key}`);
    } else fields.push(path);
  };
  walk(event, '');
  return fields;
}

function eventsOf(finding: JsonObject) {
  return findingToEvents(structuredClone(finding), 'guardduty', ORIGIN);
}

/** Every finding the tests know: the public samples' bare findings, the newer families, attack sequences of every size. */
function allFindings(): Array<[string, JsonObject]> {
  const samples = sampleNames()
    .map((name) => [name, JSON.parse(readSample(name)) as JsonObject] as [string, JsonObject])
    .map(([name, doc]): [string, JsonObject] => [name, (doc['detail'] as JsonObject | undefined) ?? doc])
    .filter(([, finding]) => typeof finding['id'] === 'string' && typeof finding['type'] === 'string');
  const families = newerFamilies().map((f): [string, JsonObject] => [String(f['type']), f]);
  const sequences = Object.entries(SEQUENCE_SIZES).map(([size, shape]): [string, JsonObject] => [`attack sequence, ${size}`, attackSequence(`seq-${size}`, shape)]);
  return [...samples, ...families, ...sequences];
}

describe('events analysisd reads whole', () => {
  test('the fields the rules read come first in document order (Wazuh\'s order for the other outputs); the count is analysisd\'s', () => {
    for (const [name, finding] of allFindings()) {
      for (const event of eventsOf(finding)) {
        const parsed = JSON.parse(event.rulesJson) as JsonObject;
        assert.equal(event.fields, countFields(parsed), `${name}: fields counted while shaping`);
        assert.deepEqual(JSON.parse(event.json), parsed, `${name}: the two orders hold the same event`);
        assert.deepEqual(Object.keys((JSON.parse(event.json) as { aws: JsonObject }).aws)[0], 'log_info', `${name}: Wazuh's order, log_info first`);
        const order = fieldOrder(parsed);
        const present = RULE_FIELDS.filter((path) => path.split('.').reduce<unknown>((o, k) => (o as JsonObject | undefined)?.[k], parsed) !== undefined);
        assert.deepEqual(order.slice(0, present.length), present, `${name}: ${order.slice(0, 10).join(', ')}`);
        const action = ((parsed['aws'] as JsonObject)['service'] as JsonObject | undefined)?.['action'] as JsonObject | undefined;
        if (action?.['actionType'] !== undefined) assert.equal(order[present.length], 'aws.service.action.actionType', name);
      }
    }
  });

  test('every datagram is read whole: at most 65,535 bytes with its header, at most 256 fields, the rules\' fields among them', () => {
    for (const [name, finding] of allFindings()) {
      for (const event of eventsOf(finding)) {
        const fitted = fitForAnalysisd(JSON.parse(event.rulesJson) as JsonObject, Buffer.byteLength(WAZUH_HEADER));
        const datagram = WAZUH_HEADER + fitted.json;
        assert.ok(Buffer.byteLength(datagram) <= ANALYSISD_MAX_BYTES, `${name}: ${Buffer.byteLength(datagram)} bytes`);
        const read = readByAnalysisd(datagram);
        assert.ok(read.parsed, name);
        assert.ok(countFields(JSON.parse(fitted.json) as JsonObject) <= ANALYSISD_MAX_FIELDS, name);
        for (const field of ['aws.source', 'aws.severity', 'aws.type', 'aws.title', 'aws.id']) assert.ok(read.fields.includes(field), `${name}: ${field} is read`);
        const whole = Buffer.byteLength(WAZUH_HEADER + event.rulesJson) <= ANALYSISD_MAX_BYTES && event.fields <= ANALYSISD_MAX_FIELDS;
        if (whole) assert.equal(fitted.json, event.rulesJson, `${name}: a finding that fits is sent untouched`);
        else assert.equal((fitted.event['aws'] as JsonObject)['truncated'], true, `${name}: marked truncated`);
      }
    }
  });

  test('an attack sequence keeps its most severe signals (ties: the latest), loses id lists and details first, and says what was cut', () => {
    const finding = attackSequence('seq-large', SEQUENCE_SIZES.large);
    const [event] = eventsOf(finding);
    const fitted = fitForAnalysisd(JSON.parse(event!.rulesJson) as JsonObject, Buffer.byteLength(WAZUH_HEADER));
    const aws = fitted.event['aws'] as JsonObject;
    const sequence = ((aws['service'] as JsonObject)['detection'] as JsonObject)['sequence'] as JsonObject;
    assert.equal(sequence['uid'], 'seq-large' === 'seq-large' ? 'sequence-seq-large' : '');
    assert.equal(typeof sequence['description'], 'string');
    for (const kept of ['id', 'type', 'severity', 'title', 'description']) assert.deepEqual(aws[kept], (JSON.parse(event!.rulesJson) as { aws: JsonObject }).aws[kept], kept);
    const signals = sequence['signals'] as JsonObject[];
    assert.ok(signals.length > 0 && signals.length < 100, `${signals.length} signals kept`);
    const all = ((finding['service'] as JsonObject)['detection'] as JsonObject)['sequence'] as JsonObject;
    const ranked = [...(all['signals'] as JsonObject[])].sort((a, b) => Number(b['severity']) - Number(a['severity']) || Number(b['lastSeenAt']) - Number(a['lastSeenAt']));
    assert.deepEqual(
      signals.map((s) => s['uid']),
      ranked.slice(0, signals.length).map((s) => s['uid']),
      'the most severe first, ties the latest',
    );
    assert.ok(signals.every((s) => s['resourceUids'] === undefined && s['actorIds'] === undefined && s['endpointIds'] === undefined), 'id lists go first');
    for (const detail of ['actors', 'resources', 'endpoints']) assert.equal(sequence[detail], undefined, `${detail} go before signals`);
    assert.equal(aws['truncated'], true);
    const paths = (aws['truncation'] as JsonObject[]).map((c) => c['path']);
    assert.ok(paths.includes('aws.service.detection.sequence.signals'), paths.join(', '));
    assert.deepEqual((aws['truncation'] as JsonObject[]).find((c) => c['path'] === 'aws.service.detection.sequence.signals'), {
      path: 'aws.service.detection.sequence.signals',
      removed: 100 - signals.length,
      of: 100,
    });
    assert.deepEqual(fitForAnalysisd(JSON.parse(event!.rulesJson) as JsonObject, Buffer.byteLength(WAZUH_HEADER)).json, fitted.json, 'deterministic');
  });

  test('a finding of more than 256 small fields (anomaly profiles keyed by feature) keeps what the rules read', () => {
    const profiles: JsonObject = {};
    for (let i = 0; i < 300; i++) profiles[`feature${i}`] = { frequency: i, seen: true };
    const finding = { ...newerFamilies()[2]!, service: { ...(newerFamilies()[2]!['service'] as JsonObject), detection: { anomaly: { profiles } } } } as JsonObject;
    const [event] = eventsOf(finding);
    assert.ok(event!.fields > ANALYSISD_MAX_FIELDS, `${event!.fields} fields`);
    assert.ok(Buffer.byteLength(event!.rulesJson) < ANALYSISD_MAX_BYTES, 'small in bytes: only the field count is over');
    const fitted = fitForAnalysisd(JSON.parse(event!.rulesJson) as JsonObject, Buffer.byteLength(WAZUH_HEADER));
    const read = readByAnalysisd(WAZUH_HEADER + fitted.json);
    assert.ok(countFields(fitted.event) <= ANALYSISD_MAX_FIELDS);
    for (const field of RULE_FIELDS) assert.ok(read.fields.includes(field), field);
  });

  test('numbers pass through as numbers: epoch seconds, E-notation included', () => {
    const finding = attackSequence('seq-numbers', SEQUENCE_SIZES.small) as JsonObject;
    const text = JSON.stringify(finding).replace('"createdAt":1764460770', '"createdAt":1.76446077E9');
    assert.notEqual(text, JSON.stringify(finding), 'the raw export carries an E-notation timestamp');
    const [event] = eventsOf(JSON.parse(text) as JsonObject);
    const signal = ((((JSON.parse(event!.rulesJson) as JsonObject)['aws'] as JsonObject)['service'] as JsonObject)['detection'] as JsonObject)['sequence'] as JsonObject;
    assert.equal((signal['signals'] as JsonObject[])[0]!['createdAt'], 1_764_460_770);
  });
});

describe('severity classes', () => {
  test('AWS\'s ranges: low 1.0-3.9, medium 4.0-6.9, high 7.0-8.9, critical 9.0-10.0', () => {
    assert.deepEqual([1, 3.9, 4, 6.9, 7, 8.9, 9, 10, '8.0', 'x', undefined].map((s) => severityClass(s as never)), [
      'low',
      'low',
      'medium',
      'medium',
      'high',
      'high',
      'critical',
      'critical',
      'high',
      null,
      null,
    ]);
  });

  test('a pass counts critical findings in its line, and the metrics count findings by class', async () => {
    const metrics = new Metrics({ partitions: () => [], maxLagSeconds: null, maxEmptyPasses: null });
    const h = await inProcessBucket(fake, 'severity-classes', () => `<aws_account_id>111122223333</aws_account_id><regions>eu-west-1</regions><only_logs_after>2025-05-30</only_logs_after>`);
    try {
      const families = newerFamilies('111122223333', 'eu-west-1');
      await fake.s3.put(h.bucket, nativeKey('111122223333', 'eu-west-1', '2025-06-01'), jsonlGz(families));
      const pass = await h.pass(`${addDays('2025-06-01', 0)}T12:00:00Z`, { telemetry: metrics });
      const expected = { low: 0, medium: 0, high: 0, critical: 0 };
      for (const f of families) expected[severityClass(f['severity'])!]++;
      assert.equal(pass.summary.critical, expected.critical);
      assert.ok(h.logs.some((l) => String(l['msg']).includes(`events (${expected.critical} critical)`)), 'the pass line says it');
      const text = await metrics.registry.metrics();
      for (const [severity, count] of Object.entries(expected)) {
        if (count > 0) assert.match(text, new RegExp(`guardduty_wodle_findings_total\\{bucket="severity-classes",severity="${severity}"\\} ${count}\\n`));
      }
    } finally {
      await h.stop();
    }
  });
});

describe('large attack sequences through the outputs', () => {
  test('thirty 400 KiB sequences in one object: the wazuh socket gets each trimmed and read whole, the file each whole and deep-equal', async () => {
    const dir = tempDir();
    const sink = new DatagramSink(join(dir, 'queue'));
    const out = join(dir, 'events.jsonl');
    const h = await inProcessBucket(fake, 'sequences-through', () => `<aws_account_id>111122223333</aws_account_id><regions>us-east-1</regions><only_logs_after>2025-11-29</only_logs_after>`, {
      outputs: () => [new WazuhOutput(sink.path, pino({ level: 'silent' })), new FileOutput(out)],
    });
    try {
      const findings = Array.from({ length: 30 }, (_, i) => attackSequence(`big-${i}`, SEQUENCE_SIZES.large, ATTACK_SEQUENCE_TYPES[i % ATTACK_SEQUENCE_TYPES.length]));
      const key = nativeKey('111122223333', 'us-east-1', '2025-12-01');
      await fake.s3.put(h.bucket, key, jsonlGz(findings));
      const pass = await h.pass('2025-12-01T12:00:00Z');
      assert.equal(pass.summary.done, 1);
      await waitFor(() => sink.messages.length >= 30, { what: 'thirty datagrams' });
      for (const datagram of sink.messages) {
        assert.ok(Buffer.byteLength(datagram) <= ANALYSISD_MAX_BYTES);
        assert.ok(readByAnalysisd(datagram).parsed);
        assert.equal(JSON.parse(datagram.slice(WAZUH_HEADER.length)).aws.truncated, true);
      }
      const whole = eventsFromLines(await import('node:fs').then((fs) => fs.readFileSync(out, 'utf8')));
      assert.equal(whole.length, 30);
      const origin = { bucket: h.bucket, key, accountAlias: '' };
      for (const [i, event] of whole.entries()) {
        assert.deepEqual(event, JSON.parse(findingToEvents(structuredClone(findings[i]!), 'guardduty', origin)[0]!.json), 'whole and deep-equal in the file');
      }
    } finally {
      await h.stop();
      sink.close();
    }
  });
});
