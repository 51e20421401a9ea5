import { RETRY_DELAYS_MS } from '../../contract/queue-topology';

/**
 * Which upstream answers are retried, for the proxy and for the worker, side by side. They
 * differ on purpose:
 *
 * - The proxy retries synchronously, at once, on another upstream, inside a client's deadline
 *   (and a retry budget). It retries only what says "this upstream is busy or away right now":
 *   429, 502, 503, 504 (plus connect errors and timeouts before the first byte, always). A 500 is
 *   often this request's own fault on a model server, and the client is waiting: it gets the 500.
 *   Configurable per deployment (`retry.retryOnStatus`); this is its default.
 * - The worker retries asynchronously, minutes apart (the delay tiers below), with nobody
 *   waiting, and a job dead-lettered is work lost. So it also retries what may pass on a later
 *   try: 500 (a server fault), 408 (the upstream timed the request out) and 425 (too early).
 *
 * Both honour Retry-After on 429 and 503 (the proxy cools the upstream down, the worker picks a
 * delay tier at least that long).
 */
export const PROXY_RETRY_STATUSES: readonly number[] = [429, 502, 503, 504];

/** Statuses that mean "the upstream is busy or broken right now", not "your request is bad": the worker retries them later. */
export const WORKER_TRANSIENT_STATUSES: readonly number[] = [408, 425, 429, 500, 502, 503, 504];

/** Statuses whose Retry-After header the runtimes honour. */
export const RETRY_AFTER_STATUSES: readonly number[] = [429, 503];

/** The worker's delay tiers between retries of a job (the broker's delay queues; contract/queue-topology.ts). */
export const WORKER_RETRY_DELAYS_MS = RETRY_DELAYS_MS;

const workerTransient = new Set(WORKER_TRANSIENT_STATUSES);
const retryAfter = new Set(RETRY_AFTER_STATUSES);

/** Whether the worker retries a job whose model call got this status. */
export function isTransientStatus(status: number): boolean {
  return workerTransient.has(status);
}

/** Whether an answer with this status carries a Retry-After worth honouring. */
export function honoursRetryAfter(status: number): boolean {
  return retryAfter.has(status);
}
