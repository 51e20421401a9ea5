import { EXIT_CODE, isConfigError } from '../common/config/exit-codes';
import { createLogger } from '../common/config/logging';
import { JobWorker } from './worker';
import { configPathFrom, loadWorkerConfig } from './config';
import { createRedisClient } from '../common/redis';
import { RedisJobStore } from '../jobs/store';
import { AMQP_PROTOCOLS, jobKeyPrefix, topologyOf } from '../jobs/config';
import { resolveUrlSecret } from '../common/config/secrets';
import { HealthServer } from './health-server';
import { WorkerMetrics } from './metrics';
import { createModelClient } from './model-client-factory';
import { CallbackNotifier } from './callbacks';

/**
 * The worker process: `node dist/runtime/worker/main.js --config <file>` (or SURGEGUARD_CONFIG).
 * Exits 0 after a graceful drain on SIGTERM/SIGINT; 2 (EXIT_CODE.invalidConfig) before anything
 * starts when the config is missing or invalid or a secret variable it names is unset, naming the
 * field; 1 when it fails otherwise.
 */
async function main(): Promise<void> {
  if (!configPathFrom(process.argv.slice(2), process.env)) {
    process.stderr.write('usage: node dist/runtime/worker/main.js --config <file.yaml|file.json>  (or SURGEGUARD_CONFIG=<file>)\n');
    process.exit(EXIT_CODE.invalidConfig);
  }
  const config = loadWorkerConfig(process.argv.slice(2), process.env);
  const logger = createLogger(config.logging, 'surgeguard-worker');
  const redis = createRedisClient(config.redis, process.env, 'durable');
  redis.on('error', (err: Error) => logger.warn({ err: err.message }, 'redis error'));
  const store = new RedisJobStore(redis, { keyPrefix: jobKeyPrefix(config.redis.keyPrefix), ttlSeconds: config.jobs.ttlSeconds, durability: config.resultDurability });
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
      process.exit(EXIT_CODE.ok);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(isConfigError(err) ? EXIT_CODE.invalidConfig : EXIT_CODE.failed);
});
