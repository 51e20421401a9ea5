import { z } from 'zod';
import { loadConfigFile } from '../common/config/load';
import { LoggingSchema } from '../common/config/logging';
import { RedisConnectionSchema } from '../common/config/redis';
import { PoolSchema, RetrySchema } from '../common/config/upstream';
import { WORKER_CONTRACT } from '../../contract/service';
import { AmqpConnectionSchema, CallbackSchema, JobRecordsSchema } from '../jobs/config';

/** Delayed retries of a transiently failing job before the dead-letter queue: the schema's default, also the worker's when built without a config. */
export const DEFAULT_MAX_RETRIES = 5;

/**
 * The worker's configuration: one schema that validates the file, types the code and carries
 * the defaults. Broker, Redis, logging and upstream sub-schemas are the ones the proxy uses.
 */
export const WorkerServerSchema = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0').describe('Listen address of the health and metrics server.'),
    port: z.number().int().min(0).max(65535).default(WORKER_CONTRACT.port).describe('Port of /healthz, /readyz, /metrics (0 picks a free one).'),
  })
  .strict();

export const BatchingSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe('Group /v1/completions jobs into one upstream request (prompt array). Off: continuous-batching servers such as vLLM batch better themselves.'),
    maxBatchSize: z.number().int().min(2).max(256).default(32).describe('Jobs in one batch at most.'),
    maxWaitMs: z.number().int().min(1).max(10_000).default(100).describe('Longest a job waits for its batch to fill.'),
  })
  .strict();

export const WorkerConfigSchema = z
  .strictObject({
    server: WorkerServerSchema.prefault({}),
    amqp: AmqpConnectionSchema.prefault({}),
    redis: RedisConnectionSchema.prefault({}),
    jobs: JobRecordsSchema.prefault({}),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .default(10)
      .describe('Jobs processed at once (a semaphore sized to the model server), and the prefetch of each class queue.'),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .max(50)
      .default(DEFAULT_MAX_RETRIES)
      .describe('Delayed retries (1 s, 5 s, then 30 s) of a job whose upstream failed transiently, before it is dead-lettered.'),
    drainTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(25_000)
      .describe('On SIGTERM, how long running jobs may finish before they are given back to the queue (below the pod grace period; spot notice is 120 s).'),
    upstream: PoolSchema.describe('The model servers the worker calls.'),
    retry: RetrySchema.prefault({ maxAttempts: 2, baseBackoffMs: 200, maxBackoffMs: 2_000 }).describe(
      'In-request retries toward another model server of the pool (short: a job slot waits meanwhile); the queue delay tiers come after these.',
    ),
    resultDurability: z
      .strictObject({
        replicas: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('Replicas that must have a job result (Redis WAIT) before its message is acked; fewer: not acked, retried. Set 1 with ElastiCache replicas (asynchronous replication).'),
        timeoutMs: z.number().int().positive().default(1_000).describe('Longest WAIT for those replicas per attempt.'),
      })
      .prefault({})
      .describe('Durability of results before the ack: a failover right after an ack must not lose a result whose message is gone.'),
    batching: BatchingSchema.prefault({}),
    callbacks: CallbackSchema.prefault({}).describe('Completion callbacks; the allow-list is checked again here (keep it equal to the proxy\'s).'),
    logging: LoggingSchema.prefault({}),
  })
  .strict();

export type WorkerConfig = z.infer<typeof WorkerConfigSchema>;

/** The config file named by `--config <file>` or `SURGEGUARD_CONFIG`, validated. */
export function loadWorkerConfig(argv: readonly string[], env: NodeJS.ProcessEnv): WorkerConfig {
  const file = configPathFrom(argv, env);
  if (!file) throw new Error('worker: no config file: pass --config <file> or set SURGEGUARD_CONFIG');
  return loadConfigFile(WorkerConfigSchema, file);
}

export function configPathFrom(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--config='));
  if (eq) return eq.slice('--config='.length);
  return env.SURGEGUARD_CONFIG || undefined;
}
