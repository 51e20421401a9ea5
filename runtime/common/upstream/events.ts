import { BreakerState } from './circuit-breaker';

/**
 * What the upstream layer reports to its owner (metrics, logs). Every hook is optional, so the
 * worker and the proxy each wire what they record under their own metric names.
 */
export interface UpstreamEvents {
  /** A retry was decided (before its backoff). `reason` is an error kind or an HTTP status. */
  onRetry?(pool: string, upstream: string, reason: string): void;
  /** A retry was wanted but the retry budget refused it. */
  onRetryBudgetExhausted?(pool: string): void;
  onBreakerStateChange?(pool: string, upstream: string, to: BreakerState, from: BreakerState): void;
  /** Outlier detection ejected an upstream. */
  onEjection?(pool: string, upstream: string, durationMs: number): void;
  /** Active health checks changed their verdict. */
  onHealthChange?(pool: string, upstream: string, healthy: boolean): void;
  /** Every upstream was unavailable and one was tried anyway (least recently failed). */
  onLastResort?(pool: string, upstream: string): void;
}
