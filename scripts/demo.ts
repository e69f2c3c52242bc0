// `npm run demo`: a local S3 endpoint (fauxqs, in this process) holding GuardDuty exports in the
// native layout — the public sample findings plus generated ones from several accounts and regions —
// a temporary ossec.conf, and one `--once --output stdout` pass of the real CLI. Events go to stdout;
// stderr gets the collector's own `bucket pass` log line, as an operator sees it, and a closing line
// that adds up: the events on stdout against the findings put in the bucket, the objects against the
// collector's count. A demo whose numbers do not add up says so and exits 1.
// The S3 stand-in, the findings, their keys and the CLI's start are the tests' own (support/).
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findingToEvents, type JsonObject } from '../src/decode/finding.js';
import { startCli, writeConfig } from '../support/cli.js';
import { daysAgo, jsonlGz, makeFinding, nativeKey } from '../support/findings.js';
import { SAMPLES, readSample, sampleNames } from '../support/paths.js';
import { FakeS3 } from '../support/s3.js';

const BUCKET = 'demo-guardduty-exports';

/** Public samples that are bare findings, as a native export holds them (envelopes are Firehose's). */
function bareSamples(): Array<Record<string, unknown>> {
  let names: string[];
  try {
    names = sampleNames();
  } catch {
    process.stderr.write(`demo: no samples at ${SAMPLES}; using generated findings only\n`);
    return [];
  }
  return names
    .map((name) => JSON.parse(readSample(name)) as Record<string, unknown>)
    .filter((doc) => typeof doc['type'] === 'string' && typeof doc['id'] === 'string' && !('detail-type' in doc));
}

/** The events the collector makes of a finding (one per port-probe detail when it has several), by its own rule. */
function eventsOf(finding: Record<string, unknown>): number {
  return findingToEvents(structuredClone(finding) as JsonObject, 'guardduty', { bucket: BUCKET, key: '', accountAlias: '' }).length;
}

function generated(account: string, region: string, n: number, template: Record<string, unknown>): Record<string, unknown> {
  const id = `demo${account.slice(-4)}${region.replaceAll('-', '')}${n}`;
  return { ...makeFinding(account, region, id, template), severity: [2, 5, 8][n % 3], updatedAt: new Date().toISOString() };
}

async function main(): Promise<number> {
  const s3 = await FakeS3.start();
  const work = mkdtempSync(join(tmpdir(), 'guardduty-wodle-demo-'));
  try {
    s3.createBucket(BUCKET);
    const samples = bareSamples();
    const findings: Array<Record<string, unknown>> = [];
    let objects = 0;
    const putFindings = async (key: string, batch: Array<Record<string, unknown>>) => {
      await s3.put(BUCKET, key, jsonlGz(batch));
      findings.push(...batch);
      objects++;
    };
    for (const [i, finding] of samples.entries()) {
      await putFindings(nativeKey(String(finding['accountId']), String(finding['region']), daysAgo(i % 2)), [finding]);
    }
    const template = samples[0] ?? { schemaVersion: '2.0', partition: 'aws', type: 'Recon:EC2/PortProbeUnprotectedPort', title: 'Demo finding' };
    const accounts = ['123456789012', '210987654321', '333333333333'];
    const regions = ['us-east-1', 'eu-west-1'];
    let n = 0;
    for (const account of accounts) {
      for (const region of regions) {
        for (const offset of [0, 1]) await putFindings(nativeKey(account, region, daysAgo(offset)), [0, 1, 2].map(() => generated(account, region, n++, template)));
      }
    }

    const config = writeConfig(
      work,
      [{ name: BUCKET, endpoint: s3.endpoint, extra: `      <aws_account_alias>demo</aws_account_alias>\n      <only_logs_after>${daysAgo(2)}</only_logs_after>` }],
      '    <run_on_start>yes</run_on_start>',
    );
    const args = ['--config', config, '--once', '--state', join(work, 'state.db'), '--output', 'stdout', '--log-level', 'info'];
    // Asynchronous on purpose: the S3 endpoint answers from this process's event loop.
    const running = startCli(args, { env: { AWS_ACCESS_KEY_ID: 'demo', AWS_SECRET_ACCESS_KEY: 'demo', AWS_REGION: 'us-east-1' } });
    // The events go on to stdout as they come, counted on the way (one JSON event per line).
    let printed = 0;
    running.child.stdout!.on('data', (chunk: string) => {
      for (const char of chunk) if (char === '\n') printed++;
      process.stdout.write(chunk);
    });
    const { code, stderr } = await running.done;
    const passLine = stderr.split('\n').find((line) => line.startsWith('{') && String((JSON.parse(line) as Record<string, unknown>)['msg']).startsWith('bucket pass'));
    if (code !== 0 || passLine === undefined) {
      process.stderr.write(stderr);
      process.stderr.write(`demo: the collector exited with ${code}\n`);
      return code || 1;
    }
    // What an operator sees of a pass: the collector's own line, as it logged it.
    process.stderr.write(`${passLine}\n`);
    const pass = JSON.parse(passLine) as Record<string, number>;
    const expected = findings.reduce((sum, finding) => sum + eventsOf(finding), 0);
    const split = expected - findings.length;
    process.stderr.write(
      `demo: ${printed} events on stdout = ${findings.length} findings (${samples.length} public samples + ${n} generated) ` +
        `+ ${split} more from port probes split one event per probe; ${objects} objects put, ${pass['listed']} listed, ${pass['done']} done, ` +
        `in ${pass['partitions']} account/region partitions of s3://${BUCKET}, in ${pass['durationMs']} ms\n`,
    );
    const mismatches = [
      printed !== pass['events'] && `${printed} events on stdout, the pass line says ${pass['events']}`,
      printed !== expected && `${printed} events on stdout, the findings put make ${expected}`,
      (pass['listed'] !== objects || pass['done'] !== objects) && `${objects} objects put, the pass line says ${pass['listed']} listed and ${pass['done']} done`,
      (pass['discarded'] !== 0 || pass['malformed'] !== 0 || pass['failed'] !== 0) && 'the pass line counts discarded findings, bad lines or failed objects',
    ].filter((m): m is string => typeof m === 'string');
    for (const mismatch of mismatches) process.stderr.write(`demo: does not add up: ${mismatch}\n`);
    return mismatches.length === 0 ? 0 : 1;
  } finally {
    await s3.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
