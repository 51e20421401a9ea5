import type { Clock } from '../../common/clock';

/**
 * Measures how fast a pool drains (completions per second) so that the admission queue can
 * tell a waiter whether its deadline can be met and give shed callers a `Retry-After` that
 * means something. Two estimates:
 * - measured: completions over the last `windowMs` (once at least `minSamples` were seen);
 * - Little's law: limit / mean latency, usable as soon as a few latencies are known, e.g. in
 *   the first second of a surge when few completions have happened yet.
 * The larger of the two is used: under-estimating the drain rate sheds requests that would
 * have made it, which is the worse error.
 */
export class DrainMeter {
  private readonly stamps: number[] = [];
  private head = 0;
  private meanLatency: number | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = 5_000,
    private readonly minSamples = 5,
  ) {
    this.startedAt = clock.now();
  }

  record(latencyMs?: number): void {
    const now = this.clock.now();
    this.stamps.push(now);
    this.trim(now);
    if (latencyMs !== undefined && latencyMs >= 0) {
      this.meanLatency = this.meanLatency === undefined ? latencyMs : this.meanLatency * 0.8 + latencyMs * 0.2;
    }
  }

  /** Smoothed time an admitted request spends at the upstream, once known. */
  get meanLatencyMs(): number | undefined {
    return this.meanLatency;
  }

  /** Completions per second, or undefined while nothing is known yet. */
  ratePerSecond(limit: number): number | undefined {
    const now = this.clock.now();
    this.trim(now);
    const n = this.stamps.length - this.head;
    let measured: number | undefined;
    if (n >= this.minSamples) {
      const span = Math.min(this.windowMs, Math.max(1, now - this.startedAt));
      measured = (n * 1000) / span;
    }
    const little = this.meanLatency !== undefined && this.meanLatency > 0 ? (limit * 1000) / this.meanLatency : undefined;
    if (measured === undefined) return little;
    if (little === undefined) return measured;
    return Math.max(measured, little);
  }

  private trim(now: number): void {
    const cutoff = now - this.windowMs;
    while (
      // Stryker disable next-line ConditionalExpression,EqualityOperator: past the end `stamps[head]` is undefined and `undefined <= cutoff` is false, so `true` and `<=` stop the loop at the same place; the guard says what is meant
      this.head < this.stamps.length &&
      this.stamps[this.head] <= cutoff
    )
      this.head++;
    // Memory only: drop the expired prefix once it is over 1 024 stamps and the larger part of the
    // array (amortised O(1) per stamp). These thresholds set how often it is spliced, not what is
    // counted nor the bound (at most twice the window's stamps, or the window's plus 1 025);
    // the variants that never compact (`false`, `<=`) are killed by the memory tests.
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: `true`, `>=` and `||` only compact more often (see above)
    if (this.head > 1024 && this.head * 2 > this.stamps.length) {
      this.stamps.splice(0, this.head);
      this.head = 0;
    }
  }
}
