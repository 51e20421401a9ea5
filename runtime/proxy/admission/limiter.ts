import type { Clock } from '../../common/clock';
import { initialLimit, type AdmissionConfig } from './config';

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
  /**
   * Lowest `vllm:gpu_cache_usage_perc` over the pool (every member exports it), so that a full
   * KV cache counts only when every member's is full: one member full (and queueing) next to
   * members with room is imbalance, like one queueing member.
   * @default kvCacheUsage
   */
  readonly minKvCacheUsage?: number;
  /** Sum of `vllm:num_requests_running` over the pool, if exported. */
  readonly running?: number;
  /**
   * Slots (configured or learned) of the members these figures came from, summed; undefined
   * when one of them has none known. With it, waiting on every member is told apart: more
   * requests at the members than their slots is over-admission; fewer, with the KV cache not
   * full, is a request between two scheduler steps (vLLM lists a request as waiting until its
   * next step schedules it, free slot or not), not overload.
   */
  readonly slots?: number;
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
 * `AIMDLimit`) that finds the capacity where nothing makes it known.
 *
 * Capacity: `CapacitySource` answers the slots of the members that serve (configured, e.g. a
 * vLLM server's `--max-num-seqs`, or learned from their `/metrics`), divided among the proxy
 * replicas. It is the ceiling of the limit and, while known, authoritative: a member lost
 * lowers it at once, a member added raises it (and the adaptive value with it) at once, and
 * only proof that the members hold more than they take (or run fewer than their slots while
 * requests wait, with the KV cache full) moves the limit below it. Without it the ceiling is
 * `maxConcurrency`, else `adaptive.max`, and the adaptive value finds the capacity.
 *
 * Why AIMD and not a gradient controller (Netflix `Gradient2`, Envoy adaptive concurrency):
 * gradient controllers infer queueing from the ratio of short-term to long-term latency. LLM
 * latency varies by two orders of magnitude with output length, so that ratio is dominated by
 * the request mix. Inference servers give explicit overload signals instead, and the limit
 * moves on those:
 * - an upstream 503/429 or timeout while the capacity is unknown (or while this replica holds
 *   more than its known share) is proof that the requests in flight when it came were more
 *   than the upstreams take: the limit drops to that concurrency less one, at once (each
 *   further rejection of the same burst lowers it by the one request it stood for, so a burst
 *   of n rejections takes the limit to exactly what was served, whether the upstreams reject
 *   at once or after queueing). Within a known share it is not: one member refused while the
 *   pool had room (requests stacked on it, another replica's excess), which the member's own
 *   state (Retry-After, breaker) and the request's re-admission absorb; cutting the pool's limit
 *   for it would leave free slots idle;
 * - vLLM's waiting queue on every member, on two scrapes in a row: the limit drops to this
 *   replica's in-flight requests times the share the upstreams can take (their slots, or what
 *   they run, over what they hold), at most once per `decreaseCooldownMs`. With known slots,
 *   waiting that does not exceed them (and no full KV cache) is a request between two scheduler
 *   steps, not saturation;
 * - latency beyond `latencyTolerance` x its windowed minimum (and `latencySlackMs` above it):
 *   x `backoffRatio`, at most once per cooldown;
 * - growth, never while the upstreams report saturation: below a known ceiling, +1 per
 *   completion (a cut is undone within a round trip, as TCP's slow start returns to a known
 *   window); above it nothing (the ceiling is the capacity); with the capacity unknown, slow
 *   start first, then additive growth (below).
 *
 * Slow start (TCP's, RFC 5681 §3.1, as concurrency-limits libraries start small): a pool whose
 * members are scraped and whose capacity has never been known starts at `adaptive.initial`
 * (default 8, one small model server's slots) and grows by +1 per successful completion that
 * found the limit in use, i.e. doubles per round trip while demand fills it, so a 4 x 256-slot
 * pool is reached in 7 round trips and a 16-slot pool is not sent 64 requests in the first
 * second of a surge. Growth per completion is clocked by what the upstreams complete, so once
 * they are full it adds at most their throughput per second until the first scrape learns
 * their slots or sees them all waiting (which pauses it). Slow start ends for good (like TCP's
 * ssthresh) at the first cut (a 503/429 or timeout, sustained saturation, latency) or once the
 * members make a capacity known; from then on, with the capacity unknown, growth is +1 per
 * limit's worth of completions that found the limit in use (one per round trip, additive), so
 * probing above a capacity the upstreams enforce costs one rejected attempt per round trip,
 * not one per completion.
 *
 * A pool that is not scraped (`saturation.enabled: false`) does not slow start: it starts at
 * `adaptive.initial` (default 64) and grows additively. There nothing ends slow start before a
 * 503 or the latency guard, and a far end that queues by priority (another region's proxies, the
 * pools the stacks render unscraped) gives neither in time: it serves its top class at once
 * while the rest wait (even a round's shortest answers stay short) and answers 503 only at a
 * deadline. Measured in bench:cell `spill` with slow start there (2026-12-06 04:12-04:17): the
 * spilling side's limit doubled on to 350 (192 with the fixed start), the far region was used a
 * round trip later at the surge's start, and goodput was 88.7 / 89.0 % (91.7 % in the same
 * minutes without), critical p99 1.9 s and 8.5 s (critical 93 %) against 1.2 s.
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
  /** Whether `lastCeiling` was a known capacity (not the unknown-capacity bound). */
  private lastKnown = false;
  /** Completions that found the limit in use since the last growth step. */
  private growthCredit = 0;
  /** Slow start: a scraped pool, no cut yet and no capacity known yet (see the class comment). */
  private slowStart: boolean;

  constructor(
    private readonly cfg: AdmissionConfig,
    private readonly clock: Clock,
    private readonly onChange?: (limit: number, cause: LimitChangeCause) => void,
    private readonly capacity?: CapacitySource,
  ) {
    const known = capacity?.();
    // no member yet (0: discovery has not answered) is no capacity to start from: members found
    // with their slots unknown start at the initial limit, not at `adaptive.min`
    this.value = known !== undefined && known > 0 ? known : Math.min(initialLimit(cfg), this.unknownCeiling());
    this.baselineWindowStart = clock.now();
    this.slowStart = cfg.saturation.enabled;
    // Remember the ceiling the value was set against: capacity that appears before the first
    // look (members discovered after start-up) must raise the value by as much, not leave it at
    // the empty pool's floor to grow back one slot per round trip.
    this.ceiling();
  }

  /** Current limit on requests in flight: 0 when the capacity is known to be none. */
  get limit(): number {
    const ceiling = this.ceiling();
    if (!this.cfg.adaptive.enabled) return ceiling;
    // never above the ceiling, nor below `adaptive.min` unless the ceiling is lower (0: no member serves)
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
    // nothing to learn of a pool no member serves (its last requests failing as it went)
    if (!this.cfg.adaptive.enabled || this.ceiling() === 0) return;
    switch (sample.kind) {
      case 'overload': {
        // Within a known share a refusal is a member's, not the pool's: the pool had room.
        const known = this.capacity?.();
        if (known !== undefined && sample.inflight <= this.ceiling()) return;
        // the upstreams refused while `inflight` requests were out: they take fewer
        this.lower(Math.max(this.cfg.adaptive.min, sample.inflight - 1), 'overload');
        return;
      }
      case 'success': {
        if (sample.latencyMs !== undefined && this.latencyOverloaded(sample.latencyMs)) {
          this.decrease(this.value * this.cfg.adaptive.backoffRatio, 'latency');
          return;
        }
        // Not while the upstreams report saturation. Below a known ceiling: back to it, one
        // per completion. Otherwise only while the limit is actually in use (app-limited
        // otherwise), one per round trip.
        const limit = this.limit;
        if (this.saturated) return; // (a limit of 0 is a ceiling of 0, answered above)
        if (this.capacity?.() !== undefined) {
          if (limit < this.ceiling()) this.set(this.value + 1, 'growth');
          return;
        }
        if (sample.inflight < limit) return;
        if (this.slowStart) {
          this.set(this.value + 1, 'growth');
          return;
        }
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
   * full cache that admits every request is a well-used GPU, not an overloaded one. Both count
   * only on every member: one member queueing (or full) while another has room is imbalance.
   *
   * With the members' slots known (`signal.slots`), every member waiting means one of two
   * things: the members hold more requests than their slots (over-admission: this replica
   * keeps its part of what they take, `inflight x slots / (running + waiting)`), or they run
   * fewer than their slots while requests wait, which is saturation only with the KV cache full
   * (the GPU takes fewer sequences than configured); otherwise it is vLLM's scheduler step
   * (a request is listed waiting until the next step schedules it) and the known slots stand.
   */
  onSaturation(signal: SaturationSignal, inflight = this.limit): void {
    const s = this.cfg.saturation;
    // every member's cache full while requests wait at every member (not the fullest member's
    // cache next to the pool's total waiting: that is one full member, i.e. imbalance)
    const kvFull = (signal.minKvCacheUsage ?? signal.kvCacheUsage ?? 0) > s.maxKvCacheUsage && (signal.minWaiting ?? signal.waiting) > 0;
    let saturated = (signal.minWaiting ?? signal.waiting) > s.maxWaiting || kvFull;
    const held = (signal.running ?? 0) + signal.waiting;
    if (signal.slots !== undefined && signal.running !== undefined && held <= signal.slots && !kvFull) saturated = false;
    const sustained = saturated && this.saturated;
    this.saturated = saturated;
    if (!sustained || !this.cfg.adaptive.enabled) return;
    const running = signal.running;
    let target: number;
    if (running === undefined || held === 0) target = this.value * this.cfg.adaptive.backoffRatio;
    else {
      // what the members take of what they hold: their slots when over-admitted, else what they run
      const takes = signal.slots !== undefined && held > signal.slots ? signal.slots : running;
      target = Math.max(this.cfg.adaptive.min, Math.floor((inflight * takes) / held));
    }
    this.decrease(target, 'saturation');
  }

  private unknownCeiling(): number {
    return this.cfg.maxConcurrency ?? this.cfg.adaptive.max;
  }

  /**
   * The ceiling now; known capacity added since the last look raises the adaptive value by as
   * much. No capacity at all (no member serves) leaves the adaptive value as it was, so that a
   * pool whose members come back, with or without known slots, resumes where it stood.
   */
  private ceiling(): number {
    const known = this.capacity?.();
    let ceiling = known === undefined ? this.unknownCeiling() : known;
    if (this.cfg.maxConcurrency !== undefined) ceiling = Math.min(ceiling, this.cfg.maxConcurrency);
    if (this.lastCeiling !== undefined && this.lastKnown && known !== undefined) this.value += Math.max(0, ceiling - this.lastCeiling);
    // a capacity the members make known ends slow start (none serving, 0, says nothing of it)
    if (known !== undefined && known > 0) this.slowStart = false;
    this.lastCeiling = ceiling;
    this.lastKnown = known !== undefined;
    if (ceiling > 0) this.value = Math.min(this.value, ceiling);
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
    // at most the smoothed latency just folded in (a comparison with NaN is false: no overload)
    const baseline = Math.min(this.baselineCurrent, this.baselinePrevious);
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

  /** A cut (or a 503 at or below the limit): also the end of slow start, like TCP's loss. */
  private lower(target: number, cause: LimitChangeCause): void {
    this.ceiling();
    this.growthCredit = 0;
    this.slowStart = false;
    if (target < this.value) this.set(target, cause);
  }

  private set(next: number, cause: LimitChangeCause): void {
    const before = this.limit;
    this.value = Math.max(this.cfg.adaptive.min, Math.min(this.ceiling(), next));
    if (this.limit !== before) this.onChange?.(this.limit, cause);
  }
}
