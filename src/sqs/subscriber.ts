import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createBucketClient, credentialsFor, startRegion, type BucketClient } from '../aws/s3.js';
import { notifiedBucket, type BucketConfig, type SubscriberConfig } from '../config/load.js';
import { ChildAborts, Semaphore } from '../concurrency.js';
import { compileDiscardRules, type CompiledDiscardRule } from '../decode/discard.js';
import { OutputError, StateError, describe } from '../errors.js';
import { owedDelete } from '../policy/deletes.js';
import { placeKey } from '../policy/layout.js';
import { judgeKey, keyFacts } from '../policy/verdict.js';
import { newRecord, readObject, removeObject } from '../read-object.js';
import type { KnownObject, ObjectRecord } from '../state/rows.js';
import type { ObjectOutcome, RunContext } from '../vocabulary.js';
import { locateKey, type LocatedKey } from '../walk/locate.js';
import { parseNotification, type NotifiedObject } from './notifications.js';

/** A bucket a notification named: its configuration, S3 client and compiled discard rules. */
interface NotifiedBucket {
  config: BucketConfig;
  client: BucketClient;
  discard: CompiledDiscardRule[];
}

export interface SubscriberOptions {
  /** Long-poll wait of each ReceiveMessage, seconds (SQS allows up to 20). */
  waitSeconds: number;
  /** Drain: stop once a long poll returns nothing. */
  once: boolean;
  /** Buckets also read by listing: their state is pruned by the listing's window, not here. */
  polledBuckets: ReadonlySet<string>;
}

/**
 * Done keys of buckets read only through notifications are forgotten after this long: SQS keeps a
 * message 14 days at most, so no notification for them can come back.
 */
export const NOTIFIED_KEYS_KEPT_MS = 15 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;

/** Messages taken per ReceiveMessage (the SQS maximum). */
const BATCH = 10;
/** After an output failure, wait this long before taking messages again (they return to the queue meanwhile). */
const OUTPUT_BACKOFF_MS = 5_000;

/**
 * A competing consumer of one SQS queue of S3 notifications. A message is deleted only once every
 * object it names was delivered to every output and recorded; while one is in work its visibility is
 * extended (heartbeat). A message that fails stays: the queue delivers it again, and its redrive policy
 * moves it to the dead-letter queue in the end. Several processes may share one queue.
 */
export class SqsSubscriber {
  private readonly log: Logger;
  private client: SQSClient | null = null;
  private queueUrl = '';
  private visibilitySeconds = 30;
  /** Each notified bucket's configuration, S3 client and discard rules, made once (the promise, so that two messages do not make two). */
  private readonly buckets = new Map<string, Promise<NotifiedBucket>>();
  /** Objects read at once, across every batch in work. */
  private readonly slots: Semaphore;
  private readonly reads: ChildAborts;
  /** The output or state failure of the batches in work, which stops taking messages for a while. */
  private runFailure: OutputError | StateError | null = null;
  private failed = false;
  private readonly lastPruned = new Map<string, number>();
  /**
   * Reads in progress by bucket and key: S3 may notify a key more than once (and several pollers take
   * batches at once), and every message naming a key waits on its one read. Once it settles, the
   * state's verdict answers later notifications.
   */
  private readonly reading = new Map<string, Promise<ObjectOutcome>>();

  constructor(
    private readonly config: SubscriberConfig,
    private readonly ctx: RunContext,
    private readonly options: SubscriberOptions,
  ) {
    this.log = ctx.log.child({ queue: config.sqsName });
    this.slots = new Semaphore(ctx.concurrency);
    this.reads = new ChildAborts(ctx.abandon);
  }

  /** Runs until stopped (or drained with `once`); false when a message or the queue failed. */
  async run(): Promise<boolean> {
    try {
      await this.connect();
    } catch (err) {
      this.log.error({ err: describe(err) }, `SQS queue ${this.config.sqsName}: ${describe(err)}; check sqs_name, the region or service_endpoint, and sqs:GetQueueUrl permission`);
      this.close();
      return false;
    }
    this.log.info({ visibilitySeconds: this.visibilitySeconds }, `reading S3 notifications from SQS queue ${this.config.sqsName}`);
    const pollers = Math.max(1, Math.min(4, Math.ceil(this.ctx.concurrency / BATCH)));
    await Promise.all(Array.from({ length: pollers }, () => this.poll()));
    this.close();
    return !this.failed;
  }

  private async connect(): Promise<void> {
    const access = this.config.access;
    const region = await startRegion(access);
    this.client = new SQSClient({
      region,
      credentials: credentialsFor(access, region),
      maxAttempts: 5,
      ...(access.serviceEndpoint !== null ? { endpoint: access.serviceEndpoint } : {}),
    });
    const { QueueUrl } = await this.client.send(new GetQueueUrlCommand({ QueueName: this.config.sqsName }));
    this.queueUrl = QueueUrl!;
    const { Attributes } = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['VisibilityTimeout'] }));
    this.visibilitySeconds = Math.max(1, Number(Attributes?.['VisibilityTimeout'] ?? 30));
  }

  private async poll(): Promise<void> {
    while (!this.ctx.stop.aborted) {
      let messages: Message[];
      try {
        const answer = await this.client!.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: BATCH,
            WaitTimeSeconds: this.options.waitSeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.ctx.stop },
        );
        messages = answer.Messages ?? [];
      } catch (err) {
        if (this.ctx.stop.aborted) return;
        this.log.error({ err: describe(err) }, `SQS queue ${this.config.sqsName}: receiving failed: ${describe(err)}`);
        this.failed = true;
        if (this.options.once) return;
        await sleep(OUTPUT_BACKOFF_MS, undefined, { signal: this.ctx.stop }).catch(() => undefined);
        continue;
      }
      if (messages.length === 0) {
        if (this.options.once) return;
        continue;
      }
      await Promise.all(messages.map((message) => this.handle(message)));
      const outputFailure = this.runFailure;
      if (outputFailure) {
        this.failed = true;
        this.log.error({ err: outputFailure.message }, `${outputFailure.message}; messages not done stay on the queue and come back`);
        if (this.options.once) return;
        await sleep(OUTPUT_BACKOFF_MS, undefined, { signal: this.ctx.stop }).catch(() => undefined);
        // The output or the state is tried again with the next messages.
        if (this.runFailure === outputFailure) this.runFailure = null;
      }
    }
  }

  /** Keeps the state of notified-only buckets bounded: an hourly sweep of keys past any SQS retention. */
  private prune(bucket: string): void {
    if (this.options.polledBuckets.has(bucket)) return;
    const now = this.ctx.now().getTime();
    if (now - (this.lastPruned.get(bucket) ?? 0) < PRUNE_EVERY_MS) return;
    this.lastPruned.set(bucket, now);
    const pruned = this.ctx.state.pruneDoneBefore(bucket, now - NOTIFIED_KEYS_KEPT_MS);
    if (pruned > 0) this.log.debug({ bucket, pruned }, 'pruned state of keys notified more than 15 days ago');
  }

  /** A notified bucket's configuration (config/load.ts notifiedBucket), its S3 client and discard rules. */
  private bucketFor(name: string): Promise<NotifiedBucket> {
    let target = this.buckets.get(name);
    if (!target) {
      const config = notifiedBucket(this.config, name);
      target = createBucketClient(config, {
        maxSockets: this.ctx.concurrency + 4,
        timeoutMs: this.ctx.s3TimeoutMs,
        onRequest: (op) => this.ctx.telemetry?.s3Request?.(name, op),
      }).then((client) => ({ config, client, discard: compileDiscardRules(config.discardRegex) }));
      // A client that could not be made is made again for the next message.
      target.catch(() => this.buckets.delete(name));
      this.buckets.set(name, target);
    }
    return target;
  }

  /** Reads a notified object once, however many messages of the batches in work name it. */
  private readOnce(object: NotifiedObject, located: LocatedKey): Promise<ObjectOutcome> {
    const id = `${object.bucket}/${object.key}`;
    let read = this.reading.get(id);
    if (!read) {
      read = this.readNotified(object, located).finally(() => this.reading.delete(id));
      this.reading.set(id, read);
    }
    return read;
  }

  /**
   * One notified object through the same verdict, read and record as a listing's (policy/verdict.ts,
   * read-object.ts). 'done' also when the state already had it: only then may the message be let go.
   */
  private async readNotified(object: NotifiedObject, located: LocatedKey): Promise<ObjectOutcome> {
    this.prune(object.bucket);
    const { config, client, discard } = await this.bucketFor(object.bucket);
    const placed = placeKey({ path: located.path, pathSuffix: located.layout === 'native' ? located.pathSuffix : '' }, located.layout, object.key);
    const known = this.ctx.state.lookup(object.bucket, object.key);
    const limits = { bucket: config, skipOnError: true, maxAttempts: this.ctx.limits.maxAttempts, rescan: false };
    const verdict = judgeKey(keyFacts(limits, placed, known, null));
    if (verdict.why === 'done') {
      // A pass carries out the deletes it owes at its start; a notification does it for its key.
      if (owedDelete(verdict.deletePending, config.removeFromBucket) === 'owed') await this.remove(config, client, object.key);
      return 'done';
    }
    if (!verdict.read || placed === null) return 'failed';
    return this.read({ config, client, discard }, newRecord(object.bucket, located.path, placed.partition, object), object.size, verdict.resume);
  }

  private async read(target: NotifiedBucket, record: ObjectRecord, listedSize: number | null, previous: KnownObject | undefined): Promise<ObjectOutcome> {
    if (listedSize !== 0) this.ctx.telemetry?.objectToRead?.(record.bucket);
    await this.slots.acquire();
    const abort = this.reads.take();
    try {
      if (this.ctx.stop.aborted || this.runFailure !== null) return 'unfinished';
      const result = await readObject({
        bucket: target.config,
        client: target.client,
        record,
        listedSize,
        previous,
        log: this.log.child({ bucket: record.bucket }),
        state: this.ctx.state,
        outputs: this.ctx.outputs,
        limits: this.ctx.limits,
        skipOnError: true,
        discard: target.discard,
        stopping: this.ctx.stop,
        abandon: abort.signal,
        telemetry: this.ctx.telemetry,
        now: this.ctx.now,
      });
      if (result.runFailure) this.runFailure ??= result.runFailure;
      return result.outcome;
    } finally {
      abort.release();
      this.slots.release();
    }
  }

  private async remove(config: BucketConfig, client: BucketClient, key: string): Promise<void> {
    try {
      await removeObject(config, client, this.ctx.state, key, this.log);
    } catch (err) {
      if (!(err instanceof StateError)) throw err;
      this.runFailure ??= err;
    }
  }

  private async handle(message: Message): Promise<void> {
    const id = message.MessageId ?? '?';
    const receives = Number(message.Attributes?.['ApproximateReceiveCount'] ?? 1);
    const notification = parseNotification(message.Body ?? '');
    if (notification.kind !== 'objects') {
      this.log.debug({ messageId: id }, notification.kind === 'test' ? 's3:TestEvent; deleted' : `${notification.reason}; deleted`);
      await this.delete(message);
      return;
    }
    // Not deleted: reading it again cannot mend it, and its redrive policy moves it to the dead-letter
    // queue for an operator. The objects it does name are still read, so when it comes back they are no-ops.
    if (notification.unreadable.length > 0) {
      this.log.warn(
        { messageId: id, receives, unreadable: notification.unreadable },
        `SQS queue ${this.config.sqsName}: message ${id} (received ${receives} times) cannot be understood: ${notification.unreadable.join('; ')}; left on the queue for its dead-letter queue`,
      );
    }
    const heartbeat = this.keepInvisible(message);
    let left: string[] = [];
    try {
      const outcomes = await Promise.all(
        notification.objects.map(async (object): Promise<[string, ObjectOutcome | 'outside']> => {
          const located = locateKey(object.key);
          if (!located) return [object.key, 'outside'];
          return [`s3://${object.bucket}/${object.key}`, await this.readOnce(object, located)];
        }),
      );
      for (const [key, outcome] of outcomes) {
        if (outcome === 'outside') this.log.debug({ messageId: id, key }, 'key outside the GuardDuty layouts; ignored');
      }
      left = outcomes.filter(([, outcome]) => outcome === 'failed' || outcome === 'retry' || outcome === 'unfinished').map(([key]) => key);
    } catch (err) {
      left = [`message ${id}: ${describe(err)}`];
    } finally {
      clearInterval(heartbeat);
    }
    if (left.length === 0) {
      if (notification.unreadable.length === 0) await this.delete(message);
      return;
    }
    this.failed = true;
    if (this.ctx.stop.aborted) return;
    this.log.error(
      { messageId: id, receives, objects: left },
      `SQS message ${id} (received ${receives} times): ${left.join(', ')} not done; left on the queue for another try, then its dead-letter queue`,
    );
  }

  /** Heartbeat: pushes the message's visibility timeout on while its objects are read. */
  private keepInvisible(message: Message): NodeJS.Timeout {
    const timer = setInterval(() => {
      this.client!
        .send(new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: this.visibilitySeconds }))
        .catch((err: unknown) => this.log.warn({ messageId: message.MessageId, err: describe(err) }, `extending the visibility of SQS message ${message.MessageId} failed: ${describe(err)}`));
    }, (this.visibilitySeconds * 1000) / 2);
    timer.unref();
    return timer;
  }

  private async delete(message: Message): Promise<void> {
    try {
      await this.client!.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: message.ReceiptHandle }));
    } catch (err) {
      // Done and recorded: if the message comes back, the state makes it a no-op.
      this.log.warn({ messageId: message.MessageId, err: describe(err) }, `deleting SQS message ${message.MessageId} failed: ${describe(err)}; it comes back and is skipped as done`);
    }
  }

  private close(): void {
    for (const target of this.buckets.values()) target.then(({ client }) => client.close(), () => undefined);
    this.buckets.clear();
    this.client?.destroy();
  }
}
