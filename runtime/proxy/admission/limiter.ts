import type { Clock } from './clock';
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
}

/**
 * Adaptive concurrency limit for one pool: AIMD (additive increase, multiplicative decrease)
 * with a latency guard, in the manner of Netflix concurrency-limits' `AIMDLimit`.
 *
 * Why AIMD and not a gradient controller (Netflix `Gradient2`, Envoy adaptive concurrency):
 * gradient controllers infer queueing from the ratio of short-term to long-term (or minimum)
 * latency. LLM inference latency varies by two orders of magnitude with output length, so
 * that ratio is dominated by the request mix, not by queueing. Inference servers, however,
 * give explicit and unambiguous overload signals — 503/429 when full, and vLLM exports its
 * waiting queue (`num_requests_waiting`) and KV-cache usage. AIMD reacts to exactly those
 * signals: +1 per successful completion while the pool is at least half used, x`backoffRatio`
 * on an overload signal (at most once per `decreaseCooldownMs`, so one burst of 503s is one
 * signal). Latency still counts, loosely: when the smoothed latency exceeds `latencyTolerance`
 * times its windowed minimum, and that minimum by at least `latencySlackMs`, that is treated as
 * an overload signal as well. The absolute slack keeps a CPU-busy proxy from reading its own
 * event-loop delay (milliseconds) as upstream queueing against a millisecond-scale baseline.
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

  constructor(
    private readonly cfg: AdmissionConfig,
    private readonly clock: Clock,
    private readonly onChange?: (limit: number, cause: LimitChangeCause) => void,
  ) {
    this.value = cfg.adaptive.initial ?? cfg.maxConcurrency;
    this.baselineWindowStart = clock.now();
  }

  /** Current limit on requests in flight (integer, between `adaptive.min` and `maxConcurrency`). */
  get limit(): number {
    if (!this.cfg.adaptive.enabled) return this.cfg.maxConcurrency;
    return Math.max(this.cfg.adaptive.min, Math.min(this.cfg.maxConcurrency, Math.floor(this.value)));
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
        this.decrease('overload');
        return;
      case 'success': {
        if (sample.latencyMs !== undefined && this.latencyOverloaded(sample.latencyMs)) {
          this.decrease('latency');
          return;
        }
        // Only grow while the limit is actually being used (app-limited otherwise), and not
        // while the upstreams report saturation.
        if (!this.saturated && sample.inflight * 2 >= this.limit) this.set(this.value + 1, 'growth');
        return;
      }
      default:
        return;
    }
  }

  /**
   * Saturation read from the upstreams' metrics. One saturated scrape stops the limit growing;
   * two in a row shrink it. A single scrape often lands in the instant between a slot freeing
   * and the next request taking it (a momentary `waiting` of 1), which is not overload.
   */
  onSaturation(signal: SaturationSignal): void {
    const s = this.cfg.saturation;
    const saturated = (signal.minWaiting ?? signal.waiting) > s.maxWaiting || (signal.kvCacheUsage ?? 0) > s.maxKvCacheUsage;
    const sustained = saturated && this.saturated;
    this.saturated = saturated;
    if (sustained && this.cfg.adaptive.enabled) this.decrease('saturation');
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

  private decrease(cause: LimitChangeCause): void {
    const now = this.clock.now();
    if (now - this.lastDecreaseAt < this.cfg.adaptive.decreaseCooldownMs) return;
    this.lastDecreaseAt = now;
    this.set(Math.min(this.value, this.cfg.maxConcurrency) * this.cfg.adaptive.backoffRatio, cause);
  }

  private set(next: number, cause: LimitChangeCause): void {
    const before = this.limit;
    this.value = Math.max(this.cfg.adaptive.min, Math.min(this.cfg.maxConcurrency, next));
    if (this.limit !== before) this.onChange?.(this.limit, cause);
  }
}
