import { z } from 'zod';
import { SecretRefSchema } from './secrets';

/**
 * How a runtime reaches Redis (rate limits, response cache, job results). Standalone for local
 * use and tests, cluster mode for ElastiCache (cluster mode enabled, TLS + AUTH).
 */
export const RedisConnectionSchema = z
  .strictObject({
    host: z.string().min(1).default('127.0.0.1').describe('Host (or cluster configuration endpoint).'),
    port: z.number().int().min(1).max(65535).default(6379).describe('TCP port.'),
    username: z.string().min(1).optional().describe('ACL user name (ElastiCache RBAC).'),
    password: SecretRefSchema.optional().describe('AUTH token; use `{ fromEnv: NAME }`.'),
    tls: z.boolean().default(false).describe('Connect with TLS (required by ElastiCache in-transit encryption).'),
    cluster: z.boolean().default(false).describe('Use the Redis Cluster protocol (hash slots over shards).'),
    db: z.number().int().min(0).default(0).describe('Database index (standalone only).'),
    keyPrefix: z.string().default('surgeguard:').describe('Prefix of every key this runtime writes.'),
    connectTimeoutMs: z.number().int().positive().default(2_000).describe('Connect timeout.'),
    commandTimeoutMs: z.number().int().positive().default(500).describe('Per-command timeout; the caller decides what failing open means.'),
  })
  .strict();

export type RedisConnectionConfig = z.infer<typeof RedisConnectionSchema>;
