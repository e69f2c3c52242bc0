// Issue 26: one alert per change, not per re-export (<finding_updates>). GuardDuty exports a finding
// again each time it updates it in place; `changed` sends a re-export only for a change of severity,
// type, resource or archived state, or once a day of the finding's own updatedAt; `first` sends each id
// once; neither sends a version that is not newer. Passes in this process against fauxqs; the SQS
// subscriber read in this process too.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { formatFindingExplanation, readFindingExplanation } from '../src/commands/explain-finding.js';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { FileOutput } from '../src/emit/file.js';
import { OutputError } from '../src/errors.js';
import { Outputs, type Output } from '../src/emit/index.js';
import { decideUpdate, versionFacts } from '../src/policy/updates.js';
import { runOnce } from '../src/daemon.js';
import { StateStore } from '../src/state/store.js';
import type { EventBatch } from '../src/event-batch.js';
import { useFakeS3 } from '../support/s3.js';
import { eventsFromLines, tempDir } from './helpers/files.js';
import { jsonlGz, makeFinding, nativeKey } from '../support/findings.js';
import { inProcessBucket } from './helpers/harness.js';
import { inProcessRun } from './helpers/run.js';
import { readFileSync, writeFileSync } from 'node:fs';

const fake = useFakeS3();
const ACCOUNT = '343434343434';
const REGION = 'eu-west-2';
const DAY0 = '2026-10-01';
const HOUR = 3_600_000;

/** A version of one finding: its id, when GuardDuty updated it, and what else changes. */
function version(id: string, updatedAt: number, changes: { count?: number; severity?: number; resource?: string; archived?: boolean } = {}) {
  const base = makeFinding(ACCOUNT, REGION, id) as Record<string, any>;
  return {
    ...base,
    severity: changes.severity ?? base['severity'],
    updatedAt: new Date(updatedAt).toISOString(),
    resource: changes.resource === undefined ? base['resource'] : { ...base['resource'], instanceDetails: { ...base['resource'].instanceDetails, instanceId: changes.resource } },
    service: { ...base['service'], count: changes.count ?? 1, eventLastSeen: new Date(updatedAt).toISOString(), archived: changes.archived ?? false },
  };
}

describe('what a re-export means', () => {
  const changed = { mode: 'changed' as const, everySeconds: 86_400 };
  const t0 = Date.parse(`${DAY0}T00:00:00Z`);
  const facts = (updatedAt: number, changes = {}) => versionFacts(version('f', updatedAt, changes) as never);
  test('changed: counts and times are the same alert; severity, type, resource and archived are new ones; a day later it is sent again', () => {
    assert.deepEqual(decideUpdate(changed, facts(t0), undefined), { send: true, why: 'first-seen', changed: [] });
    assert.deepEqual(decideUpdate(changed, facts(t0 + 6 * HOUR, { count: 9 }), facts(t0)), { send: false, why: 'unchanged', changed: [] });
    assert.deepEqual(decideUpdate(changed, facts(t0 + 6 * HOUR, { severity: 8.9 }), facts(t0)), { send: true, why: 'changed', changed: ['severity'] });
    assert.deepEqual(decideUpdate(changed, facts(t0 + HOUR, { resource: 'i-other' }), facts(t0)), { send: true, why: 'changed', changed: ['resource'] });
    assert.deepEqual(decideUpdate(changed, facts(t0 + HOUR, { archived: true }), facts(t0)), { send: true, why: 'changed', changed: ['archived'] });
    assert.deepEqual(decideUpdate(changed, facts(t0 + 24 * HOUR, { count: 40 }), facts(t0)), { send: true, why: 'interval', changed: [] });
  });

  test('neither changed nor first sends a version not newer than the one last sent; first sends an id once; all sends everything', () => {
    assert.deepEqual(decideUpdate(changed, facts(t0, { severity: 2 }), facts(t0 + HOUR)), { send: false, why: 'not-newer', changed: [] });
    assert.deepEqual(decideUpdate({ mode: 'first', everySeconds: 60 }, facts(t0 + 48 * HOUR, { severity: 2 }), facts(t0)), { send: false, why: 'sent-once', changed: [] });
    assert.deepEqual(decideUpdate({ mode: 'all', everySeconds: 60 }, facts(t0), facts(t0)), { send: true, why: 'every-export', changed: [] });
    const noTime = versionFacts({ ...version('f', t0), updatedAt: undefined } as never);
    assert.deepEqual(decideUpdate(changed, noTime, facts(t0)), { send: true, why: 'no-updated-at', changed: [] });
  });

  test('the options are read per bucket and per subscriber, all unless told', () => {
    const config = parseConfig(
      `<ossec_config><wodle name="aws-s3">
         <bucket type="guardduty"><name>a</name></bucket>
         <bucket type="guardduty"><name>b</name><finding_updates>changed</finding_updates><finding_updates_every>6h</finding_updates_every></bucket>
         <subscriber type="buckets"><sqs_name>q</sqs_name><finding_updates>first</finding_updates></subscriber>
       </wodle></ossec_config>`,
      'updates.conf',
    );
    const [wodle] = config.wodles;
    assert.deepEqual(wodle!.buckets.map((b) => b.findingUpdates), [
      { mode: 'all', everySeconds: 86_400 },
      { mode: 'changed', everySeconds: 21_600 },
    ]);
    assert.deepEqual(wodle!.subscribers[0]!.findingUpdates, { mode: 'first', everySeconds: 86_400 });
    assert.throws(() => parseConfig(`<ossec_config><wodle name="aws-s3"><bucket type="guardduty"><name>a</name><finding_updates>some</finding_updates></bucket></wodle></ossec_config>`, 'bad.conf'), /bad\.conf:1: .*"some" is not one of all, changed, first/);
  });
});

/** A bucket whose findings are exported again at these times, one object per export. */
async function exportsBucket(name: string, updates: string) {
  const h = await inProcessBucket(fake, name, () => `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after>${updates}`);
  const put = async (findings: object[], at: number) => {
    const day = new Date(at).toISOString().slice(0, 10);
    const key = nativeKey(ACCOUNT, REGION, day, `${at}-${findings.length}.jsonl.gz`);
    await fake.s3.put(name, key, jsonlGz(findings));
    return key;
  };
  const sent = () => {
    try {
      return eventsFromLines(readFileSync(join(h.statePath, '..', 'events.jsonl'), 'utf8')).map((e) => ({ id: e['aws'].id as string, updatedAt: e['aws'].updatedAt as string, severity: e['aws'].severity }));
    } catch {
      return [];
    }
  };
  return { h, put, sent };
}

describe('finding_updates through collector passes', () => {
  const t0 = Date.parse(`${DAY0}T02:00:00Z`);
  test('changed, over three days of six-hourly re-exports: the first, a severity change, a resource change, archived then unarchived, and once a day', async () => {
    const { h, put, sent } = await exportsBucket('upd-changed', '<finding_updates>changed</finding_updates>');
    try {
      const plan: Array<[number, Parameters<typeof version>[2]]> = [
        [0, {}],
        [6, { count: 2 }],
        [12, { count: 3, severity: 8.5 }],
        [18, { count: 4, severity: 8.5 }],
        [24, { count: 5, severity: 8.5 }],
        [30, { count: 6, severity: 8.5, resource: 'i-0other' }],
        [36, { count: 7, severity: 8.5, resource: 'i-0other', archived: true }],
        [42, { count: 8, severity: 8.5, resource: 'i-0other', archived: false }],
        [48, { count: 9, severity: 8.5, resource: 'i-0other', archived: false }],
        [54, { count: 10, severity: 8.5, resource: 'i-0other', archived: false }],
        [72, { count: 11, severity: 8.5, resource: 'i-0other', archived: false }],
      ];
      // Each export read by its own pass, six hours apart: a restart between each (the harness opens the state anew).
      for (const [hours, changes] of plan) {
        await put([version('recurring', t0 + hours * HOUR, changes), version(`other-${hours}`, t0 + hours * HOUR)], t0 + hours * HOUR);
        const pass = await h.pass(new Date(t0 + hours * HOUR + HOUR).toISOString());
        assert.equal(pass.summary.done, 1);
      }
      const recurring = sent().filter((e) => e.id === 'recurring').map((e) => (Date.parse(e.updatedAt) - t0) / HOUR);
      // 0 first; 12 severity; 30 resource; 36 archived; 42 unarchived; 72 a day past 42. Counts alone (6, 18, 24, 48, 54) are held back.
      assert.deepEqual(recurring, [0, 12, 30, 36, 42, 72]);
      assert.equal(sent().filter((e) => e.id.startsWith('other-')).length, plan.length, 'every other finding sent once');
      const line = h.logs.find((l) => String(l['msg']).includes('re-exports held back (finding_updates)'));
      assert.ok(line, 'the pass line counts them');
      const explained = readFindingExplanation(h.statePath, 'recurring');
      assert.equal(explained.versions.length, plan.length);
      assert.deepEqual(explained.versions.map((v) => v.sent), plan.map(([hours]) => [0, 12, 30, 36, 42, 72].includes(hours)));
      const text = formatFindingExplanation(explained);
      assert.match(text, /finding recurring: 11 version\(s\) seen, 6 sent/);
      assert.match(text, /SENT .*\n +sent: its severity changed since the version last sent/);
      assert.match(text, /HELD BACK .*\n +not sent: only counts, times and details changed/);
      assert.match(text, /sent: its archived changed/);
    } finally {
      await h.stop();
    }
  });

  test('out of order and repeated: a version not newer than the one sent is never sent; first sends each id once', async () => {
    const { h, put, sent } = await exportsBucket('upd-first', '<finding_updates>first</finding_updates>');
    try {
      await put([version('late', t0 + 10 * HOUR)], t0 + 10 * HOUR);
      await put([version('late', t0 + 2 * HOUR, { severity: 2 })], t0 + 11 * HOUR);
      await put([version('late', t0 + 30 * HOUR, { severity: 8.8 })], t0 + 30 * HOUR);
      // One object at a time: each decides against what the ones before it recorded (objects read at
      // the same time cannot see each other's versions, and then each may send: never fewer alerts).
      await h.pass(new Date(t0 + 31 * HOUR).toISOString(), { concurrency: 1 });
      assert.deepEqual(sent().map((e) => (Date.parse(e.updatedAt) - t0) / HOUR), [10]);
      const whys = readFindingExplanation(h.statePath, 'late').versions.map((v) => v.why).sort();
      assert.deepEqual(whys, ['first-seen', 'not-newer', 'sent-once']);
    } finally {
      await h.stop();
    }
  });

  test('a version is recorded sent only with its object: an output that fails leaves it to be sent, and reset forgets it', async () => {
    const dir = tempDir();
    let failing = true;
    const out = join(dir, 'events.jsonl');
    const flaky: Output = {
      name: 'flaky',
      eventOrder: 'wazuh',
      open: async () => {},
      write: async (batch: EventBatch) => {
        if (failing) throw new OutputError('flaky', 'down');
        writeFileSync(out, batch.lines(), { flag: 'a' });
      },
      reopen: async () => {},
      close: async () => {},
    };
    const h = await inProcessBucket(fake, 'upd-atomic', () => `<aws_account_id>${ACCOUNT}</aws_account_id><regions>${REGION}</regions><only_logs_after>${DAY0}</only_logs_after><finding_updates>changed</finding_updates>`, {
      expectOk: false,
      outputs: () => [flaky],
    });
    try {
      await fake.s3.put('upd-atomic', nativeKey(ACCOUNT, REGION, DAY0, 'a.jsonl.gz'), jsonlGz([version('atomic', t0)]));
      const down = await h.pass(new Date(t0 + HOUR).toISOString());
      assert.equal(down.ok, false);
      assert.equal(readFindingExplanation(h.statePath, 'atomic').versions.length, 0, 'nothing recorded with the object unrecorded');
      failing = false;
      await h.pass(new Date(t0 + 2 * HOUR).toISOString());
      assert.deepEqual(eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id), ['atomic']);
      const state = StateStore.open(h.statePath);
      try {
        assert.deepEqual(state.forgetBucket('upd-atomic').versions, 1);
      } finally {
        state.close();
      }
      await h.pass(new Date(t0 + 3 * HOUR).toISOString());
      assert.deepEqual(eventsFromLines(readFileSync(out, 'utf8')).map((e) => e['aws'].id), ['atomic', 'atomic'], 'after a reset, read again and sent again');
    } finally {
      await h.stop();
    }
  });

  test('versions of an id not seen for 90 days are forgotten', async () => {
    const { h, put, sent } = await exportsBucket('upd-prune', '<finding_updates>first</finding_updates>');
    try {
      await put([version('old', t0)], t0);
      await h.pass(new Date(t0 + HOUR).toISOString());
      assert.equal(readFindingExplanation(h.statePath, 'old').versions.length, 1);
      await h.pass(new Date(t0 + 91 * 24 * HOUR).toISOString());
      assert.equal(readFindingExplanation(h.statePath, 'old').versions.length, 0);
      assert.equal(sent().length, 1);
    } finally {
      await h.stop();
    }
  });
});

describe('finding_updates in SQS mode', () => {
  test('a subscriber keeps its own versions: re-exports with only counts changed are held back', async () => {
    const bucket = 'upd-sqs';
    fake.s3.createBucket(bucket);
    const sqs = new SQSClient({ endpoint: fake.s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'upd-sqs' }));
    const t0 = Date.parse(`${DAY0}T02:00:00Z`);
    for (const [i, hours] of [0, 6, 12].entries()) {
      const key = nativeKey(ACCOUNT, REGION, DAY0, `sqs-${i}.jsonl.gz`);
      const body = jsonlGz([version('notified', t0 + hours * HOUR, { count: i + 1 })]);
      await fake.s3.put(bucket, key, body);
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replaceAll('%2F', '/'), size: body.length, eTag: 'e' } } }] }),
        }),
      );
    }
    const dir = tempDir();
    const file = join(dir, 'ossec.conf');
    writeFileSync(
      file,
      `<ossec_config><wodle name="aws-s3"><subscriber type="buckets"><sqs_name>upd-sqs</sqs_name><service_endpoint>${fake.s3.endpoint}</service_endpoint><finding_updates>changed</finding_updates></subscriber></wodle></ossec_config>`,
    );
    const state = StateStore.open(join(dir, 'state.db'));
    const outputs = new Outputs([new FileOutput(join(dir, 'events.jsonl'))]);
    try {
      // One message at a time, in order: each export read after the one before it.
      const ok = await runOnce(loadConfig(file), inProcessRun(state, outputs, new Date(t0 + 13 * HOUR), 1, { log: pino({ level: 'silent' }) }), 1);
      assert.equal(ok, true);
      const ids = eventsFromLines(readFileSync(join(dir, 'events.jsonl'), 'utf8')).map((e) => e['aws'].id);
      assert.equal(ids.length, 1, 'one alert for three exports with only counts changed');
    } finally {
      await outputs.close();
      state.close();
    }
  });
});
