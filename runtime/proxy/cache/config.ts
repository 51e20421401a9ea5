import { z } from 'zod';

/**
 * Response cache for deterministic requests (two levels) and single-flight coalescing.
 * The brief's defaults: in-process LRU of 1,000-10,000 entries for 10 minutes, Redis for 1 hour.
 */
export const CacheConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Cache answers to deterministic requests and coalesce identical ones.'),
    l1: z
      .strictObject({
        maxEntries: z.number().int().positive().default(5_000).describe('Entries kept in process (least recently used evicted first).'),
        ttlMs: z.number().int().positive().default(10 * 60_000).describe('Freshness of an in-process entry.'),
      })
      .prefault({}),
    l2: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Share cached answers between replicas through Redis.'),
        ttlMs: z.number().int().positive().default(60 * 60_000).describe('Freshness of an answer kept in Redis.'),
        keyPrefix: z.string().default('sg:cache:').describe('Prefix of the cache keys in Redis.'),
        timeoutMs: z.number().int().positive().default(50).describe('A Redis lookup slower than this counts as a miss.'),
      })
      .prefault({}),
    maxBodyBytes: z.number().int().positive().default(1024 * 1024).describe('Responses larger than this are not cached.'),
    shareAcrossKeys: z.boolean().default(false).describe('Share cached answers across API keys (off: the key is part of the cache key).'),
    optInHeader: z.string().toLowerCase().default('x-surgeguard-cache').describe('Header with which a client opts a request in (`on`) or out (`off`) regardless of determinism.'),
    staleIfError: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Serve an expired answer (marked with a header) when the upstreams fail or the request is shed.'),
        maxStaleMs: z.number().int().nonnegative().default(60 * 60_000).describe('How long past its freshness an answer may still be served as stale.'),
      })
      .prefault({}),
    singleFlight: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Coalesce identical concurrent cacheable requests into one upstream call.'),
        maxWaiters: z.number().int().nonnegative().default(1_000).describe('Followers per in-flight key; more identical requests go to the upstream on their own.'),
      })
      .prefault({}),
  })
  .prefault({});

export type CacheConfig = z.output<typeof CacheConfigSchema>;
export type CacheConfigInput = z.input<typeof CacheConfigSchema>;

export function parseCacheConfig(input: CacheConfigInput = {}): CacheConfig {
  return CacheConfigSchema.parse(input);
}
