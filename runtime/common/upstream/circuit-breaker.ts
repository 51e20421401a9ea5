import { Clock } from '../clock';
import { CircuitBreakerConfig } from '../config/upstream';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Numeric encoding of the state for the breaker-state gauge: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * One attempt the breaker allowed. Exactly one verdict counts: the first call settles it and
 * later calls are ignored, so an attempt reported twice can neither free another probe's slot
 * nor count as two successful probes. A verdict that arrives after the breaker changed state
 * (a probe of an earlier half-open period) still counts as an outcome but frees no slot of the
 * current period.
 */
export interface BreakerPermit {
  /** The upstream answered well. */
  success(): void;
  /** The upstream failed (5xx, connect error, reset, timeout). */
  failure(): void;
  /** The attempt ended without a verdict on the upstream (client abort, 429, nothing sent). */
  cancel(): void;
}

/**
 * Per-upstream circuit breaker. Answers one question — "may I send to this upstream now?" —
 * from the outcomes it is told about.
 *
 * - closed: opens when, inside the sliding window, at least `minRequests` outcomes were seen and
 *   the error share reaches `errorRatio`, or after `consecutiveFailures` failures in a row;
 * - open: refuses for `openMs`, then turns half-open;
 * - half-open: admits at most `halfOpenProbes` concurrent probes; that many successes close it,
 *   any failure reopens it.
 *
 * An attempt asks through `tryAcquire()` (or `forceAcquire()`) and reports its verdict on the
 * permit it gets. `onSuccess()` / `onFailure()` report an outcome outside an attempt's verdict
 * (a body that fails after its headers were counted): they count in the window and move the
 * state, but never free or fill a probe slot.
 *
 * The window is kept in 10 buckets so memory is constant whatever the traffic.
 */
export class CircuitBreaker {
  private static readonly BUCKETS = 10;
  private current: BreakerState = 'closed';
  private openedAt = 0;
  private consecutive = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  /** Bumped on every state change: permits of an earlier period free no slot of this one. */
  private generation = 0;
  private readonly bucketMs: number;
  // Stryker disable next-line ArrayDeclaration: record() zeroes a bucket before its first count and windowCounts() skips a bucket never started, so an empty array answers the same
  private readonly totals = new Array<number>(CircuitBreaker.BUCKETS).fill(0);
  // Stryker disable next-line ArrayDeclaration: as for totals
  private readonly errors = new Array<number>(CircuitBreaker.BUCKETS).fill(0);
  // Stryker disable next-line UnaryOperator: a bucket never started holds 0 outcomes, so counting it (a start of +Infinity) adds nothing
  private readonly bucketStart = new Array<number>(CircuitBreaker.BUCKETS).fill(-Infinity);

  constructor(
    private readonly config: CircuitBreakerConfig,
    private readonly clock: Clock,
    private readonly onStateChange?: (to: BreakerState, from: BreakerState) => void,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(config.windowMs / CircuitBreaker.BUCKETS));
  }

  /** Current state; an open breaker whose timer ran out reports (and becomes) half-open. */
  get state(): BreakerState {
    if (this.current === 'open' && this.clock.now() - this.openedAt >= this.config.openMs) {
      this.transition('half-open');
    }
    return this.current;
  }

  /** Whether a request may be sent now, without taking a probe slot. */
  canAttempt(): boolean {
    const s = this.state;
    // Stryker disable next-line ConditionalExpression: probesInFlight is 0 whenever the breaker is closed (reset on every state change, only half-open permits count), so the half-open answer below is true there as well
    if (s === 'closed') return true;
    if (s === 'open') return false;
    return this.probesInFlight < this.config.halfOpenProbes;
  }

  /**
   * Asks permission for one request: a permit (in half-open it holds a probe slot until its
   * verdict), or undefined when the breaker refuses.
   */
  tryAcquire(): BreakerPermit | undefined {
    if (!this.canAttempt()) return undefined;
    // Stryker disable next-line ConditionalExpression: a closed-period permit counted as a probe changes nothing: probes are read only in half-open, and the next state change zeroes them and makes the permit one of an earlier period
    return this.permit(this.current === 'half-open');
  }

  /**
   * Sends even though the breaker refuses (the "every breaker is open" last resort). The verdict
   * is reported as usual; a success closes the breaker from any state.
   */
  forceAcquire(): BreakerPermit {
    return this.permit(this.state === 'half-open');
  }

  /** A success outside an attempt's verdict: counts, closes an open breaker, takes no probe. */
  onSuccess(): void {
    this.succeeded(false);
  }

  /** A failure outside an attempt's verdict (e.g. a body that broke after good headers). */
  onFailure(): void {
    this.failed();
  }

  private permit(probe: boolean): BreakerPermit {
    // Stryker disable next-line ConditionalExpression: counting a non-probe (closed, or forced while open) changes nothing: probes are read only in half-open, and entering it zeroes them
    if (probe) this.probesInFlight++;
    const generation = this.generation;
    let settled = false;
    const end = (verdict?: 'success' | 'failure') => {
      if (settled) return;
      settled = true;
      const ownProbe = probe && generation === this.generation;
      if (ownProbe) this.probesInFlight--;
      if (verdict === 'success') this.succeeded(ownProbe);
      else if (verdict === 'failure') this.failed();
    };
    return { success: () => end('success'), failure: () => end('failure'), cancel: () => end() };
  }

  private succeeded(probe: boolean): void {
    this.record(false);
    this.consecutive = 0;
    if (this.current === 'half-open') {
      if (!probe) return;
      this.probeSuccesses++;
      if (this.probeSuccesses >= this.config.halfOpenProbes) this.transition('closed');
    } else {
      this.transition('closed'); // an open breaker closes (a forced attempt or a late verdict succeeded); closed stays closed
    }
  }

  private failed(): void {
    this.record(true);
    this.consecutive++;
    if (this.current === 'half-open') {
      this.trip();
      return;
    }
    if (this.current !== 'closed') return;
    if (this.consecutive >= this.config.consecutiveFailures) {
      this.trip();
      return;
    }
    const { total, errors } = this.windowCounts();
    if (total >= this.config.minRequests && errors / total >= this.config.errorRatio) this.trip();
  }

  private trip(): void {
    this.openedAt = this.clock.now();
    this.transition('open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    // Stryker disable next-line UpdateOperator: the generation is only compared for equality, and counting down gives every period a distinct value too
    this.generation++;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    // every state starts from a clean count: closed must not reopen on errors from before it opened
    this.consecutive = 0;
    this.resetWindow();
    this.onStateChange?.(to, from);
  }

  private resetWindow(): void {
    this.totals.fill(0);
    this.errors.fill(0);
    // Stryker disable next-line UnaryOperator: the counts were just zeroed, so counting these buckets (a start of +Infinity) adds nothing
    this.bucketStart.fill(-Infinity);
  }

  private record(error: boolean): void {
    const now = this.clock.now();
    const slot = Math.floor(now / this.bucketMs);
    const i = slot % CircuitBreaker.BUCKETS;
    const start = slot * this.bucketMs;
    if (this.bucketStart[i] !== start) {
      this.bucketStart[i] = start;
      this.totals[i] = 0;
      this.errors[i] = 0;
    }
    this.totals[i]++;
    if (error) this.errors[i]++;
  }

  private windowCounts(): { total: number; errors: number } {
    const oldest = this.clock.now() - this.config.windowMs;
    let total = 0;
    let errors = 0;
    this.bucketStart.forEach((start, i) => {
      if (start + this.bucketMs > oldest) {
        total += this.totals[i];
        errors += this.errors[i];
      }
    });
    return { total, errors };
  }
}
