import { z } from 'zod';
import { buildTopology, JobQueueTopology } from '../common/queue-topology';
import { SecretRefSchema } from '../common/config/secrets';

/**
 * Configuration shared by the proxy (which submits jobs) and the worker (which runs them):
 * where the broker is, which topology prefix, how long job records live. Defaults live here.
 */
export const AmqpConnectionSchema = z
  .object({
    url: SecretRefSchema.default('amqp://guest:guest@127.0.0.1:5672').describe(
      'Broker URL (amqps:// for Amazon MQ); use `{ fromEnv: NAME }` to keep credentials out of files.',
    ),
    topologyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default('surgeguard')
      .describe('Prefix of the exchanges and queues (runtime/common/queue-topology.ts); the same value the infrastructure declares.'),
    heartbeatSeconds: z.number().int().min(0).default(15).describe('AMQP heartbeat; a silent broker is noticed after two intervals.'),
    reconnectBaseMs: z.number().int().positive().default(200).describe('First reconnect backoff ceiling.'),
    reconnectMaxMs: z.number().int().positive().default(10_000).describe('Longest reconnect backoff.'),
    confirmTimeoutMs: z.number().int().positive().default(5_000).describe('Longest wait for a publisher confirm before a publish fails.'),
  })
  .strict();

export type AmqpConnectionConfig = z.infer<typeof AmqpConnectionSchema>;

export const JobRecordsSchema = z
  .object({
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .default(86_400)
      .describe('Lifetime of a job record and its result in Redis, counted again from when the job finishes.'),
  })
  .strict();

export type JobRecordsConfig = z.infer<typeof JobRecordsSchema>;

/** The topology of a config: the shared data under the configured prefix. */
export function topologyOf(config: AmqpConnectionConfig): JobQueueTopology {
  return buildTopology(config.topologyPrefix);
}
