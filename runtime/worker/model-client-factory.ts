import type { Logger } from 'pino';
import { systemClock } from '../common/clock';
import { ActiveHealthChecker } from '../common/upstream/health-checker';
import { UpstreamDispatcher } from '../common/upstream/dispatcher';
import { MemberDiscovery } from '../common/upstream/discovery';
import { systemResolver } from '../common/upstream/resolver';
import { UpstreamPool } from '../common/upstream/upstream-pool';
import type { WorkerConfig } from './config';
import { DispatcherModelClient, ModelClient } from './model-client';
import { BatchingModelClient } from './batcher';

/**
 * The model client a worker config describes: the shared upstream pool (balancer, breakers,
 * outlier detection), active health checks and the dispatcher with the configured retry rules.
 */
export function createModelClient(config: WorkerConfig, logger: Logger, env: NodeJS.ProcessEnv = process.env): ModelClient {
  const clock = systemClock;
  const pool = new UpstreamPool('model', config.upstream, { clock, random: Math.random, env });
  const dispatcher = new UpstreamDispatcher(config.retry, { clock, random: Math.random });
  const health = new ActiveHealthChecker([pool], {
    onHealthChange: (poolName: string, upstream: string, healthy: boolean) =>
      logger.warn({ pool: poolName, upstream, healthy }, healthy ? 'model server healthy again' : 'model server unhealthy'),
  });
  health.start();
  // members found by name (one per model-server pod) follow the headless Service without a restart
  const discovery = new MemberDiscovery([pool], {
    resolver: systemResolver(env),
    onChange: (poolName, host, { added, removed }) =>
      logger.info({ pool: poolName, host, added: added.map((u) => u.name), removed: removed.map((u) => u.name) }, 'model servers changed'),
    onError: (poolName, host, err) => logger.warn({ pool: poolName, host, err: (err as Error).message }, 'model-server discovery failed'),
  });
  void discovery.start();
  const client = new DispatcherModelClient([pool], dispatcher, clock, async () => {
    discovery.stop();
    health.stop();
    await pool.close();
  });
  if (!config.batching.enabled) return client;
  if (config.concurrency < config.batching.maxBatchSize) {
    logger.warn(
      { concurrency: config.concurrency, maxBatchSize: config.batching.maxBatchSize },
      'batching: batches cannot grow beyond the worker concurrency',
    );
  }
  return new BatchingModelClient(client, config.batching);
}
