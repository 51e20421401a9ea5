import { z } from 'zod';
import { PRIORITY_CLASSES } from '../../common/priority';

/** One token bucket: sustained rate and burst (bucket size). */
export const BucketLimitSchema = z.object({
  /** Tokens added per second. */
  ratePerSecond: z.number().positive(),
  /** Bucket size: how much may be spent at once after an idle period. */
  burst: z.number().positive(),
});
export type BucketLimit = z.output<typeof BucketLimitSchema>;

/** One bucket per class; a class left out keeps the default. */
const perClass = (d: BucketLimit) =>
  z
    .object({
      critical: BucketLimitSchema.default(d),
      high: BucketLimitSchema.default(d),
      medium: BucketLimitSchema.default(d),
      low: BucketLimitSchema.default(d),
    })
    .prefault({});

/**
 * Rate limits per API key and class, shared across proxy replicas through Redis.
 * The brief's example is 10 requests/s with a burst of 20.
 */
export const RateLimitConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Request bucket per (API key, class). */
    requests: perClass({ ratePerSecond: 10, burst: 20 }),
    /** Optional model-token bucket per (API key, class): prompt + max_tokens estimate, corrected by reported usage. */
    tokens: z
      .object({
        enabled: z.boolean().default(false),
        limits: perClass({ ratePerSecond: 2_000, burst: 40_000 }),
        /** Output tokens assumed when a request does not set `max_tokens`. */
        defaultMaxTokens: z.number().int().positive().default(256),
      })
      .prefault({}),
    redis: z
      .object({
        /** Prefix of the bucket keys (one key per decision, so cluster-safe without hash tags). */
        keyPrefix: z.string().default('sg:rl:'),
        /** A decision that takes longer than this falls back to the local bucket. */
        timeoutMs: z.number().int().positive().default(50),
        /** While degraded, how often a decision tries Redis again. */
        retryIntervalMs: z.number().int().positive().default(1_000),
      })
      .prefault({}),
    /** Number of proxy replicas; the local fallback bucket gets 1/replicas of each limit. */
    replicas: z.number().int().positive().default(1),
    /** Classes that are let through, not limited locally, while Redis is unavailable. */
    failOpenClasses: z.array(z.enum(PRIORITY_CLASSES)).default(['critical']),
  })
  .prefault({});

export type RateLimitConfig = z.output<typeof RateLimitConfigSchema>;
export type RateLimitConfigInput = z.input<typeof RateLimitConfigSchema>;

export function parseRateLimitConfig(input: RateLimitConfigInput = {}): RateLimitConfig {
  return RateLimitConfigSchema.parse(input);
}
