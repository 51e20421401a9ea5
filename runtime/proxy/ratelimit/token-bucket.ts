import type { BucketLimit } from './config';

/** State of one bucket; `tokens` may be negative (debt) after a usage correction. */
export interface BucketState {
  readonly tokens: number;
  readonly updatedAt: number;
}

export interface TakeResult {
  readonly allowed: boolean;
  readonly state: BucketState;
  /** Tokens left after the decision. */
  readonly remaining: number;
  /** When refused: milliseconds until the request would be allowed. 0 when allowed. */
  readonly retryAfterMs: number;
}

/** Tokens in the bucket at `now`: refilled at `ratePerSecond`, capped at `burst`. */
export function refill(state: BucketState | undefined, limit: BucketLimit, now: number): number {
  if (!state) return limit.burst;
  const elapsed = Math.max(0, now - state.updatedAt);
  return Math.min(limit.burst, state.tokens + (elapsed * limit.ratePerSecond) / 1000);
}

/**
 * Takes `cost` tokens if available. A cost above the burst is admitted when the bucket is full
 * and leaves a debt (so one large request is possible but is paid for). The Lua script in
 * `redis-script.ts` implements exactly this arithmetic; both are tested against each other.
 */
export function take(state: BucketState | undefined, limit: BucketLimit, now: number, cost = 1): TakeResult {
  const tokens = refill(state, limit, now);
  const needed = Math.min(cost, limit.burst);
  if (tokens >= needed) {
    const left = tokens - cost;
    return { allowed: true, state: { tokens: left, updatedAt: now }, remaining: left, retryAfterMs: 0 };
  }
  return {
    allowed: false,
    state: { tokens, updatedAt: now },
    remaining: tokens,
    retryAfterMs: Math.ceil(((needed - tokens) * 1000) / limit.ratePerSecond),
  };
}

/** Applies a correction (positive `delta` spends more, negative refunds) without a decision. */
export function adjust(state: BucketState | undefined, limit: BucketLimit, now: number, delta: number): BucketState {
  return { tokens: Math.min(limit.burst, refill(state, limit, now) - delta), updatedAt: now };
}

/** The share of a limit one replica enforces on its own when the shared bucket is unavailable. */
export function scaleForReplicas(limit: BucketLimit, replicas: number): BucketLimit {
  const n = Math.max(1, Math.floor(replicas));
  return { ratePerSecond: limit.ratePerSecond / n, burst: Math.max(1, limit.burst / n) };
}
