import { Cluster, Redis, RedisOptions } from 'ioredis';
import type { RedisConnectionConfig } from '../common/config/redis';
import { resolveSecret } from '../common/config/secrets';

/** The ioredis client (standalone or cluster) the job store runs on. */
export type JobRedis = Redis | Cluster;

/**
 * A Redis client for job records from the shared connection config. ioredis reconnects by
 * itself with capped backoff; commands fail (rather than queue forever) after two reconnect
 * rounds, so the caller's own retry loop stays in charge.
 */
export function createJobRedis(config: RedisConnectionConfig, env: NodeJS.ProcessEnv): JobRedis {
  const options: RedisOptions = {
    username: config.username,
    password: config.password === undefined ? undefined : resolveSecret(config.password, env, 'redis.password'),
    tls: config.tls ? {} : undefined,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: Math.max(config.commandTimeoutMs, 1_000),
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 7), 5_000),
  };
  if (config.cluster) {
    return new Cluster([{ host: config.host, port: config.port }], {
      redisOptions: options,
      dnsLookup: (address, callback) => callback(null, address),
      clusterRetryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 7), 5_000),
    });
  }
  return new Redis({ ...options, host: config.host, port: config.port, db: config.db });
}
