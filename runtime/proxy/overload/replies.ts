import { SHED_HEADER, type PriorityClass } from '../../../contract/priority';
import type { Shed } from '../admission/controller';
import { openAIError } from '../errors';
import type { RateLimitDecision } from '../ratelimit/rate-limiter';
import type { LocalReply } from '../request-context';

/** The answers overload control gives itself, and the headers it sets. */

/** Header reporting how the cache answered: hit, miss, stale, coalesced. */
export const CACHE_HEADER = 'x-surgeguard-cache';

/** The 429 answer of a request over its key's rate limit: Retry-After and the requests left. */
export function rateLimitedReply(cls: PriorityClass, d: RateLimitDecision): LocalReply {
  return {
    status: 429,
    headers: { 'retry-after': String(d.retryAfterSeconds), 'x-ratelimit-remaining-requests': String(d.remainingRequests) },
    body: openAIError(`Rate limit reached for ${cls} requests of this key; retry after ${d.retryAfterSeconds} s.`, 'rate_limit_error', 'rate_limit_exceeded'),
  };
}

/** The 503 answer for a shed request: OpenAI-style body, Retry-After from the drain rate. */
export function shedReply(shed: Shed): LocalReply {
  const why: Record<Shed['reason'], string> = {
    queue_full: 'the admission queue is full',
    evicted: 'higher-priority requests took its place in the queue',
    deadline: 'it could not be served before its deadline',
    timeout: 'its deadline passed while it waited',
    aborted: 'the client went away',
    no_capacity: 'no model server is serving it now',
  };
  return {
    status: 503,
    headers: { 'retry-after': String(shed.retryAfterSeconds), [SHED_HEADER]: shed.reason },
    body: openAIError(
      `The model servers are at capacity and this ${shed.cls} request was shed because ${why[shed.reason]}; retry after ${shed.retryAfterSeconds} s.`,
      'service_unavailable',
      'overloaded',
    ),
  };
}
