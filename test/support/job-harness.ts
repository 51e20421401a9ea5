import { Redis } from 'ioredis';
import { buildTopology, JobQueueTopology } from '../../contract/queue-topology';
import { jobKeyPrefix } from '../../runtime/jobs/config';
import { JobPublisher } from '../../runtime/jobs/publisher';
import { RedisJobStore } from '../../runtime/jobs/store';
import type { WorkerMetrics } from '../../runtime/worker/metrics';
import { deleteTopology } from '../../runtime/jobs/topology';
import { Simulator, SimulatorOptions, startSimulator } from '../../runtime/simulator/simulator';
import { AMQP_URL, connectAmqp, connectRedis, deleteKeys, uniqueName } from './services';

/**
 * What a test of a worker *process* needs around it: its own topology and Redis key prefix,
 * a model-server simulator, the job store and a confirmed publisher; `close` removes all of it.
 */
export interface JobHarness {
  readonly prefix: string;
  readonly redisKeyPrefix: string;
  readonly topology: JobQueueTopology;
  readonly redis: Redis;
  readonly sim: Simulator;
  readonly store: RedisJobStore;
  readonly publisher: JobPublisher;
  close(): Promise<void>;
}

export async function startJobHarness(file: string, simulator: SimulatorOptions): Promise<JobHarness> {
  const prefix = uniqueName(file);
  const redisKeyPrefix = `${prefix}:`;
  const topology = buildTopology(prefix);
  const redis = await connectRedis();
  const sim = await startSimulator(simulator);
  const store = new RedisJobStore(redis, { keyPrefix: jobKeyPrefix(redisKeyPrefix), ttlSeconds: 600 });
  const publisher = new JobPublisher({ url: AMQP_URL, topology });
  publisher.start();
  await publisher.waitReady(15_000);
  return {
    prefix,
    redisKeyPrefix,
    topology,
    redis,
    sim,
    store,
    publisher,
    close: async () => {
      await publisher.close();
      await sim.close();
      const conn = await connectAmqp();
      const ch = await conn.createChannel();
      await deleteTopology(ch, topology);
      await conn.close();
      await deleteKeys(redis, redisKeyPrefix);
      redis.disconnect();
    },
  };
}

/**
 * The sum of a worker counter's values whose labels include `labels` (all of them when empty),
 * read from the worker's own registry, e.g. `workerCount(metrics.jobs, { outcome: 'duplicate' })`.
 */
export async function workerCount(counter: WorkerMetrics['jobs'] | WorkerMetrics['redeliveries'], labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}
