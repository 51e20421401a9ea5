import { z } from 'zod';

/** One value per class; a class left out keeps its default. */
const perClass = (item: z.ZodNumber, d: { critical: number; high: number; medium: number; low: number }) =>
  z
    .strictObject({ critical: item.default(d.critical), high: item.default(d.high), medium: item.default(d.medium), low: item.default(d.low) })
    .prefault({});

/**
 * Default start of the adaptive limit while the capacity of a pool whose members are scraped is
 * unknown: the `--max-num-seqs` of a small model server (one small GPU), so that the first round
 * trip of a surge cannot flood even a one-member pool; slow start doubles it per round trip
 * from there, and the first scrape that sees the members full ends it (`limiter.ts`).
 */
export const SLOW_START_INITIAL = 8;

/**
 * Default start of a pool that is not scraped (`saturation.enabled: false`), which does not slow
 * start: nothing would end slow start there before a 503 or the latency guard (see `limiter.ts`).
 */
export const UNSCRAPED_INITIAL = 64;

/**
 * Adaptive concurrency limit (AIMD with slow start and a latency guard). See `limiter.ts` for
 * why AIMD and not a gradient controller.
 */
export const AdaptiveLimitSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Adapt the limit at all; when off the static `maxConcurrency` is the limit.'),
    initial: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        `Limit the pool starts with while its capacity is not known (no member has configured or learned slots). In a pool whose members are scraped (\`saturation.enabled\`) the limit grows from it by slow start (doubling per round trip while in use) until the first 503/429, cut or known capacity; in a pool that is not scraped, by one per round trip. @default ${SLOW_START_INITIAL} in a scraped pool (or \`adaptive.min\` when that is higher), ${UNSCRAPED_INITIAL} in one that is not`,
      ),
    max: z.number().int().positive().default(1_000).describe('Highest limit while the capacity is not known and no maxConcurrency is set.'),
    min: z.number().int().positive().default(1).describe('The adaptive limit never goes below this (unless no member serves: then it is 0).'),
    backoffRatio: z.number().gt(0).lt(1).default(0.9).describe('Multiplicative decrease on a latency signal (and on saturation when the upstreams do not report running requests).'),
    decreaseCooldownMs: z.number().int().nonnegative().default(500).describe('Minimum time between two decreases on latency or saturation (an upstream 503/429 lowers the limit to the concurrency it refused at once).'),
    latencyTolerance: z.number().gt(1).default(4).describe('A completion slower than `latencyTolerance` x the pool\'s baseline latency counts as an overload signal. LLM latency depends on output length, so this is loose by default.'),
    latencySlackMs: z.number().nonnegative().default(100).describe('Latency must also exceed the baseline by this many milliseconds to count as overload. Queueing at an inference server costs at least a decode step per queued request; smaller rises are jitter, including the proxy\'s own event-loop delay when its CPU is busy, and must not shrink the limit.'),
    baselineWindowMs: z.number().int().positive().default(60_000).describe('Window over which the baseline (lowest average) latency is re-measured.'),
  })
  .prefault({});

/** Saturation signals scraped from vLLM-style upstream `/metrics`. */
export const SaturationSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('Scrape upstream `/metrics`: learn each member\'s slots (requests running while it is full) and treat saturation as an overload signal. A member without vLLM gauges (and no declared `slots`) is not learned from: the proxy logs it once and counts it in `surgeguard_proxy_members_without_capacity_gauges` (docs/cell-capacity.md).'),
    intervalMs: z.number().int().positive().default(1_000).describe('Scrape period.'),
    timeoutMs: z.number().int().positive().default(500).describe('Scrape timeout.'),
    maxWaiting: z.number().nonnegative().default(0).describe('Saturation: `vllm:num_requests_waiting` above this on every member of the pool (one queueing member next to an idle one is imbalance). Two saturated scrapes in a row shrink the limit.'),
    maxKvCacheUsage: z.number().gt(0).max(1).default(0.95).describe('`vllm:gpu_cache_usage_perc` (0..1) above this on any upstream, while requests wait, is saturation.'),
  })
  .strict()
  .prefault({});

/** How proxy replicas share a pool's capacity (through the shared Redis). */
export const ReplicaShareSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Divide the capacity the members make known among the proxy replicas alive in Redis (needs `redis`; without it each replica takes all).'),
    shareBy: z
      .enum(['equal', 'demand'])
      .default('equal')
      .describe(
        'How the replicas divide the capacity. `equal`: floor(capacity / n) each, the members\' slots dealt round robin. `demand`: by the replicas\' demand in class order (critical demand of every replica first), member by member, each part handed over through Redis only once its holder gave it up, and a slot that frees at a replica given up at once to more urgent work waiting at another (class order across the replicas): for a pool no later pool of the route takes the overflow of (a single-region environment), where one replica handed more critical work than its equal share would queue it while the others serve lower classes. Costs idle slots during each hand-over, so `equal` is better where another region takes the overflow (docs/cell-capacity.md).',
      ),
    heartbeatMs: z.number().int().min(100).default(1_000).describe('How often a replica renews its presence and reads the others\'.'),
    expiryMs: z.number().int().min(500).default(3_000).describe('A replica not heard of for this long no longer counts (a dead replica\'s share goes back to the others).'),
  })
  .strict()
  .prefault({});

/** LiteLLM-style capacity reservation per class once the pool is past a saturation threshold. */
export const ReservationSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Reserve capacity per class past the threshold (off by default).'),
    threshold: z.number().gt(0).max(1).default(0.8).describe('Fraction of the limit in flight past which reservations apply.'),
    /** Share of the limit kept free for each class and the classes above it. */
    shares: perClass(z.number().min(0).max(1), { critical: 0.2, high: 0.1, medium: 0, low: 0 }).describe(
      'Share of the limit kept free for each class: class c may use only what is not reserved for the classes above it.',
    ),
  })
  .prefault({})
  .refine((r) => r.shares.critical + r.shares.high + r.shares.medium + r.shares.low < 1, {
    message: 'admission.reservation.shares must sum to less than 1',
  });

/** Admission control for one upstream pool. */
export const AdmissionConfigSchema = z
  .strictObject({
    maxConcurrency: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Hand-set cap on requests in flight to the pool. Not needed: the limit follows the slots the members declare or report, and adapts where they say nothing. @default - no cap but the capacity'),
    replicas: ReplicaShareSchema,
    adaptive: AdaptiveLimitSchema,
    queue: z
      .strictObject({
        maxSize: z.number().int().nonnegative().default(1_000).describe('Requests waiting for a slot, all classes together.'),
        lowerClassShare: z.number().min(0).max(0.5).default(0.05).describe('Share of dispatches handed to the oldest waiter of a lower class while higher classes wait, so lower classes are not starved forever. 0 is strict priority.'),
      })
      .prefault({}),
    /** Deadline per class when the request does not carry `X-Request-Timeout` (ms). */
    classDeadlineMs: perClass(z.number().int().positive(), { critical: 30_000, high: 20_000, medium: 15_000, low: 10_000 }).describe(
      'Longest wait for a slot per class when the request carries no X-Request-Timeout (ms).',
    ),
    earlyShedding: z.boolean().default(true).describe('Shed a waiter as soon as the measured drain rate says its deadline cannot be met.'),
    /** Bounds of the `Retry-After` answer in seconds. */
    retryAfter: z
      .strictObject({
        minSeconds: z.number().int().positive().default(1).describe('Smallest Retry-After sent (s).'),
        maxSeconds: z.number().int().positive().default(60).describe('Largest Retry-After sent (s).'),
      })
      .prefault({}),
    saturation: SaturationSchema,
    reservation: ReservationSchema,
  })
  .refine((c) => c.adaptive.min <= (c.maxConcurrency ?? c.adaptive.max), { message: 'admission.adaptive.min must not exceed admission.maxConcurrency (or adaptive.max)' })
  // only a start set by hand can contradict the floor: the default start is at least `min`
  .refine((c) => c.adaptive.initial === undefined || c.adaptive.min <= c.adaptive.initial, { message: 'admission.adaptive.min must not exceed admission.adaptive.initial' })
  .refine((c) => c.retryAfter.minSeconds <= c.retryAfter.maxSeconds, {
    message: 'admission.retryAfter.minSeconds must not exceed maxSeconds',
  });

export type AdmissionConfig = z.output<typeof AdmissionConfigSchema>;
export type AdmissionConfigInput = z.input<typeof AdmissionConfigSchema>;

/** The limit a pool of unknown capacity starts from: `adaptive.initial`, else the default start for the pool (or `adaptive.min` if higher). */
export function initialLimit(cfg: Pick<AdmissionConfig, 'adaptive' | 'saturation'>): number {
  return cfg.adaptive.initial ?? Math.max(cfg.saturation.enabled ? SLOW_START_INITIAL : UNSCRAPED_INITIAL, cfg.adaptive.min);
}

export function parseAdmissionConfig(input: AdmissionConfigInput = {}): AdmissionConfig {
  return AdmissionConfigSchema.parse(input);
}
