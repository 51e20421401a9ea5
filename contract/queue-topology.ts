import { PRIORITY_CLASSES, PriorityClass } from './priority';

/**
 * The RabbitMQ topology of asynchronous jobs, as data. The worker and the proxy declare
 * exactly this on start; the MessageQueue construct renders it for the broker and puts
 * alarms on these queue names. One definition, so infrastructure and code cannot drift.
 *
 * Why one quorum queue per class rather than one priority queue: quorum queues are the
 * replicated, durable queue type on Amazon MQ clusters (classic mirrored queues are gone
 * in RabbitMQ 4), and quorum queues have no `x-max-priority` before 4.0 and only two
 * levels (normal/high) from 4.0 on. Four classes therefore need four queues; the worker
 * drains them highest class first.
 */
export interface QueueSpec {
  /** Queue name on the broker. */
  readonly name: string;
  /** Declaration arguments (`x-queue-type`, `x-delivery-limit`, dead-letter settings, TTL). */
  readonly arguments: Readonly<Record<string, string | number>>;
}

export interface RetryQueueSpec extends QueueSpec {
  /** Class of the jobs this delay queue holds, and routing key they return to `exchange` with. */
  readonly priorityClass: PriorityClass;
  /** Message TTL: how long a job waits here before its retry. */
  readonly delayMs: number;
}

export interface JobQueueTopology {
  /** Direct exchange jobs are published to, routing key = priority class. */
  readonly exchange: string;
  /** One durable quorum queue per class, bound with the class as routing key. */
  readonly classQueues: Readonly<Record<PriorityClass, QueueSpec>>;
  /**
   * Delay queues, one per class and delay tier, published to directly (default exchange):
   * a message waits out the queue's TTL, then dead-letters back to `exchange` with its class
   * as routing key, so a retried job keeps its priority.
   */
  readonly retryQueues: readonly RetryQueueSpec[];
  /** Type of `exchange`: direct, routing key = priority class. */
  readonly exchangeType: 'direct';
  /** Dead-letter exchange and queue for poison messages and exhausted retries. */
  readonly deadLetterExchange: string;
  /**
   * Type of `deadLetterExchange`: fanout, because dead-lettered messages keep their class as
   * routing key and must all land in the one dead-letter queue.
   */
  readonly deadLetterExchangeType: 'fanout';
  /** The one queue bound to `deadLetterExchange`: where poison messages and exhausted retries wait for an operator. */
  readonly deadLetterQueue: QueueSpec;
  /** Deliveries of one message before the broker dead-letters it (a crash loop guard). */
  readonly deliveryLimit: number;
}

/** Delay tiers of the retry path, shortest first (exponential: 1 s, 5 s, 30 s). */
export const RETRY_DELAYS_MS = [1_000, 5_000, 30_000] as const;

/** Knobs of {@link buildTopology}; production uses the defaults, tests shorten the delays. */
export interface TopologyOptions {
  /** Delay tiers of the retry path, shortest first. @default RETRY_DELAYS_MS */
  readonly retryDelaysMs?: readonly number[];
  /** Deliveries of one message before the broker dead-letters it. @default 20 */
  readonly deliveryLimit?: number;
}

/**
 * The topology under a name prefix. Exported so tests can declare (and delete) their own
 * copy under a unique prefix; deployments use {@link JOB_QUEUE_TOPOLOGY}.
 */
export function buildTopology(prefix: string, options: TopologyOptions = {}): JobQueueTopology {
  const exchange = `${prefix}.jobs`;
  const deadLetterExchange = `${prefix}.jobs.dead`;
  const deliveryLimit = options.deliveryLimit ?? 20;
  const retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
  const classQueues = {} as Record<PriorityClass, QueueSpec>;
  for (const cls of PRIORITY_CLASSES) {
    classQueues[cls] = {
      name: `${prefix}.jobs.${cls}`,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': deadLetterExchange,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
        'x-delivery-limit': deliveryLimit,
      },
    };
  }
  const retryQueues: RetryQueueSpec[] = PRIORITY_CLASSES.flatMap((cls) =>
    retryDelaysMs.map((delayMs) => ({
      name: `${prefix}.jobs.retry.${cls}.${delayMs}ms`,
      priorityClass: cls,
      delayMs,
      arguments: {
        'x-queue-type': 'quorum',
        'x-message-ttl': delayMs,
        'x-dead-letter-exchange': exchange,
        'x-dead-letter-routing-key': cls,
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      },
    })),
  );
  return {
    exchange,
    classQueues,
    retryQueues,
    exchangeType: 'direct',
    deadLetterExchange,
    deadLetterExchangeType: 'fanout',
    deadLetterQueue: { name: `${prefix}.jobs.dead`, arguments: { 'x-queue-type': 'quorum' } },
    deliveryLimit,
  };
}

/** The topology every surgeguard deployment uses. */
export const JOB_QUEUE_TOPOLOGY: JobQueueTopology = buildTopology('surgeguard');

/**
 * The delay queue for a class and retry number (0-based): tier `retry`, or a longer one when
 * the upstream asked for more (`minDelayMs`, from Retry-After); past the last tier, the last.
 */
export function retryQueueFor(topology: JobQueueTopology, cls: string, retry: number, minDelayMs = 0): string {
  const tiers = topology.retryQueues.filter((q) => q.priorityClass === cls).sort((a, b) => a.delayMs - b.delayMs);
  if (tiers.length === 0) throw new Error(`no retry queue for class ${cls}`);
  let index = Math.min(retry, tiers.length - 1);
  while (index < tiers.length - 1 && tiers[index]!.delayMs < minDelayMs) index++;
  return tiers[index]!.name;
}
