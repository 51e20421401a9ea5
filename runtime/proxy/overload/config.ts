import { z } from 'zod';
import { AdmissionConfigSchema } from '../admission/config';
import { CacheConfigSchema } from '../cache/config';
import { CanaryConfigSchema } from '../canary';
import { RateLimitConfigSchema } from '../ratelimit/config';

/**
 * The overload-control part of the proxy config: a leaf of the config tree (schemas only), so
 * that runtime/proxy/config.ts pulls in no overload engine, ioredis or prom-client.
 */

/** Admission settings: one default for every pool, overridden per pool by name. */
export const AdmissionPoolsSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Admission control (concurrency limit + priority queue) in front of every pool.'),
    defaults: AdmissionConfigSchema.prefault({}).describe('Settings of pools not listed under `pools`.'),
    pools: z.record(z.string(), AdmissionConfigSchema).default({}).describe('Settings per pool name (replace the defaults).'),
  })
  .prefault({});

/** The overload-control part of the proxy config (merged into ProxyConfigSchema). */
export const OverloadConfigShape = {
  rateLimit: RateLimitConfigSchema.describe('Token buckets per API key and class, shared through Redis.'),
  cache: CacheConfigSchema.describe('Response cache for deterministic requests and coalescing of identical ones.'),
  admission: AdmissionPoolsSchema,
  canary: CanaryConfigSchema.describe('Split of a model between pools by a stable hash of the user.'),
};
export const OverloadConfigSchema = z.object(OverloadConfigShape);
export type OverloadConfig = z.output<typeof OverloadConfigSchema>;
