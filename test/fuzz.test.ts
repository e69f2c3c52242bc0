// Fuzz: corrupted containers and JSON never crash or hang the decoder; each bad object fails with one
// clear ObjectError (or decodes what is still valid); a bucket of them, read by a collector pass in this
// process, fails each bad object alone.
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { compileDiscardRules } from '../src/decode/discard.js';
import { FetchError } from '../src/aws/body.js';
import { decodeObject } from '../src/decode/object.js';
import { ObjectError } from '../src/errors.js';
import { ENCODINGS, encode } from './helpers/encodings.js';
import { firehoseKey, today } from '../support/findings.js';
import { readSample } from '../support/paths.js';
import { random } from './helpers/random.js';
import { useFakeS3 } from '../support/s3.js';
import { inProcessBucket } from './helpers/harness.js';

const fake = useFakeS3();

const CONTENT = Buffer.from(
  ['JackPott__CredentialAccess-IAMUser-AnomalousBehavior.json', 'JackPott__Stealth-IAMUser-PasswordPolicyChange.json', 'SEKOIA-IO__Recon-EC2-PortProbeUnprotectedPort.json']
    .map((name) => readSample(name).trim())
    .join('\n'),
);

type Mutation = (bytes: Buffer, next: () => number) => Buffer;

const MUTATIONS: Record<string, Mutation> = {
  truncate: (bytes, next) => bytes.subarray(0, Math.floor(next() * bytes.length)),
  'bit flips': (bytes, next) => {
    const copy = Buffer.from(bytes);
    const flips = 1 + Math.floor(next() * 8);
    for (let i = 0; i < flips; i++) copy[Math.floor(next() * copy.length)]! ^= 1 << Math.floor(next() * 8);
    return copy;
  },
  'random bytes': (bytes, next) => Buffer.from(Array.from({ length: 1 + Math.floor(next() * 2048) }, () => Math.floor(next() * 256))),
  'spliced garbage': (bytes, next) => {
    const at = Math.floor(next() * bytes.length);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(next() * 64) }, () => Math.floor(next() * 256))), bytes.subarray(at)]);
  },
};

async function decodeWithin(bytes: Buffer, ms: number): Promise<'decoded' | Error> {
  const run = decodeObject(
    (async function* () {
      for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
    })(),
    {
      origin: { bucket: 'fuzz', key: 'k', accountAlias: '' },
      discard: compileDiscardRules([]),
      deliver: async () => {},
      malformed: () => {},
      skipped: () => {},
      maxObjectBytes: 4 * 1024 * 1024,
      maxDocumentBytes: 256 * 1024,
    },
  ).then(
    () => 'decoded' as const,
    (err: Error) => err,
  );
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`decoding hung for ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run, hang]);
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzz', () => {
  for (const encoding of ENCODINGS) {
    test(`${encoding}: 240 seeded mutations never crash or hang; failures are one-line ObjectErrors`, async () => {
      const valid = await encode(encoding, CONTENT);
      const next = random(encoding.length * 7919 + 17);
      const outcomes = { decoded: 0, failed: 0 };
      for (const [name, mutate] of Object.entries(MUTATIONS)) {
        for (let i = 0; i < 60; i++) {
          const result = await decodeWithin(mutate(valid, next), 5000);
          if (result === 'decoded') {
            outcomes.decoded++;
            continue;
          }
          outcomes.failed++;
          assert.ok(result instanceof ObjectError || result instanceof FetchError, `${name} #${i}: ${result.name}: ${result.message}`);
          assert.ok(!result.message.includes('\n') && result.message.length > 10, `${name} #${i}: "${result.message}"`);
        }
      }
      assert.ok(outcomes.failed > 0, 'some mutations must break the object');
    });
  }

  test('deep nesting spliced into a line (300 seeded splices, up to 60,000 levels): no stack overflow, and the other lines are delivered', async () => {
    const samples = ['SEKOIA-IO__Recon-EC2-PortProbeUnprotectedPort.json', 'SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json', 'aws-samples__PenTest-S3-ParrotLinux.json'];
    const lines = samples.map((name, i) => JSON.stringify({ ...(JSON.parse(readSample(name)) as object), id: `line-${i}` }));
    const runs: Array<(n: number) => string> = [
      (n) => '['.repeat(n),
      (n) => '{"a":'.repeat(n),
      (n) => '['.repeat(n) + ']'.repeat(n),
      (n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n),
      (n) => '[\n'.repeat(n),
      (n) => '[\n'.repeat(n) + ']\n'.repeat(n),
      (n) => ',' + '['.repeat(n) + ']'.repeat(n),
    ];
    const next = random(1313);
    for (let round = 0; round < 300; round++) {
      const damaged = Math.floor(next() * lines.length);
      const line = lines[damaged]!;
      const at = Math.floor(next() * (line.length + 1));
      const splice = runs[Math.floor(next() * runs.length)]!([600, 5_000, 60_000][Math.floor(next() * 3)]!);
      const text = lines.map((l, i) => (i === damaged ? l.slice(0, at) + splice + l.slice(at) : l)).join('\n') + '\n';
      const ids: string[] = [];
      // A stack overflow would reject this, as it took the whole object down before.
      await decodeObject(
        (async function* () {
          yield gzipSync(text);
        })(),
        {
          origin: { bucket: 'fuzz', key: 'k', accountAlias: '' },
          discard: compileDiscardRules([]),
          deliver: async (events) => {
            for (const e of events) ids.push(e.findingId);
          },
          malformed: () => {},
          skipped: () => {},
        },
      );
      const others = lines.map((_, i) => `line-${i}`).filter((_, i) => i !== damaged);
      for (const id of others) assert.ok(ids.includes(id), `round ${round}: ${id} missing from ${JSON.stringify(ids)} (line ${damaged} at ${at})`);
    }
  });

  test('a bucket of mutated objects: a collector pass succeeds (the CLI\'s exit 0) and names each failed object in one error line', async () => {
    const bucket = 'fuzz-bucket';
    const h = await inProcessBucket(fake, bucket, () => '');
    try {
      const next = random(4242);
      const keys: string[] = [];
      for (let i = 0; i < 24; i++) {
        const encoding = ENCODINGS[i % ENCODINGS.length]!;
        const mutate = Object.values(MUTATIONS)[i % 4]!;
        const key = firehoseKey(today(), i % 24, '.bin');
        keys.push(key);
        await fake.s3.put(bucket, key, mutate(encoding === 'plain' ? gzipSync(CONTENT) : await encode(encoding, CONTENT), next));
      }
      const { summary } = await h.pass(new Date().toISOString());
      assert.equal(summary.listed, 24);
      const objectErrors = h.logs.filter((l) => l['level'] === 50 && l['line'] === undefined).map((l) => String(l['msg']));
      assert.equal(objectErrors.length, summary.failed);
      for (const key of keys) assert.ok(objectErrors.filter((e) => e.includes(key)).length <= 1, key);
      assert.ok(summary.failed > 0);
    } finally {
      await h.stop();
    }
  });
});
