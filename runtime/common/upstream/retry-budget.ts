import { Clock } from '../clock';
import { RetryBudgetConfig } from '../config/upstream';

/**
 * One granted retry. `done()` ends it (whatever its outcome) and frees its in-flight slot; it is
 * idempotent, so a caller that ends the same retry on two paths cannot free another retry's slot.
 */
export interface RetryPermit {
  done(): void;
}

/**
 * Caps retry amplification: a retry is allowed while fewer than `minConcurrent` retries are in
 * flight, or while retries in the sliding window stay within `ratio` of requests. Under a failing
 * pool, total upstream load therefore stays near (1 + ratio) x the offered load.
 */
export class RetryBudget {
  private static readonly BUCKETS = 10;
  private readonly bucketMs: number;
  // Stryker disable next-line ArrayDeclaration: bump() zeroes a bucket before its first count and sum() skips a bucket never started, so an empty array answers the same
  private readonly requests = new Array<number>(RetryBudget.BUCKETS).fill(0);
  // Stryker disable next-line ArrayDeclaration: as for requests
  private readonly retries = new Array<number>(RetryBudget.BUCKETS).fill(0);
  // Stryker disable next-line UnaryOperator: a bucket never started holds 0 requests and 0 retries, so counting it (a start of +Infinity) adds nothing
  private readonly bucketStart = new Array<number>(RetryBudget.BUCKETS).fill(-Infinity);
  private retriesInFlight = 0;

  constructor(
    private readonly config: RetryBudgetConfig,
    private readonly clock: Clock,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(config.windowMs / RetryBudget.BUCKETS));
  }

  /** Counts one original request (call once per request, not per attempt). */
  onRequest(): void {
    this.bump(this.requests);
  }

  /**
   * Asks for one retry: a permit whose `done()` the caller calls when the retry attempt ends
   * (whatever its outcome), or undefined when the budget refuses.
   */
  tryAcquireRetry(): RetryPermit | undefined {
    const allowed =
      this.retriesInFlight < this.config.minConcurrent ||
      this.sum(this.retries) + 1 <= this.config.ratio * this.sum(this.requests);
    if (!allowed) return undefined;
    this.retriesInFlight++;
    this.bump(this.retries);
    let open = true;
    return {
      done: () => {
        if (!open) return;
        open = false;
        this.retriesInFlight--;
      },
    };
  }

  /** Snapshot for metrics and tests. */
  get stats(): { requests: number; retries: number; retriesInFlight: number } {
    return { requests: this.sum(this.requests), retries: this.sum(this.retries), retriesInFlight: this.retriesInFlight };
  }

  private bump(counts: number[]): void {
    const slot = Math.floor(this.clock.now() / this.bucketMs);
    const i = slot % RetryBudget.BUCKETS;
    const start = slot * this.bucketMs;
    if (this.bucketStart[i] !== start) {
      this.bucketStart[i] = start;
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    counts[i]++;
  }

  private sum(counts: number[]): number {
    const oldest = this.clock.now() - this.config.windowMs;
    let total = 0;
    this.bucketStart.forEach((start, i) => {
      if (start + this.bucketMs > oldest) total += counts[i];
    });
    return total;
  }
}
