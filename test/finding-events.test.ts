import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { compileDiscardRules, discardedBy } from '../src/decode/discard.js';
import { findingToEvents, type JsonObject } from '../src/decode/finding.js';
import { readSample } from '../support/paths.js';
import { decodeAll } from './helpers/decode.js';

const ORIGIN = { bucket: 'gd-bucket', key: 'AWSLogs/111111111111/GuardDuty/eu-west-2/2026/11/29/x.jsonl.gz', accountAlias: 'prod' };

// Expected events derived by hand from CONTRACT.md for each public bare-finding sample: which null
// members sit in objects (dropped) and which single-element lists sit in objects (lifted). Nulls and
// lists inside lists are left alone, and a lifted element is not walked further.
const HAND_DERIVED: Record<string, { drop: string[]; lift: string[] }> = {
  'SEKOIA-IO__Discovery-S3-MaliciousIPCaller.Custom.json': {
    drop: ['resource.instanceDetails.platform'],
    lift: [
      'resource.s3BucketDetails', // its element's one-tag list stays a list
      'resource.instanceDetails.productCodes',
      'resource.instanceDetails.networkInterfaces', // privateIpAddresses and securityGroups inside stay lists
      'service.additionalInfo.unusual.hoursOfDay',
      'service.additionalInfo.unusual.userNames',
    ],
  },
  'SEKOIA-IO__Execution-Container-SuspiciousFile.json': {
    // scannedVolumeDetails[0].kmsKeyArn is null inside a list: it stays, even once the list is lifted.
    drop: ['resource.ebsVolumeDetails.skippedVolumeDetails', 'service.evidence'],
    lift: [
      'resource.ebsVolumeDetails.scannedVolumeDetails',
      'service.ebsVolumeScanDetails.sources',
      'service.ebsVolumeScanDetails.scanDetections.threatDetectedByName.threatNames',
    ],
  },
  'SEKOIA-IO__Execution-ECS-MaliciousFile.json': {
    drop: ['resource.ebsVolumeDetails.skippedVolumeDetails', 'service.evidence'],
    lift: [
      'resource.ecsClusterDetails.taskDetails.containers',
      'resource.ebsVolumeDetails.scannedVolumeDetails',
      'service.ebsVolumeScanDetails.sources',
      'service.ebsVolumeScanDetails.scanDetections.threatDetectedByName.threatNames',
    ],
  },
  'SEKOIA-IO__Exfiltration-IAMUser-AnomalousBehavior.json': {
    drop: ['resource.instanceDetails.platform', 'service.evidence'],
    lift: ['resource.instanceDetails.productCodes', 'resource.instanceDetails.networkInterfaces'],
  },
  'SEKOIA-IO__Policy-Kubernetes-AdminAccessToDefaultServiceAccount.json': {
    drop: ['resource.kubernetesDetails.kubernetesWorkloadDetails', 'service.evidence'],
    lift: ['resource.kubernetesDetails.kubernetesUserDetails.groups', 'service.action.kubernetesApiCallAction.sourceIPs'],
  },
  'SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json': {
    drop: ['resource.instanceDetails.platform'],
    lift: [
      'resource.instanceDetails.productCodes',
      'resource.instanceDetails.networkInterfaces',
      'service.evidence.threatIntelligenceDetails', // its threatNames list of one stays a list
    ],
  },
  'SEKOIA-IO__UnauthorizedAccess-IAMUser-MaliciousIPCaller.json': {
    drop: ['resource.instanceDetails.platform'],
    lift: ['resource.instanceDetails.productCodes', 'resource.instanceDetails.networkInterfaces', 'service.evidence.threatIntelligenceDetails'],
  },
  'aws-samples__Canary-EC2-Stateless.IntegTest.json': {
    drop: [],
    lift: ['resource.instanceDetails.networkInterfaces', 'resource.instanceDetails.tags'],
  },
  'aws-samples__PenTest-S3-ParrotLinux.json': {
    drop: ['resource.instanceDetails.platform'],
    lift: [
      'resource.s3BucketDetails',
      'resource.instanceDetails.productCodes',
      'resource.instanceDetails.networkInterfaces',
      'service.additionalInfo.unusual.hoursOfDay',
      'service.additionalInfo.unusual.userNames',
    ],
  },
  'aws-samples__Recon-IAMUser-MaliciousIPCaller.Custom.json': {
    drop: ['resource.instanceDetails.platform'],
    lift: ['resource.instanceDetails.productCodes', 'resource.instanceDetails.networkInterfaces', 'service.evidence.threatIntelligenceDetails'],
  },
};

const PORT_PROBE = 'SEKOIA-IO__Recon-EC2-PortProbeUnprotectedPort.json';

function parent(object: any, path: string): [any, string] {
  const parts = path.split('.');
  const last = parts.pop()!;
  let node = object;
  for (const part of parts) node = node[part];
  assert.ok(node && last in node, `hand-derived path ${path} exists in the sample`);
  return [node, last];
}

function expectedEvent(finding: any): any {
  return { integration: 'aws', aws: { log_info: { aws_account_alias: 'prod', log_file: ORIGIN.key, s3bucket: ORIGIN.bucket }, ...finding, source: 'guardduty' } };
}

function handDerived(sample: string): any[] {
  const finding = JSON.parse(readSample(sample));
  if (sample === PORT_PROBE) {
    // Two port-probe details: one event each, carrying its detail as an object; no list is lifted.
    const [node, key] = parent(finding, 'resource.instanceDetails.platform');
    delete node[key];
    const details = finding.service.action.portProbeAction.portProbeDetails;
    assert.equal(details.length, 2);
    return details.map((detail: unknown) => {
      const copy = structuredClone(finding);
      copy.service.action.portProbeAction.portProbeDetails = detail;
      return expectedEvent(copy);
    });
  }
  const rules = HAND_DERIVED[sample]!;
  for (const path of rules.drop) {
    const [node, key] = parent(finding, path);
    assert.equal(node[key], null);
    delete node[key];
  }
  for (const path of rules.lift) {
    const [node, key] = parent(finding, path);
    assert.equal(node[key].length, 1, path);
    node[key] = node[key][0];
  }
  return [expectedEvent(finding)];
}

async function decode(bytes: Buffer, discard = compileDiscardRules([])) {
  const { events, malformed, counts } = await decodeAll(bytes, ORIGIN, { discard });
  return { events: events.map((e) => JSON.parse(e.json)), raw: events, malformed, counts };
}

describe('finding → events (CONTRACT.md)', () => {
  const samples = [...Object.keys(HAND_DERIVED), PORT_PROBE];

  for (const sample of samples) {
    test(`${sample} decodes to its hand-derived events`, async () => {
      const { events, malformed } = await decode(gzipSync(readSample(sample)));
      assert.deepEqual(malformed, []);
      assert.deepEqual(events, handDerived(sample));
    });
  }

  test('the event keeps the contract key order: log_info first, source last', async () => {
    const { raw } = await decode(gzipSync(readSample('SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json')));
    const json = raw[0]!.json;
    assert.ok(json.startsWith('{"integration":"aws","aws":{"log_info":{"aws_account_alias":"prod","log_file":'), json.slice(0, 120));
    assert.ok(json.endsWith(',"source":"guardduty"}}'));
    assert.equal(raw[0]!.findingId, JSON.parse(readSample('SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json')).id);
  });

  test('every public bare sample in one multi-member gzip object, pretty-printed ones included', async () => {
    const all = samples.map((s) => gzipSync(`${readSample(s)}\n`));
    const { events, malformed, counts } = await decode(Buffer.concat(all));
    assert.deepEqual(malformed, []);
    assert.equal(counts.findings, samples.length);
    assert.deepEqual(events, samples.flatMap(handDerived));
  });

  test('one bad line: the other findings are still emitted and the bad line is reported with its number', async () => {
    const good = (id: string) => JSON.stringify({ ...JSON.parse(readSample('SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json')), id });
    const text = [good('a'), '{"schemaVersion":"2.0","id":"broken",', good('b'), 'not json at all', good('c'), ''].join('\n');
    const { events, malformed, counts } = await decode(gzipSync(text));
    assert.deepEqual(events.map((e) => e.aws.id), ['a', 'b', 'c']);
    assert.deepEqual(malformed.map(([line]) => line), [2, 4]);
    assert.equal(counts.malformed, 2);
  });

  test('aws.tags that is not an object becomes {"value": …}', () => {
    const events = findingToEvents({ id: 'x', type: 't', tags: 'plain' } as JsonObject, 'guardduty', ORIGIN);
    assert.deepEqual(JSON.parse(events[0]!.json).aws.tags, { value: 'plain' });
    const listed = findingToEvents({ id: 'x', type: 't', tags: ['a', 'b'] } as JsonObject, 'guardduty', ORIGIN);
    assert.deepEqual(JSON.parse(listed[0]!.json).aws.tags, { value: ['a', 'b'] });
  });

  test('a single port-probe detail is lifted like any other one-element list; an empty list stays', () => {
    const one = findingToEvents({ id: 'x', service: { action: { portProbeAction: { portProbeDetails: [{ p: 1 }] } } } } as JsonObject, 'guardduty', ORIGIN);
    assert.equal(one.length, 1);
    assert.deepEqual(JSON.parse(one[0]!.json).aws.service.action.portProbeAction.portProbeDetails, { p: 1 });
    const none = findingToEvents({ id: 'x', service: { action: { portProbeAction: { portProbeDetails: [] } } } } as JsonObject, 'guardduty', ORIGIN);
    assert.deepEqual(JSON.parse(none[0]!.json).aws.service.action.portProbeAction.portProbeDetails, []);
  });
});

describe('discard_regex', () => {
  const finding = () => JSON.parse(readSample(PORT_PROBE)) as JsonObject;

  test('matches at the start of string values, as Python re.match does', () => {
    assert.ok(discardedBy(finding(), compileDiscardRules([{ field: 'type', pattern: 'Recon:EC2' }])));
    assert.equal(discardedBy(finding(), compileDiscardRules([{ field: 'type', pattern: 'EC2' }])), null);
  });

  test('numbers and booleans by their JSON text; paths through lists match any element', () => {
    assert.ok(discardedBy(finding(), compileDiscardRules([{ field: 'severity', pattern: '2$' }])));
    assert.ok(discardedBy(finding(), compileDiscardRules([{ field: 'service.archived', pattern: 'false' }])));
    const rule = compileDiscardRules([{ field: 'service.action.portProbeAction.portProbeDetails.localPortDetails.port', pattern: '443' }]);
    assert.ok(discardedBy(finding(), rule));
    assert.equal(discardedBy(finding(), compileDiscardRules([{ field: 'no.such.field', pattern: '.*' }])), null);
  });

  test('a discarded finding yields no event and is counted, before the port-probe split', async () => {
    const rules = compileDiscardRules([{ field: 'service.action.actionType', pattern: 'PORT_PROBE' }]);
    const { events, counts } = await decode(gzipSync(readSample(PORT_PROBE)), rules);
    assert.equal(events.length, 0);
    assert.equal(counts.discarded, 1);
  });
});
