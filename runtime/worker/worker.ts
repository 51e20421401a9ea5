import { randomBytes } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { PRIORITY_CLASSES, PriorityClass } from '../../contract/priority';
import { retryQueueFor, type JobQueueTopology } from '../../contract/queue-topology';
import { asError, ConfirmedPublisher, ReconnectingAmqp } from '../jobs/amqp';
import { backoffMs, RECONNECT_MIN_SHARE, type BackoffOptions } from '../common/backoff';
import { DEAD_LETTER_REASON_HEADER, decodeJobMessage, JobMessage, RETRY_COUNT_HEADER } from '../jobs/model';
import type { RedisJobStore } from '../jobs/store';
import { declareTopology } from '../jobs/topology';
import { DEFAULT_MAX_RETRIES } from './config';
import { JobDispatcher } from './dispatcher';
import type { CallbackNotifier } from './callbacks';
import type { WorkerMetrics } from './metrics';
import type { ModelClient } from './model-client';
import { decide, deliveryLimitReached } from './outcome';

export interface JobWorkerOptions {
  /** amqp:// URL of the broker. */
  readonly amqpUrl: string;
  /** Queues to declare and consume. */
  readonly topology: JobQueueTopology;
  /** Job records (results, errors, status). */
  readonly store: RedisJobStore;
  /** Whether Redis is usable right now (readiness). @default () => true */
  readonly storeReady?: () => boolean;
  /** The model server. */
  readonly model: ModelClient;
  /** Jobs processed at once (the semaphore; brief: 10). */
  readonly concurrency: number;
  /**
   * Unacknowledged messages per class queue. Quorum queues do not support a channel-wide
   * (global) prefetch, so each of the four consumers gets this limit; the local priority
   * buffer then starts the highest class first. @default concurrency
   */
  readonly prefetchPerQueue?: number;
  /** Delayed retries of a transiently failing job before it is dead-lettered. @default DEFAULT_MAX_RETRIES (the config schema's) */
  readonly maxRetries?: number;
  /** Broker connection name. @default surgeguard-worker-<random> */
  readonly connectionName?: string;
  /** Reconnect backoff for the broker, and retry backoff for Redis operations. */
  readonly backoff?: BackoffOptions;
  readonly heartbeatSeconds?: number;
  /** Longest wait for a publisher confirm (retry and dead-letter copies). @default 5000 */
  readonly confirmTimeoutMs?: number;
  /** How often queue depths are polled for the metrics. 0 disables. @default 5000 */
  readonly queueDepthPollMs?: number;
  /** Completion callbacks; without it, callback URLs are ignored. */
  readonly callbacks?: CallbackNotifier;
  readonly metrics: WorkerMetrics;
  readonly logger: Logger;
  /** Clock (epoch ms). @default Date.now */
  readonly now?: () => number;
}

interface Delivery {
  readonly msg: ConsumeMessage;
  readonly channel: Channel;
  readonly queueClass: PriorityClass;
}

/** The delivery's channel is gone: its message is back on the queue, stop working on it. */
class ChannelGoneError extends Error {}
/** The job was interrupted by the drain deadline: give the message back. */
class InterruptedError extends Error {}

/**
 * The job consumer: one consumer per class queue, a local priority buffer, at most
 * `concurrency` jobs at once. For each message: validate -> claim in Redis -> call the model ->
 * store the outcome -> ack. A message is acked only after its outcome (or its retry / dead-letter
 * copy, confirmed by the broker) is stored, so a crash at any point means redelivery, and a
 * redelivered job that already has an outcome is acked without calling the model.
 */
export class JobWorker {
  private readonly amqp: ReconnectingAmqp;
  private readonly dispatcher: JobDispatcher<Delivery>;
  private readonly closedChannels = new WeakSet<Channel>();
  private readonly interrupts = new Map<Delivery, AbortController>();
  private consumeChannel: Channel | undefined;
  private publisher: ConfirmedPublisher | undefined;
  private consumerTags: string[] = [];
  private draining: Promise<void> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly maxRetries: number;
  private readonly confirmTimeoutMs: number;
  private readonly backoff: BackoffOptions;
  private readonly log: Logger;

  constructor(private readonly options: JobWorkerOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`JobWorker: concurrency must be a positive integer, got ${options.concurrency}`);
    }
    this.now = options.now ?? Date.now;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 5_000;
    this.backoff = options.backoff ?? { baseMs: 200, capMs: 10_000 };
    this.log = options.logger;
    this.dispatcher = new JobDispatcher(options.concurrency, (d) => this.handle(d));
    this.amqp = new ReconnectingAmqp({
      url: options.amqpUrl,
      connectionName: options.connectionName ?? `surgeguard-worker-${randomBytes(4).toString('hex')}`,
      backoff: this.backoff,
      heartbeatSeconds: options.heartbeatSeconds,
      onConnect: (connection) => this.setUp(connection),
      onDisconnect: (err) => {
        this.options.metrics.brokerConnected.set(0);
        this.log.warn({ err: err?.message }, 'worker lost the broker connection; reconnecting');
      },
      onConnectError: (err, attempt) => this.log.warn({ err: err.message, attempt }, 'worker cannot reach the broker'),
    });
    this.amqp.on('connected', () => {
      this.options.metrics.brokerConnected.set(1);
      this.log.info({ queues: PRIORITY_CLASSES.map((c) => options.topology.classQueues[c].name) }, 'worker consuming');
    });
  }

  start(): void {
    this.amqp.start();
    const pollMs = this.options.queueDepthPollMs ?? 5_000;
    if (pollMs > 0) {
      this.pollTimer = setInterval(() => void this.pollQueueDepths(), pollMs);
      this.pollTimer.unref();
    }
  }

  /** Resolves once consuming, or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    return this.amqp.waitConnected(timeoutMs);
  }

  /** Consuming from the broker, Redis usable, not draining. */
  get ready(): boolean {
    return this.amqp.connected && !this.draining && (this.options.storeReady?.() ?? true);
  }

  get inFlight(): number {
    return this.dispatcher.inFlight;
  }

  /**
   * Graceful stop (SIGTERM): stop consuming, give buffered messages back at once, let running
   * jobs finish for up to `timeoutMs`, then interrupt the rest (their messages go back to the
   * queue for another worker), and close the connection.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining ??= this.doDrain(timeoutMs);
    return this.draining;
  }

  private async doDrain(timeoutMs: number): Promise<void> {
    this.log.info({ inFlight: this.dispatcher.inFlight, buffered: this.dispatcher.buffered, timeoutMs }, 'worker draining');
    this.dispatcher.stop();
    if (this.pollTimer) clearInterval(this.pollTimer);
    const channel = this.consumeChannel;
    if (channel && !this.closedChannels.has(channel)) {
      for (const tag of this.consumerTags) await channel.cancel(tag).catch(() => undefined);
    }
    for (const d of this.dispatcher.takeBuffered()) this.giveBack(d);
    const finished = await raceTimeout(this.dispatcher.idle(), timeoutMs);
    if (!finished) {
      this.log.warn({ inFlight: this.dispatcher.inFlight }, 'drain timeout: interrupting running jobs, their messages go back to the queue');
      for (const controller of this.interrupts.values()) controller.abort();
      await raceTimeout(this.dispatcher.idle(), 2_000);
    }
    // Close the channels before the connection: a channel close is queued behind that channel's
    // acks, whereas a connection close could overtake them and the broker would redeliver.
    for (const ch of [this.consumeChannel, this.publisher?.channel]) {
      if (ch && !this.closedChannels.has(ch)) await ch.close().catch(() => undefined);
    }
    await this.amqp.close();
    this.options.metrics.brokerConnected.set(0);
    this.log.info('worker drained');
  }

  private async setUp(connection: ChannelModel): Promise<void> {
    const confirm = await connection.createConfirmChannel();
    const consume = await connection.createChannel();
    for (const channel of [confirm, consume]) {
      channel.on('error', (err: Error) => this.log.warn({ err: err.message }, 'worker channel error'));
      channel.on('close', () => {
        this.closedChannels.add(channel);
        // Buffered messages of a dead channel are back on the queue already.
        this.dispatcher.takeBuffered((d) => d.channel === channel);
        if (!this.draining) void connection.close().catch(() => undefined);
      });
    }
    await declareTopology(confirm, this.options.topology);
    // Per-consumer limit: quorum queues reject a global (channel-wide) prefetch.
    await consume.prefetch(this.options.prefetchPerQueue ?? this.options.concurrency, false);
    this.publisher = new ConfirmedPublisher(confirm);
    this.consumeChannel = consume;
    this.consumerTags = [];
    if (this.draining) return;
    for (const cls of PRIORITY_CLASSES) {
      const queue = this.options.topology.classQueues[cls].name;
      const { consumerTag } = await consume.consume(
        queue,
        (msg) => {
          if (msg === null) {
            // The broker cancelled the consumer (queue deleted): rebuild everything.
            void connection.close().catch(() => undefined);
            return;
          }
          this.dispatcher.offer(cls, { msg, channel: consume, queueClass: cls });
          this.options.metrics.buffered.set(this.dispatcher.buffered);
        },
        { noAck: false },
      );
      this.consumerTags.push(consumerTag);
    }
  }

  private async handle(d: Delivery): Promise<void> {
    const metrics = this.options.metrics;
    metrics.buffered.set(this.dispatcher.buffered);
    metrics.inflight.set(this.dispatcher.inFlight);
    const controller = new AbortController();
    this.interrupts.set(d, controller);
    try {
      await this.process(d, controller.signal);
    } catch (err) {
      if (err instanceof ChannelGoneError) {
        this.log.info({ messageId: d.msg.properties.messageId }, 'channel closed mid-job; the broker redelivers the message');
      } else {
        if (!(err instanceof InterruptedError)) {
          this.log.error({ err: asError(err).message, messageId: d.msg.properties.messageId }, 'job handling failed; message returned to the queue');
        }
        this.giveBack(d);
      }
    } finally {
      this.interrupts.delete(d);
      metrics.inflight.set(this.dispatcher.inFlight - 1);
    }
  }

  private async process(d: Delivery, signal: AbortSignal): Promise<void> {
    const { msg } = d;
    const metrics = this.options.metrics;
    const store = this.options.store;
    const headers = msg.properties.headers ?? {};
    const deliveryCount = Number(headers['x-delivery-count'] ?? 0);
    if (msg.fields.redelivered || deliveryCount > 0) metrics.redeliveries.labels(d.queueClass).inc();

    const decoded = decodeJobMessage(msg.content);
    if (!decoded.ok) {
      await this.deadLetter(d, decoded.reason, 'malformed', signal);
      if (decoded.id) await this.withStore(() => store.fail(decoded.id!, { type: 'malformed', message: decoded.reason }), signal);
      this.ack(d);
      metrics.jobs.labels(d.queueClass, 'dead_lettered').inc();
      this.log.warn({ messageId: msg.properties.messageId, reason: decoded.reason }, 'malformed job message dead-lettered');
      return;
    }
    const job = decoded.message;
    const cls = job.priorityClass;

    if (deliveryLimitReached(deliveryCount, this.options.topology.deliveryLimit)) {
      const reason = `delivery limit reached: delivered ${deliveryCount + 1} times without an outcome`;
      await this.deadLetter(d, reason, 'delivery_limit', signal);
      await this.withStore(() => store.fail(job.id, { type: 'delivery_limit', message: reason }), signal);
      this.ack(d);
      metrics.jobs.labels(cls, 'dead_lettered').inc();
      return;
    }

    const claim = await this.withStore(() => store.claim(job.id), signal);
    if (claim.outcome === 'missing') {
      await this.deadLetter(d, 'job record not found (expired or never created)', 'unknown_job', signal);
      this.ack(d);
      metrics.jobs.labels(cls, 'dead_lettered').inc();
      return;
    }
    if (claim.outcome === 'final') {
      // Already finished (a redelivery after a crash between store and ack, or a duplicate
      // message), or cancelled before it started: no model call. Acked only once that outcome
      // is durable: the attempt that stored it may have stopped while no replica had it.
      await this.withStore(() => store.ensureDurable(job.id), signal);
      this.ack(d);
      metrics.jobs.labels(cls, claim.status === 'cancelled' ? 'cancelled' : 'duplicate').inc();
      return;
    }
    if (claim.attempts === 1) metrics.queueLag.labels(cls).observe(Math.max(0, this.now() - job.submittedAt) / 1000);

    const started = this.now();
    const outcome = await this.options.model.call(job.id, job.endpoint, job.request, signal);
    if (signal.aborted) throw new InterruptedError();
    metrics.modelCalls.labels(cls, outcome.kind).inc();
    const retries = Number(headers[RETRY_COUNT_HEADER] ?? 0);
    const decision = decide(outcome, retries, this.maxRetries);
    switch (decision.action) {
      case 'succeed': {
        const stored = await this.withStore(() => store.succeed(job.id, decision.result), signal);
        this.ack(d);
        metrics.jobs.labels(cls, 'done').inc();
        if (stored === 'stored') this.notify(job);
        break;
      }
      case 'fail': {
        const stored = await this.withStore(() => store.fail(job.id, decision.error), signal);
        this.ack(d);
        metrics.jobs.labels(cls, 'failed').inc();
        if (stored === 'stored') this.notify(job);
        break;
      }
      case 'retry-later': {
        const minDelay = outcome.kind === 'transient' ? (outcome.retryAfterMs ?? 0) : 0;
        await this.scheduleRetry(d, job, decision.retry, minDelay, signal);
        await this.withStore(() => store.requeue(job.id, decision.error), signal);
        this.ack(d);
        metrics.jobs.labels(cls, 'retried').inc();
        break;
      }
      case 'dead-letter': {
        await this.deadLetter(d, decision.reason, 'retries_exhausted', signal);
        const stored = await this.withStore(() => store.fail(job.id, decision.error), signal);
        this.ack(d);
        metrics.jobs.labels(cls, 'dead_lettered').inc();
        if (stored === 'stored') this.notify(job);
        break;
      }
    }
    metrics.duration.labels(cls).observe((this.now() - started) / 1000);
  }

  /** Hands the finished job to the callback notifier (background, after the ack). */
  private notify(job: JobMessage): void {
    const callbacks = this.options.callbacks;
    if (!callbacks || job.callbackUrl === undefined) return;
    void this.options.store
      .get(job.id)
      .then((record) => record && callbacks.notify(record))
      .catch((err: unknown) => this.log.warn({ jobId: job.id, err: asError(err).message }, 'cannot read the job for its callback'));
  }

  /** Sends a copy to the class's delay queue, with the retry count + 1; confirmed before the ack. */
  private async scheduleRetry(d: Delivery, job: JobMessage, retry: number, minDelayMs: number, signal: AbortSignal): Promise<void> {
    const queue = retryQueueFor(this.options.topology, job.priorityClass, retry, minDelayMs);
    const headers: Record<string, unknown> = { ...(d.msg.properties.headers ?? {}), [RETRY_COUNT_HEADER]: retry + 1 };
    delete headers['x-delivery-count'];
    delete headers['x-death'];
    await this.publishCopy(d, '', queue, headers, signal);
  }

  /** Sends a copy to the dead-letter exchange with the reason in a header; confirmed before the ack. */
  private async deadLetter(d: Delivery, reason: string, kind: string, signal: AbortSignal): Promise<void> {
    const headers = {
      ...(d.msg.properties.headers ?? {}),
      [DEAD_LETTER_REASON_HEADER]: reason,
      'x-surgeguard-dead-letter-kind': kind,
      'x-surgeguard-source-queue': this.options.topology.classQueues[d.queueClass].name,
      'x-surgeguard-dead-lettered-at': new Date(this.now()).toISOString(),
    };
    await this.publishCopy(d, this.options.topology.deadLetterExchange, d.queueClass, headers, signal);
    this.options.metrics.deadLetters.labels(kind).inc();
  }

  private async publishCopy(
    d: Delivery,
    exchange: string,
    routingKey: string,
    headers: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const props = d.msg.properties;
    const messageId = typeof props.messageId === 'string' && props.messageId ? props.messageId : randomBytes(16).toString('base64url');
    for (let attempt = 0; ; attempt++) {
      if (this.closedChannels.has(d.channel)) throw new ChannelGoneError();
      if (signal.aborted) throw new InterruptedError();
      const publisher = this.publisher;
      if (publisher && !this.closedChannels.has(publisher.channel)) {
        try {
          await publisher.publish(
            exchange,
            routingKey,
            d.msg.content,
            {
              persistent: true,
              messageId,
              contentType: props.contentType ?? 'application/json',
              ...(props.timestamp !== undefined ? { timestamp: props.timestamp } : {}),
              ...(props.type !== undefined ? { type: props.type } : {}),
              headers,
            },
            this.confirmTimeoutMs,
          );
          return;
        } catch (err) {
          this.log.warn({ err: asError(err).message, exchange, routingKey }, 'publish of a job copy failed; retrying');
        }
      }
      await sleep(backoffMs(attempt, { ...this.backoff, minShare: RECONNECT_MIN_SHARE }), signal);
    }
  }

  /**
   * Runs a Redis operation, retrying with backoff while Redis is unreachable: the message
   * stays unacknowledged (and its slot taken) rather than being bounced back and forth.
   */
  private async withStore<T>(op: () => Promise<T>, signal: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (signal.aborted) throw new InterruptedError();
        this.log.warn({ err: asError(err).message, attempt }, 'job store operation failed; retrying');
      }
      await sleep(backoffMs(attempt, { ...this.backoff, minShare: RECONNECT_MIN_SHARE }), signal);
    }
  }

  private ack(d: Delivery): void {
    if (this.closedChannels.has(d.channel)) return; // redelivered anyway; the stored outcome makes it a no-op
    try {
      d.channel.ack(d.msg);
    } catch (err) {
      this.log.warn({ err: asError(err).message }, 'ack failed; the message will be redelivered');
    }
  }

  /** Returns a message to its queue for redelivery (to this or another worker). */
  private giveBack(d: Delivery): void {
    this.options.metrics.jobs.labels(d.queueClass, 'returned').inc();
    if (this.closedChannels.has(d.channel)) return;
    try {
      d.channel.nack(d.msg, false, true);
    } catch (err) {
      this.log.warn({ err: asError(err).message }, 'nack failed; the message will be redelivered when the channel closes');
    }
  }

  private async pollQueueDepths(): Promise<void> {
    const channel = this.publisher?.channel;
    if (!channel || this.closedChannels.has(channel) || !this.amqp.connected) return;
    for (const cls of PRIORITY_CLASSES) {
      const name = this.options.topology.classQueues[cls].name;
      try {
        const { messageCount } = await channel.checkQueue(name);
        this.options.metrics.queueDepth.labels(name).set(messageCount);
      } catch {
        return;
      }
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** True when `promise` settled within `ms`. */
async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

