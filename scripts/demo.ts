// `npm run demo`: a local S3 endpoint (fauxqs, in this process) holding GuardDuty exports in the
// native layout — the public sample findings plus generated ones from several accounts and regions —
// a temporary ossec.conf, and one `--once --output stdout` pass of the real CLI. Events go to stdout;
// stderr gets the collector's own `bucket pass` log line, as an operator sees it, and a closing line
// that adds up: the events on stdout against the findings put in the bucket, the objects against the
// collector's count. A demo whose numbers do not add up says so and exits 1.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = 'true';

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startFauxqs } from 'fauxqs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const samplesDir = resolve(root, '..', 'shared', 'samples', 'guardduty', 'public');
const BUCKET = 'demo-guardduty-exports';

function day(offset: number): string {
  return new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
}

function keyFor(account: string, region: string, date: string): string {
  return `AWSLogs/${account}/GuardDuty/${region}/${date.replaceAll('-', '/')}/${randomUUID()}.jsonl.gz`;
}

/** Public samples that are bare findings, as a native export holds them (envelopes are Firehose's). */
function bareSamples(): Array<Record<string, unknown>> {
  let names: string[];
  try {
    names = readdirSync(samplesDir).filter((name) => name.endsWith('.json'));
  } catch {
    process.stderr.write(`demo: no samples at ${samplesDir}; using generated findings only\n`);
    return [];
  }
  return names
    .sort()
    .map((name) => JSON.parse(readFileSync(join(samplesDir, name), 'utf8')) as Record<string, unknown>)
    .filter((doc) => typeof doc['type'] === 'string' && typeof doc['id'] === 'string' && !('detail-type' in doc));
}

/** The events a finding becomes: one per port-probe detail when it has several, else one (src/decode/finding.ts). */
function eventsOf(finding: Record<string, unknown>): number {
  const dig = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined);
  const details = dig(dig(dig(dig(finding, 'service'), 'action'), 'portProbeAction'), 'portProbeDetails');
  return Array.isArray(details) && details.length > 1 ? details.length : 1;
}

function generated(account: string, region: string, n: number, template: Record<string, unknown>): Record<string, unknown> {
  const id = `demo${account.slice(-4)}${region.replaceAll('-', '')}${n}`;
  return {
    ...template,
    accountId: account,
    region,
    id,
    arn: `arn:aws:guardduty:${region}:${account}:detector/demo/finding/${id}`,
    severity: [2, 5, 8][n % 3],
    updatedAt: new Date().toISOString(),
  };
}

async function main(): Promise<number> {
  const server = await startFauxqs({ port: 0, logger: false });
  const s3 = new S3Client({
    endpoint: server.address,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'demo', secretAccessKey: 'demo' },
  });
  const work = mkdtempSync(join(tmpdir(), 'guardduty-wodle-demo-'));
  try {
    server.createBucket(BUCKET);
    const put = (key: string, findings: unknown[]) =>
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(findings.map((f) => JSON.stringify(f)).join('\n') + '\n') }));

    const samples = bareSamples();
    const findings: Array<Record<string, unknown>> = [];
    let objects = 0;
    const putFindings = async (key: string, batch: Array<Record<string, unknown>>) => {
      await put(key, batch);
      findings.push(...batch);
      objects++;
    };
    for (const [i, finding] of samples.entries()) {
      await putFindings(keyFor(String(finding['accountId']), String(finding['region']), day(i % 2)), [finding]);
    }
    const template = samples[0] ?? { schemaVersion: '2.0', partition: 'aws', type: 'Recon:EC2/PortProbeUnprotectedPort', title: 'Demo finding' };
    const accounts = ['123456789012', '210987654321', '333333333333'];
    const regions = ['us-east-1', 'eu-west-1'];
    let n = 0;
    for (const account of accounts) {
      for (const region of regions) {
        for (const offset of [0, 1]) await putFindings(keyFor(account, region, day(offset)), [0, 1, 2].map(() => generated(account, region, n++, template)));
      }
    }

    const config = join(work, 'ossec.conf');
    writeFileSync(
      config,
      `<ossec_config>
  <wodle name="aws-s3">
    <disabled>no</disabled>
    <run_on_start>yes</run_on_start>
    <bucket type="guardduty">
      <name>${BUCKET}</name>
      <aws_account_alias>demo</aws_account_alias>
      <only_logs_after>${day(2)}</only_logs_after>
      <service_endpoint>${server.address}</service_endpoint>
    </bucket>
  </wodle>
</ossec_config>
`,
    );
    const cli = join(root, 'dist', 'src', 'cli.js');
    const args = ['--config', config, '--once', '--state', join(work, 'state.db'), '--output', 'stdout', '--log-level', 'info'];
    const env = { ...process.env, AWS_ACCESS_KEY_ID: 'demo', AWS_SECRET_ACCESS_KEY: 'demo', AWS_REGION: 'us-east-1' };
    // Asynchronous on purpose: the S3 endpoint answers from this process's event loop.
    const child = spawn(cli, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // The events go on to stdout as they come, counted on the way (one JSON event per line).
    let printed = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 0x0a) printed++;
      process.stdout.write(chunk);
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const code = await new Promise<number>((resolveExit) => child.on('close', (c) => resolveExit(c ?? 1)));
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
    s3.destroy();
    await server.stop();
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
