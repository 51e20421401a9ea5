import type { JobError } from '../jobs/model';

/**
 * What one model call came to, and what the worker does about it. Pure decision logic: no
 * AMQP, no Redis, no HTTP.
 */
export type ModelOutcome =
  /** The model answered 2xx; `body` is its JSON. */
  | { readonly kind: 'success'; readonly status: number; readonly body: unknown }
  /** Worth trying again later: 429, 502/503/504, timeouts, connection failures, open breaker. */
  | {
      readonly kind: 'transient';
      readonly reason: string;
      readonly status?: number;
      readonly body?: unknown;
      /** The upstream's Retry-After, when it sent one. */
      readonly retryAfterMs?: number;
    }
  /** The upstream refused the request itself (400, 404, 422, ...): retrying cannot help. */
  | { readonly kind: 'permanent'; readonly reason: string; readonly status: number; readonly body: unknown };

export type JobDecision =
  | { readonly action: 'succeed'; readonly result: unknown }
  | { readonly action: 'retry-later'; readonly retry: number; readonly error: JobError }
  | { readonly action: 'dead-letter'; readonly reason: string; readonly error: JobError }
  | { readonly action: 'fail'; readonly error: JobError };

/**
 * Decides what happens to a job after a model call.
 * @param retriesSoFar delayed retries the message has already been through
 * @param maxRetries delayed retries allowed before the job is dead-lettered
 */
export function decide(outcome: ModelOutcome, retriesSoFar: number, maxRetries: number): JobDecision {
  switch (outcome.kind) {
    case 'success':
      return { action: 'succeed', result: outcome.body };
    case 'permanent':
      return {
        action: 'fail',
        error: {
          type: 'upstream_error',
          message: outcome.reason,
          upstreamStatus: outcome.status,
          ...(outcome.body !== undefined ? { upstreamBody: outcome.body } : {}),
        },
      };
    case 'transient': {
      const error: JobError = {
        type: 'upstream_unavailable',
        message: outcome.reason,
        ...(outcome.status !== undefined ? { upstreamStatus: outcome.status } : {}),
        ...(outcome.body !== undefined ? { upstreamBody: outcome.body } : {}),
      };
      if (retriesSoFar < maxRetries) return { action: 'retry-later', retry: retriesSoFar, error };
      const reason = `retries exhausted after ${retriesSoFar + 1} attempts: ${outcome.reason}`;
      return { action: 'dead-letter', reason, error: { ...error, type: 'retries_exhausted', message: reason } };
    }
  }
}

/**
 * A message delivered this many times already has crashed or stalled workers repeatedly; the
 * worker dead-letters it itself one delivery before the broker's limit would drop it silently.
 */
export function deliveryLimitReached(deliveryCount: number, deliveryLimit: number): boolean {
  return deliveryCount >= deliveryLimit - 1;
}
