import { z } from 'zod';

/**
 * Response cache for deterministic requests (two levels) and single-flight coalescing.
 * The brief's defaults: in-process LRU of 1,000-10,000 entries for 10 minutes, Redis for 1 hour.
 */
export const CacheConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    l1: z
      .object({
        /** Entries kept in process (least recently used evicted first). */
        maxEntries: z.number().int().positive().default(5_000),
        /** Freshness of an in-process entry. */
        ttlMs: z.number().int().positive().default(10 * 60_000),
      })
      .prefault({}),
    l2: z
      .object({
        /** Share cached answers between replicas through Redis. */
        enabled: z.boolean().default(true),
        ttlMs: z.number().int().positive().default(60 * 60_000),
        keyPrefix: z.string().default('sg:cache:'),
        /** A Redis lookup slower than this counts as a miss. */
        timeoutMs: z.number().int().positive().default(50),
      })
      .prefault({}),
    /** Responses larger than this are not cached. */
    maxBodyBytes: z.number().int().positive().default(1024 * 1024),
    /** Share cached answers across API keys (off: the key is part of the cache key). */
    shareAcrossKeys: z.boolean().default(false),
    /** Header with which a client opts a request in (`on`) or out (`off`) regardless of determinism. */
    optInHeader: z.string().toLowerCase().default('x-surgeguard-cache'),
    staleIfError: z
      .object({
        /** Serve an expired answer (marked with a header) when the upstreams fail or the request is shed. */
        enabled: z.boolean().default(true),
        /** How long past its freshness an answer may still be served as stale. */
        maxStaleMs: z.number().int().nonnegative().default(60 * 60_000),
      })
      .prefault({}),
    singleFlight: z
      .object({
        enabled: z.boolean().default(true),
        /** Followers per in-flight key; more identical requests go to the upstream on their own. */
        maxWaiters: z.number().int().nonnegative().default(1_000),
      })
      .prefault({}),
  })
  .prefault({});

export type CacheConfig = z.output<typeof CacheConfigSchema>;
export type CacheConfigInput = z.input<typeof CacheConfigSchema>;

export function parseCacheConfig(input: CacheConfigInput = {}): CacheConfig {
  return CacheConfigSchema.parse(input);
}
