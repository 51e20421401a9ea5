import { createLogger } from '../common/config/logging';
import { JobWorker } from './worker';
import { loadWorkerConfig } from './config';
import { createJobRedis } from '../jobs/redis-client';
import { RedisJobStore } from '../jobs/store';
import { AMQP_PROTOCOLS, jobKeyPrefix, topologyOf } from '../jobs/config';
import { resolveUrlSecret } from '../common/config/secrets';
import { HealthServer } from './health-server';
import { WorkerMetrics } from './metrics';
import { createModelClient } from './model-client-factory';
import { CallbackNotifier } from './callbacks';

/**
 * The worker process: `node dist/runtime/worker/main.js --config <file>` (or SURGEGUARD_CONFIG).
 * Exits 0 after a graceful drain on SIGTERM/SIGINT, 1 on a bad config.
 */
async function main(): Promise<void> {
  const config = loadWorkerConfig(process.argv.slice(2), process.env);
  const logger = createLogger(config.logging, 'surgeguard-worker');
  const redis = createJobRedis(config.redis, process.env);
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis error'));
  const store = new RedisJobStore(redis, { keyPrefix: jobKeyPrefix(config.redis.keyPrefix), ttlSeconds: config.jobs.ttlSeconds });
  const metrics = new WorkerMetrics();
  const model = createModelClient(config, logger);
  const callbacks = new CallbackNotifier(config.callbacks, logger, metrics);
  const worker = new JobWorker({
    amqpUrl: resolveUrlSecret(config.amqp.url, process.env, 'amqp.url', AMQP_PROTOCOLS),
    topology: topologyOf(config.amqp),
    store,
    storeReady: () => redis.status === 'ready',
    model,
    concurrency: config.concurrency,
    maxRetries: config.maxRetries,
    heartbeatSeconds: config.amqp.heartbeatSeconds,
    backoff: { baseMs: config.amqp.reconnectBaseMs, capMs: config.amqp.reconnectMaxMs },
    confirmTimeoutMs: config.amqp.confirmTimeoutMs,
    callbacks,
    metrics,
    logger,
  });
  const server = new HealthServer(metrics.registry, () => worker.ready);
  const port = await server.listen(config.server.port, config.server.host);
  logger.info({ port, concurrency: config.concurrency }, 'worker listening');
  worker.start();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'worker stopping');
    void (async () => {
      await worker.drain(config.drainTimeoutMs);
      await callbacks.settle(2_000);
      await model.close().catch(() => undefined);
      await redis.quit().catch(() => undefined);
      await server.close();
      logger.info('worker stopped');
      logger.flush();
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
