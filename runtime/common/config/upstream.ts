import { z } from 'zod';
import { PROXY_RETRY_STATUSES } from '../retry-policy';
import { SecretRefSchema } from './secrets';

/**
 * Reusable schemas for pools of OpenAI-compatible upstreams: the proxy and the worker both
 * describe their model servers with these. Defaults live here and nowhere else.
 */

export const TimeoutsSchema = z
  .strictObject({
    connectMs: z.number().int().positive().default(5_000).describe('TCP (and TLS) connect timeout.'),
    ttfbMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe('Time from sending the request to the upstream response headers (time to first byte).'),
    idleMs: z
      .number()
      .int()
      .min(1_000)
      .default(30_000)
      .describe('Longest silence between two body chunks (streams included) before the response fails; about 1 s of resolution, time the client is not reading does not count.'),
    totalMs: z
      .number()
      .int()
      .positive()
      .default(600_000)
      .describe('Upper bound of one request through this pool, retries and streaming included.'),
  })
  .strict();

export const HealthCheckSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Probe upstreams actively.'),
    path: z.string().startsWith('/').default('/health').describe('Path probed with GET; 2xx means healthy.'),
    intervalMs: z.number().int().positive().default(3_000).describe('Time between probes of one upstream.'),
    timeoutMs: z.number().int().positive().default(1_000).describe('Probe timeout.'),
    unhealthyThreshold: z.number().int().positive().default(3).describe('Consecutive failed probes that mark an upstream unhealthy.'),
    healthyThreshold: z.number().int().positive().default(2).describe('Consecutive good probes that mark it healthy again.'),
  })
  .strict();

export const OutlierDetectionSchema = z
  .strictObject({
    consecutiveFailures: z
      .number()
      .int()
      .positive()
      .default(5)
      .describe('Consecutive 5xx responses or connect failures that eject an upstream.'),
    baseEjectionMs: z.number().int().positive().default(30_000).describe('Ejection time; multiplied by the number of times ejected.'),
    maxEjectionMs: z.number().int().positive().default(300_000).describe('Longest ejection.'),
    maxEjectionPercent: z
      .number()
      .min(0)
      .max(100)
      .default(50)
      .describe('Never eject more than this share of a pool (and never its last available upstream).'),
  })
  .strict();

export const CircuitBreakerSchema = z
  .strictObject({
    windowMs: z.number().int().positive().default(10_000).describe('Sliding window of the error rate.'),
    minRequests: z.number().int().positive().default(20).describe('Requests in the window before the error rate counts.'),
    errorRatio: z.number().gt(0).max(1).default(0.5).describe('Error share in the window that opens the breaker.'),
    consecutiveFailures: z.number().int().positive().default(5).describe('Consecutive failures that open it regardless of volume.'),
    openMs: z.number().int().positive().default(5_000).describe('Time open before half-open.'),
    halfOpenProbes: z
      .number()
      .int()
      .positive()
      .default(1)
      .describe('Concurrent trial requests in half-open; this many successes close it, one failure reopens it.'),
  })
  .strict();

export const RetryBudgetSchema = z
  .strictObject({
    ratio: z.number().min(0).max(1).default(0.2).describe('Retries allowed as a share of requests in the window.'),
    minConcurrent: z.number().int().min(0).default(3).describe('Retries always allowed in flight, whatever the ratio.'),
    windowMs: z.number().int().positive().default(10_000).describe('Sliding window of the ratio.'),
  })
  .strict();

export const RetrySchema = z
  .strictObject({
    maxAttempts: z.number().int().min(1).max(10).default(5).describe('Attempts per request, the first included.'),
    baseBackoffMs: z.number().int().min(0).default(1_000).describe('Backoff base: attempt n waits random(0, min(cap, base * 2^(n-1))).'),
    maxBackoffMs: z.number().int().min(0).default(30_000).describe('Backoff cap.'),
    retryOnStatus: z
      .array(z.number().int().min(400).max(599))
      .default([...PROXY_RETRY_STATUSES])
      .describe('Upstream statuses retried (connect errors and timeouts before the first byte always are).'),
    maxRetryAfterMs: z
      .number()
      .int()
      .positive()
      .default(60_000)
      .describe('Upper bound of an upstream Retry-After cool-down (a bogus header cannot park an upstream for a day).'),
    budget: RetryBudgetSchema.prefault({}),
  })
  .strict();

export const BalancerSchema = z
  .strictObject({
    type: z
      .enum(['weighted-round-robin', 'least-outstanding', 'consistent-hash'])
      .default('least-outstanding')
      .describe('Smooth weighted round robin, least outstanding requests (power of two choices), or consistent hashing on the user key with bounded load.'),
    hashLoadFactor: z
      .number()
      .min(1)
      .default(1.25)
      .describe('consistent-hash: an upstream takes a user only while its outstanding requests stay under factor x the pool average.'),
    virtualNodes: z.number().int().min(1).max(1000).default(100).describe('consistent-hash: ring points per unit of weight.'),
  })
  .strict();

export const UpstreamSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/ }).describe('Base URL (scheme, host, port; an optional path prefix such as /v1 is not added: paths are forwarded as received).'),
    name: z.string().min(1).optional().describe('Label in metrics and logs. @default host:port of the url'),
    weight: z.number().int().min(1).max(1000).default(1).describe('Relative share for the weighted balancers.'),
    region: z.string().min(1).optional().describe('Region label (metrics, region preference through pool order).'),
    apiKey: SecretRefSchema.optional().describe('Sent as `Authorization: Bearer <key>` (external providers).'),
    headers: z.record(z.string(), SecretRefSchema).default({}).describe('Extra request headers; values may come from the environment.'),
    connections: z.number().int().positive().default(256).describe('Keep-alive connections to this upstream at most.'),
    slots: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        'Requests this upstream serves at once (a vLLM server\'s --max-num-seqs, the model\'s maxConcurrentSequences). Admission sums it over the available members. @default - learned from the upstream\'s /metrics, or not known (the adaptive limit alone)',
      ),
  })
  .strict();

/**
 * Members found by name instead of listed: every address the name resolves to (A and AAAA
 * records, e.g. of a Kubernetes headless Service: one per ready pod) is one member, re-resolved
 * every `intervalMs`. Everything but the host of `url` applies to each member.
 */
export const DiscoverySchema = UpstreamSchema.omit({ name: true })
  .extend({
    url: z
      .url({ protocol: /^https?$/ })
      .describe('Scheme, host name to resolve and port of every member, e.g. http://model-server.surgeguard-inference.svc.cluster.local:8000'),
    intervalMs: z.number().int().min(500).default(5_000).describe('Time between two resolutions of the name.'),
  })
  .strict();

export const PoolSchema = z
  .strictObject({
    upstreams: z.array(UpstreamSchema).default([]).describe('Members of the pool, listed.'),
    discover: z
      .array(DiscoverySchema)
      .default([])
      .describe('Members of the pool found by name (one per address the name resolves to), kept up to date without a restart.'),
    balancer: BalancerSchema.prefault({}),
    timeouts: TimeoutsSchema.prefault({}),
    health: HealthCheckSchema.prefault({}),
    outlierDetection: OutlierDetectionSchema.prefault({}),
    circuitBreaker: CircuitBreakerSchema.prefault({}),
  })
  .strict()
  .refine((p) => p.upstreams.length + p.discover.length > 0, { message: 'a pool needs upstreams or discover (or both)', path: ['upstreams'] });

export type TimeoutsConfig = z.infer<typeof TimeoutsSchema>;
export type HealthCheckConfig = z.infer<typeof HealthCheckSchema>;
export type OutlierDetectionConfig = z.infer<typeof OutlierDetectionSchema>;
export type CircuitBreakerConfig = z.infer<typeof CircuitBreakerSchema>;
export type RetryBudgetConfig = z.infer<typeof RetryBudgetSchema>;
export type RetryConfig = z.infer<typeof RetrySchema>;
export type BalancerConfig = z.infer<typeof BalancerSchema>;
export type UpstreamConfig = z.infer<typeof UpstreamSchema>;
export type DiscoveryConfig = z.infer<typeof DiscoverySchema>;
export type PoolConfig = z.infer<typeof PoolSchema>;
