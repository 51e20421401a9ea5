/**
 * Reconnect backoff: exponential with full jitter, capped. Pure; the caller sleeps.
 * `attempt` counts from 0 (the first retry after a failure).
 */
export interface BackoffOptions {
  /** First delay ceiling, ms. */
  readonly baseMs: number;
  /** Largest delay, ms. */
  readonly capMs: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 30));
  // Full jitter, but never below a tenth of the ceiling so a reconnect loop cannot spin.
  return Math.round(ceiling * (0.1 + 0.9 * random()));
}
