import { z } from 'zod';
import { PRIORITY_CLASSES } from '../../../contract/priority';

/** One token bucket: sustained rate and burst (bucket size). */
export const BucketLimitSchema = z.strictObject({
  ratePerSecond: z.number().positive().describe('Tokens added per second.'),
  burst: z.number().positive().describe('Bucket size: how much may be spent at once after an idle period.'),
});
export type BucketLimit = z.output<typeof BucketLimitSchema>;

/** One bucket per class; a class left out keeps the default. */
const perClass = (d: BucketLimit) =>
  z
    .strictObject({
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
  .strictObject({
    enabled: z.boolean().default(true).describe('Rate limit requests that carry an API key.'),
    /** Request limits by class; one bucket per API key for all its classes (a request is taken at its class's rate and burst). */
    requests: perClass({ ratePerSecond: 10, burst: 20 }),
    /** Optional model-token bucket per (API key, class): prompt + max_tokens estimate, corrected by reported usage. */
    tokens: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Also limit model tokens (prompt estimate + max_tokens, corrected by reported usage).'),
        limits: perClass({ ratePerSecond: 2_000, burst: 40_000 }),
        defaultMaxTokens: z.number().int().positive().default(256).describe('Output tokens assumed when a request does not set `max_tokens`.'),
      })
      .prefault({}),
    redis: z
      .strictObject({
        keyPrefix: z.string().default('sg:rl:').describe('Prefix of the bucket keys (one key per decision, so cluster-safe without hash tags).'),
        timeoutMs: z.number().int().positive().default(50).describe('A decision that takes longer than this falls back to the local bucket.'),
        retryIntervalMs: z.number().int().positive().default(1_000).describe('While degraded, how often a decision tries Redis again.'),
      })
      .prefault({}),
    replicas: z.number().int().positive().default(1).describe('Number of proxy replicas; the local fallback bucket gets 1/replicas of each limit.'),
    failOpenClasses: z.array(z.enum(PRIORITY_CLASSES)).default(['critical']).describe('Classes that are let through, not limited locally, while Redis is unavailable.'),
  })
  .prefault({});

export type RateLimitConfig = z.output<typeof RateLimitConfigSchema>;
export type RateLimitConfigInput = z.input<typeof RateLimitConfigSchema>;

export function parseRateLimitConfig(input: RateLimitConfigInput = {}): RateLimitConfig {
  return RateLimitConfigSchema.parse(input);
}
