import type { Clock } from '../../common/clock';
import type { AdmissionConfig } from './config';

/**
 * What a finished upstream attempt says about capacity:
 * - `success`: the upstream answered; its latency is a sample.
 * - `overload`: the upstream said it is full (503, 429) or timed out — the capacity signal.
 * - `error`: a failure that says nothing about capacity (bad request, connection refused);
 *   the breaker and outlier detection deal with those, the limit does not move.
 * - `cancelled`: the client went away; no sample.
 */
export type SampleKind = 'success' | 'overload' | 'error' | 'cancelled';

export interface LimiterSample {
  readonly kind: SampleKind;
  /** Time the attempt spent at the upstream. */
  readonly latencyMs?: number;
  /** Requests in flight when the attempt finished (including this one). */
  readonly inflight: number;
}

/** Why the limit moved: an upstream 503/429/timeout, latency, vLLM saturation, or growth. */
export type LimitChangeCause = 'overload' | 'latency' | 'saturation' | 'growth';

/** Saturation as read from vLLM-style `/metrics` of a pool's upstreams. */
export interface SaturationSignal {
  /** Sum of `vllm:num_requests_waiting` over the pool. */
  readonly waiting: number;
  /**
   * `vllm:num_requests_waiting` of the least-queued upstream. The pool is saturated only when
   * every member queues; one queueing member next to an idle one is imbalance, not overload.
   * @default waiting
   */
  readonly minWaiting?: number;
  /** Highest `vllm:gpu_cache_usage_perc` (0..1) over the pool, if exported. */
  readonly kvCacheUsage?: number;
  /** Sum of `vllm:num_requests_running` over the pool, if exported. */
  readonly running?: number;
}

/**
 * What the pool can serve at once, as the members say (their configured or learned slots,
 * summed over the members that serve, this replica's share of it when replicas share the
 * pool). `undefined`: not known (a member says nothing), the adaptive limit alone decides.
 */
export type CapacitySource = () => number | undefined;

/**
 * Concurrency limit for one pool: the pool's capacity when the members make it known, bounded
 * by an adaptive limit (AIMD with a latency guard, in the manner of Netflix concurrency-limits'
 * `AIMDLimit`) that catches what the capacity figure does not.
 *
 * Capacity: `CapacitySource` answers the slots of the members that serve (configured, e.g. a
 * vLLM server's `--max-num-seqs`, or learned from their `/metrics`), divided among the proxy
 * replicas. It is the ceiling of the limit: a member lost lowers it at once, a member added
 * raises it (and the adaptive value with it) at once. Without it the ceiling is
 * `maxConcurrency`, else `adaptive.max`, and the adaptive value finds the capacity.
 *
 * Why AIMD and not a gradient controller (Netflix `Gradient2`, Envoy adaptive concurrency):
 * gradient controllers infer queueing from the ratio of short-term to long-term latency. LLM
 * latency varies by two orders of magnitude with output length, so that ratio is dominated by
 * the request mix. Inference servers give explicit overload signals instead, and the limit
 * moves on those:
 * - an upstream 503/429 or timeout is proof that the requests in flight when it came were more
 *   than the upstreams take: the limit drops to that concurrency less one, at once (each
 *   further rejection of the same burst lowers it by the one request it stood for, so a burst
 *   of n rejections takes the limit to exactly what was served, whether the upstreams reject
 *   at once or after queueing);
 * - vLLM's waiting queue on every member: the limit drops to this replica's in-flight requests
 *   times the share the upstreams run (running / (running + waiting)), at most once per
 *   `decreaseCooldownMs` (a scrape is a sample, not proof);
 * - latency beyond `latencyTolerance` x its windowed minimum (and `latencySlackMs` above it):
 *   x `backoffRatio`, at most once per cooldown;
 * - growth: +1 per limit's worth of completions that found the limit in use (one per round
 *   trip, additive), never while the upstreams report saturation. Probing above a capacity
 *   the upstreams enforce therefore costs one rejected attempt per round trip, not one per
 *   completion.
 *
 * Pure decision logic: no I/O, time from the injected clock.
 */
export class AimdLimiter {
  private value: number;
  private lastDecreaseAt = -Infinity;
  private saturated = false;
  private smoothedLatency: number | undefined;
  private baselineCurrent = Infinity;
  private baselinePrevious = Infinity;
  private baselineWindowStart: number;
  private lastCeiling: number | undefined;
  /** Completions that found the limit in use since the last growth step. */
  private growthCredit = 0;

  constructor(
    private readonly cfg: AdmissionConfig,
    private readonly clock: Clock,
    private readonly onChange?: (limit: number, cause: LimitChangeCause) => void,
    private readonly capacity?: CapacitySource,
  ) {
    const known = capacity?.();
    this.value = known ?? Math.min(cfg.adaptive.initial, this.unknownCeiling());
    this.baselineWindowStart = clock.now();
    // Remember the ceiling the value was set against: capacity that appears before the first
    // look (members discovered after start-up) must raise the value by as much, not leave it at
    // the empty pool's floor to grow back one slot per round trip.
    this.ceiling();
  }

  /** Current limit on requests in flight: 0 when the capacity is known to be none. */
  get limit(): number {
    const ceiling = this.ceiling();
    if (!this.cfg.adaptive.enabled) return ceiling;
    if (ceiling === 0) return 0;
    return Math.max(Math.min(this.cfg.adaptive.min, ceiling), Math.min(ceiling, Math.floor(this.value)));
  }

  /** The capacity this limit follows, when the members make it known. */
  get knownCapacity(): number | undefined {
    return this.capacity?.();
  }

  /** Smoothed latency baseline (lowest smoothed latency over the last one-to-two windows). */
  get baselineLatencyMs(): number | undefined {
    const b = Math.min(this.baselineCurrent, this.baselinePrevious);
    return Number.isFinite(b) ? b : undefined;
  }

  onSample(sample: LimiterSample): void {
    if (!this.cfg.adaptive.enabled) return;
    switch (sample.kind) {
      case 'overload':
        // the upstreams refused while `inflight` requests were out: they take fewer
        this.lower(Math.max(this.cfg.adaptive.min, sample.inflight - 1), 'overload');
        return;
      case 'success': {
        if (sample.latencyMs !== undefined && this.latencyOverloaded(sample.latencyMs)) {
          this.decrease(this.value * this.cfg.adaptive.backoffRatio, 'latency');
          return;
        }
        // Only grow while the limit is actually in use (app-limited otherwise), and not
        // while the upstreams report saturation.
        const limit = this.limit;
        if (this.saturated || sample.inflight < limit || limit === 0) return;
        if (++this.growthCredit < limit) return;
        this.growthCredit = 0;
        this.set(this.value + 1, 'growth');
        return;
      }
      default:
        return;
    }
  }

  /**
   * Saturation read from the upstreams' metrics, with this replica's requests in flight. One
   * saturated scrape stops the limit growing; two in a row shrink it. A single scrape often
   * lands in the instant between a slot freeing and the next request taking it (a momentary
   * `waiting` of 1), which is not overload. KV-cache usage counts only while requests wait: a
   * full cache that admits every request is a well-used GPU, not an overloaded one.
   */
  onSaturation(signal: SaturationSignal, inflight = this.limit): void {
    const s = this.cfg.saturation;
    const saturated = (signal.minWaiting ?? signal.waiting) > s.maxWaiting || ((signal.kvCacheUsage ?? 0) > s.maxKvCacheUsage && signal.waiting > 0);
    const sustained = saturated && this.saturated;
    this.saturated = saturated;
    if (!sustained || !this.cfg.adaptive.enabled) return;
    const running = signal.running;
    const target =
      running !== undefined && running + signal.waiting > 0
        ? Math.max(this.cfg.adaptive.min, Math.floor((inflight * running) / (running + signal.waiting)))
        : this.value * this.cfg.adaptive.backoffRatio;
    this.decrease(target, 'saturation');
  }

  private unknownCeiling(): number {
    return this.cfg.maxConcurrency ?? this.cfg.adaptive.max;
  }

  /** The ceiling now; capacity added since the last look raises the adaptive value by as much. */
  private ceiling(): number {
    const known = this.capacity?.();
    let ceiling = known === undefined ? this.unknownCeiling() : known;
    if (this.cfg.maxConcurrency !== undefined) ceiling = Math.min(ceiling, this.cfg.maxConcurrency);
    if (this.lastCeiling !== undefined && ceiling > this.lastCeiling) this.value += ceiling - this.lastCeiling;
    this.lastCeiling = ceiling;
    if (this.value > ceiling) this.value = ceiling;
    return ceiling;
  }

  private latencyOverloaded(latencyMs: number): boolean {
    const now = this.clock.now();
    if (now - this.baselineWindowStart >= this.cfg.adaptive.baselineWindowMs) {
      this.baselinePrevious = this.baselineCurrent;
      this.baselineCurrent = Infinity;
      this.baselineWindowStart = now;
    }
    this.smoothedLatency = this.smoothedLatency === undefined ? latencyMs : this.smoothedLatency * 0.9 + latencyMs * 0.1;
    this.baselineCurrent = Math.min(this.baselineCurrent, this.smoothedLatency);
    const baseline = this.baselineLatencyMs;
    if (baseline === undefined) return false;
    const { latencyTolerance, latencySlackMs } = this.cfg.adaptive;
    return this.smoothedLatency > Math.max(baseline * latencyTolerance, baseline + latencySlackMs);
  }

  /** A decrease on an ambiguous signal (latency, saturation): at most once per cooldown. */
  private decrease(target: number, cause: LimitChangeCause): void {
    const now = this.clock.now();
    if (now - this.lastDecreaseAt < this.cfg.adaptive.decreaseCooldownMs) return;
    this.lastDecreaseAt = now;
    this.lower(target, cause);
  }

  private lower(target: number, cause: LimitChangeCause): void {
    this.ceiling();
    this.growthCredit = 0;
    if (target < this.value) this.set(target, cause);
  }

  private set(next: number, cause: LimitChangeCause): void {
    const before = this.limit;
    this.value = Math.max(this.cfg.adaptive.min, Math.min(this.ceiling(), next));
    if (this.limit !== before) this.onChange?.(this.limit, cause);
  }
}
