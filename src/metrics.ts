import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { S3Operation } from './aws/errors.js';
import { SEVERITY_CLASSES, type SeverityClass } from './decode/finding.js';
import type { ObjectOutcome, PassOutcome, Telemetry } from './vocabulary.js';

export interface PartitionNewest {
  bucket: string;
  account: string;
  region: string;
  prefix: string;
  newestModified: number | null;
}

export interface HealthAnswer {
  status: 'ok' | 'degraded';
  /** Why it is degraded; empty when ok. */
  reasons: string[];
  pass: 'not started' | 'running' | 'idle';
  lastPass: { at: string; ok: boolean } | null;
}

export interface MetricsOptions {
  /** Each partition's newest object read, looked up at scrape time. */
  partitions(): PartitionNewest[];
  /** A partition lagging more than this many seconds makes the health degraded; null: never. */
  maxLagSeconds: number | null;
  /**
   * This many passes in a row that found no object in any bucket make the health degraded; null or
   * absent: never (`--max-empty-passes`).
   */
  maxEmptyPasses?: number | null;
  now?(): number;
}

/** Prometheus metrics and the health answer, fed by the run's telemetry. */
export class Metrics implements Telemetry {
  readonly registry = new Registry();
  private readonly listed: Counter<'bucket'>;
  private readonly settled: Counter<'bucket' | 'outcome'>;
  private readonly events: Counter<'bucket'>;
  private readonly findings: Counter<'bucket' | 'severity'>;
  private readonly suppressed: Counter<'bucket'>;
  private readonly bytes: Counter<'bucket'>;
  private readonly requests: Counter<'bucket' | 'operation'>;
  private readonly passSeconds: Histogram<'bucket'>;
  private readonly lastPassOk: Gauge<'bucket'>;
  private readonly discarded: Counter<'bucket'>;
  private readonly malformed: Counter<'bucket'>;
  private readonly outputErrors: Counter;
  private readonly lastPassAt: Gauge;
  private running = false;
  /** Passes in a row, up to the last, in which every bucket listed nothing inside its layout. */
  private emptyPasses = 0;
  /** The buckets of the last of those passes. */
  private emptyBuckets: string[] = [];
  private lastPass: { at: number; outcome: PassOutcome } | null = null;
  private readonly now: () => number;

  constructor(private readonly options: MetricsOptions) {
    this.now = options.now ?? Date.now;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'guardduty_wodle_' });
    this.listed = new Counter({ name: 'guardduty_wodle_objects_listed_total', help: 'Keys listed inside the layout and the day window', labelNames: ['bucket'], registers });
    this.settled = new Counter({
      name: 'guardduty_wodle_objects_total',
      help: 'Objects read: done, failed, gone (deleted before the read), or left unfinished for the next pass',
      labelNames: ['bucket', 'outcome'],
      registers,
    });
    this.events = new Counter({ name: 'guardduty_wodle_events_total', help: 'Events delivered to every output', labelNames: ['bucket'], registers });
    this.findings = new Counter({
      name: 'guardduty_wodle_findings_total',
      help: "Findings delivered, by AWS's severity class: low 1.0-3.9, medium 4.0-6.9, high 7.0-8.9, critical 9.0-10.0",
      labelNames: ['bucket', 'severity'],
      registers,
    });
    this.suppressed = new Counter({
      name: 'guardduty_wodle_updates_suppressed_total',
      help: 'Re-exports of findings already sent that finding_updates held back',
      labelNames: ['bucket'],
      registers,
    });
    this.bytes = new Counter({ name: 'guardduty_wodle_object_bytes_total', help: 'Bytes (as stored in S3) of objects done', labelNames: ['bucket'], registers });
    this.requests = new Counter({ name: 'guardduty_wodle_s3_requests_total', help: 'S3 requests by operation', labelNames: ['bucket', 'operation'], registers });
    this.passSeconds = new Histogram({
      name: 'guardduty_wodle_bucket_pass_duration_seconds',
      help: 'Duration of one pass over one bucket',
      labelNames: ['bucket'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.lastPassOk = new Gauge({ name: 'guardduty_wodle_last_pass_success', help: '1 when the last pass over the bucket succeeded', labelNames: ['bucket'], registers });
    this.discarded = new Counter({
      name: 'guardduty_wodle_findings_discarded_total',
      help: 'Findings dropped by discard_regex',
      labelNames: ['bucket'],
      registers,
    });
    this.malformed = new Counter({
      name: 'guardduty_wodle_lines_malformed_total',
      help: 'Bad lines inside objects (invalid JSON, a torn write, nested too deep), reported and skipped',
      labelNames: ['bucket'],
      registers,
    });
    this.outputErrors = new Counter({ name: 'guardduty_wodle_output_errors_total', help: 'Passes ended early because an output failed', registers });
    this.lastPassAt = new Gauge({ name: 'guardduty_wodle_last_pass_timestamp_seconds', help: 'When the last pass ended, in seconds since the epoch', registers });
    const self = this;
    new Gauge({
      name: 'guardduty_wodle_partition_lag_seconds',
      help: "Now minus the LastModified of the partition's newest object read",
      labelNames: ['bucket', 'account', 'region'],
      registers,
      collect() {
        this.reset();
        for (const lag of self.lags()) this.set({ bucket: lag.bucket, account: lag.account, region: lag.region }, lag.seconds);
      },
    });
    new Gauge({
      name: 'guardduty_wodle_pass_running',
      help: '1 while a pass is running',
      registers,
      collect() {
        this.set(self.running ? 1 : 0);
      },
    });
  }

  passStarted(): void {
    this.running = true;
  }

  passFinished(outcome: PassOutcome): void {
    this.running = false;
    this.lastPass = { at: this.now(), outcome };
    this.lastPassAt.set(this.lastPass.at / 1000);
    if (outcome.outputFailure) this.outputErrors.inc();
    for (const bucket of outcome.buckets) {
      this.passSeconds.observe({ bucket: bucket.bucket }, bucket.durationMs / 1000);
      this.lastPassOk.set({ bucket: bucket.bucket }, bucket.ok ? 1 : 0);
      // Added even when 0, so that each bucket's series exists from its first pass on.
      this.discarded.inc({ bucket: bucket.bucket }, bucket.discarded);
      this.malformed.inc({ bucket: bucket.bucket }, bucket.malformed);
    }
    // A pass is empty when it got to every bucket and none listed anything inside its layout; any other
    // pass (something listed, a bucket failed, an output or the state ended it early) ends the run.
    const empty = outcome.buckets.length > 0 && !outcome.outputFailure && !outcome.stateFailure && outcome.buckets.every((b) => b.ok && b.listed === 0);
    this.emptyPasses = empty ? this.emptyPasses + 1 : 0;
    this.emptyBuckets = empty ? outcome.buckets.map((b) => b.bucket) : [];
  }

  objectListed(bucket: string): void {
    this.listed.inc({ bucket });
  }

  objectSettled(bucket: string, outcome: ObjectOutcome, bytes: number, events: number): void {
    // A failed read that is tried again is, to the metric as before, left for the next pass.
    this.settled.inc({ bucket, outcome: outcome === 'retry' ? 'unfinished' : outcome });
    if (events > 0) this.events.inc({ bucket }, events);
    if (bytes > 0) this.bytes.inc({ bucket }, bytes);
  }

  findingsDelivered(bucket: string, severities: Record<SeverityClass, number>): void {
    for (const severity of SEVERITY_CLASSES) if (severities[severity] > 0) this.findings.inc({ bucket, severity }, severities[severity]);
  }

  updatesSuppressed(bucket: string, count: number): void {
    this.suppressed.inc({ bucket }, count);
  }

  s3Request(bucket: string, operation: S3Operation): void {
    this.requests.inc({ bucket, operation });
  }

  private lags(): Array<{ bucket: string; account: string; region: string; seconds: number }> {
    const now = this.now();
    return this.options
      .partitions()
      .filter((p) => p.newestModified !== null)
      .map((p) => ({ bucket: p.bucket, account: p.account, region: p.region, seconds: Math.max(0, (now - p.newestModified!) / 1000) }));
  }

  health(): HealthAnswer {
    const reasons: string[] = [];
    const outcome = this.lastPass?.outcome;
    if (outcome?.outputFailure) reasons.push(`output down: ${outcome.outputFailure}`);
    if (outcome?.stateFailure) reasons.push(`state cannot be written: ${outcome.stateFailure}`);
    for (const bucket of outcome?.buckets ?? []) if (!bucket.ok) reasons.push(`last pass failed for bucket ${bucket.bucket}`);
    if (outcome && !outcome.ok && reasons.length === 0) reasons.push('last pass failed');
    if (this.options.maxLagSeconds !== null) {
      for (const lag of this.lags()) {
        if (lag.seconds > this.options.maxLagSeconds) {
          reasons.push(`lag over ${this.options.maxLagSeconds} s: ${lag.bucket} ${lag.account || '-'} ${lag.region || '-'} is ${Math.round(lag.seconds)} s behind`);
        }
      }
    }
    const maxEmpty = this.options.maxEmptyPasses ?? null;
    if (maxEmpty !== null && this.emptyPasses >= maxEmpty) {
      const where = this.emptyBuckets.map((b) => `s3://${b}`).join(', ');
      reasons.push(`no objects found in the last ${this.emptyPasses} passes over ${where} (check <path>, the bucket name, aws_account_id and regions)`);
    }
    return {
      status: reasons.length === 0 ? 'ok' : 'degraded',
      reasons,
      pass: this.running ? 'running' : this.lastPass ? 'idle' : 'not started',
      lastPass: this.lastPass ? { at: new Date(this.lastPass.at).toISOString(), ok: this.lastPass.outcome.ok } : null,
    };
  }
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves /metrics (Prometheus text) and /health (200 ok, 503 degraded, JSON). */
export async function serveMetrics(metrics: Metrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
      );
      return;
    }
    if (path === '/health') {
      const answer = metrics.health();
      res.writeHead(answer.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(answer)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
