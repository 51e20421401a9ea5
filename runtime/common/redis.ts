import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisConnectionConfig } from './config/redis';
import { resolveSecret } from './config/secrets';

/** The ioredis client (standalone or cluster) every runtime component runs on. */
export type RedisClient = Redis | Cluster;

/**
 * How a client behaves when Redis is slow or gone. Two uses, two profiles, side by side:
 *
 * - `hot-path` (proxy rate limits and response cache): a request must never wait for Redis
 *   longer than its own bound, and the callers fall back (local buckets, a cache miss). Commands
 *   issued while (re)connecting wait in ioredis' offline queue only until the first reconnect
 *   attempt fails (`maxRetriesPerRequest: 0`), every caller bounds its own wait (`redis.timeoutMs`
 *   of the rate limiter and the cache), and reconnects are quick (50 ms doubling, at most 2 s).
 *   Keys get `redis.keyPrefix` from ioredis (which also prefixes the KEYS of EVALSHA), and
 *   connection errors are swallowed here: the limiter's fallback log and metric report them.
 * - `durable` (job records of the proxy's jobs API and the worker): losing a write loses a job's
 *   state, and the caller's own retry loop is in charge. Commands fail (rather than queue
 *   forever) after two reconnect rounds, get at least 1 s each, and reconnects back off longer
 *   (100 ms doubling, at most 5 s), also for the cluster topology. The job store writes its own
 *   key prefix (`jobKeyPrefix`), so ioredis adds none, and errors reach the caller.
 */
export type RedisProfile = 'hot-path' | 'durable';

const PROFILES = {
  'hot-path': {
    maxRetriesPerRequest: 0,
    minCommandTimeoutMs: 0,
    reconnectDelayMs: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    clusterReconnect: false,
    ioredisKeyPrefix: true,
    swallowErrors: true,
  },
  durable: {
    maxRetriesPerRequest: 2,
    minCommandTimeoutMs: 1_000,
    reconnectDelayMs: (times: number) => Math.min(100 * 2 ** Math.min(times, 7), 5_000),
    clusterReconnect: true,
    ioredisKeyPrefix: false,
    swallowErrors: false,
  },
} as const;

/** A Redis client from the shared connection config (secrets resolved from `env`), in one of the two {@link RedisProfile}s. */
export function createRedisClient(config: RedisConnectionConfig, env: NodeJS.ProcessEnv, profile: RedisProfile): RedisClient {
  const p = PROFILES[profile];
  const options: RedisOptions = {
    username: config.username,
    password: config.password === undefined ? undefined : resolveSecret(config.password, env, 'redis.password'),
    tls: config.tls ? {} : undefined,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: Math.max(config.commandTimeoutMs, p.minCommandTimeoutMs),
    ...(p.ioredisKeyPrefix ? { keyPrefix: config.keyPrefix } : {}),
    maxRetriesPerRequest: p.maxRetriesPerRequest,
    retryStrategy: p.reconnectDelayMs,
  };
  const client = config.cluster
    ? new Cluster([{ host: config.host, port: config.port }], {
        redisOptions: options,
        dnsLookup: (address, callback) => callback(null, address),
        ...(p.clusterReconnect ? { clusterRetryStrategy: p.reconnectDelayMs } : {}),
      })
    : new Redis({ ...options, host: config.host, port: config.port, db: config.db });
  if (p.swallowErrors) client.on('error', () => undefined);
  return client;
}
