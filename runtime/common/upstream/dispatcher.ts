import { setTimeout as sleepTimer } from 'node:timers/promises';
import { SHED_HEADER, isClassShed } from '../../../contract/priority';
import { Cancellation } from '../cancellation';
import { Clock, RandomSource } from '../clock';
import { RetryConfig } from '../config/upstream';
import { honoursRetryAfter } from '../retry-policy';
import { backoffMs, parseRetryAfterMs } from '../backoff';
import { UpstreamEvents } from './events';
import { AttemptError, AttemptErrorKind, UpstreamReply } from './http-client';
import type { BreakerPermit } from './circuit-breaker';
import { RetryBudget, type RetryPermit } from './retry-budget';
import { Upstream } from './upstream';
import { UpstreamPool } from './upstream-pool';

/** One request to send over an ordered fallback chain of pools. */
export interface DispatchRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** Headers sent to every upstream (the upstream's own extra headers are added on top). */
  readonly headers: Readonly<Record<string, string>>;
  /** The body, or a function giving the body for a pool (e.g. a per-pool model name). */
  readonly body?: Buffer | string | ((pool: UpstreamPool) => Buffer | string);
  /** Pools in preference order: local pool, other region, external provider... */
  readonly chain: readonly UpstreamPool[];
  /** Attempts this dispatch may make at most (what is left of the request's own). @default retry.maxAttempts */
  readonly maxAttempts?: number;
  /**
   * Whether a 503/429 ("full") answer is retried on another member. The proxy turns this off
   * when admission guards the pool: admission then waits for a slot that is really free instead
   * of a blind retry on another member that is just as full. @default true
   */
  readonly retryWhenFull?: boolean;
  /** A further round of a request the retry budget already counted (not a new request). */
  readonly furtherRound?: boolean;
  /**
   * Whether, with no member of the chain available, the least recently failed one is tried
   * anyway (health checks and breakers can be wrong). The proxy turns this off for a pool
   * admission gave a slot in while the route has other pools to go to: a pool whose members
   * all failed or are gone sends the request back to admission and on to the next pool at
   * once, instead of into dead members with a backoff before each try. @default true
   */
  readonly lastResort?: boolean;
  /** Key for consistent hashing (user id or API key name). */
  readonly userKey?: string;
  /** Absolute time (dispatcher clock) after which the request is abandoned, streaming included. */
  readonly deadline: number;
  /** Aborted when the caller's client goes away. */
  readonly signal?: AbortSignal;
  /**
   * The caller's own cancellation, used instead of `signal`: the dispatcher aborts it itself once
   * the deadline passes (with a deadline reason), so a request costs one cancellation and no
   * listener. Default: the dispatcher makes a cancellation of its own that follows `signal`.
   */
  readonly cancellation?: Cancellation;
}

/** How the body of a returned response ended; reported through `UpstreamResponse.finish`. */
export type BodyOutcome = 'complete' | 'error' | 'aborted';

/** An upstream response whose headers arrived; the caller reads `body` and then calls `finish`. */
export interface UpstreamResponse extends UpstreamReply {
  readonly ok: true;
  readonly pool: UpstreamPool;
  readonly upstream: Upstream;
  /** Attempts made, this one included. */
  readonly attempts: number;
  /** Time from dispatch start to these headers (ms). */
  readonly ttfbMs: number;
  /** Aborted when the request deadline passes (the body then errors) or the caller aborts. */
  readonly cancellation: Cancellation;
  /** Must be called exactly once, after the body was consumed, failed or abandoned. */
  finish(outcome: BodyOutcome): void;
}

export type DispatchFailureReason =
  /** No pool in the chain had a member to try (all cooling down or already tried). */
  | 'no-upstream'
  /** Every attempt failed before response headers. */
  | 'upstream-error'
  /** The request deadline passed. */
  | 'deadline'
  /** The caller aborted. */
  | 'aborted'
  /**
   * The request could not be built or handed to the HTTP client (the body could not be
   * serialised, an argument was refused): nothing left for an upstream, so no upstream is blamed
   * (no breaker, outlier or retry accounting). The caller's input is at fault: `message` says why.
   */
  | 'request-error';

/** No response could be obtained. */
export interface DispatchFailure {
  readonly ok: false;
  readonly reason: DispatchFailureReason;
  readonly attempts: number;
  /** Kind of the last attempt's error, when there was one. */
  readonly lastErrorKind?: AttemptErrorKind;
  /** When upstreams asked to be left alone, how long until the first one accepts again (ms). */
  readonly retryAfterMs?: number;
  readonly pool?: string;
  readonly upstream?: string;
  /** Why the request could not be sent (`request-error` only). */
  readonly message?: string;
}

export type DispatchResult = UpstreamResponse | DispatchFailure;

export interface DispatcherDeps {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly events?: UpstreamEvents;
  /** Waits `ms` unless `signal` aborts first (then rejects). Injected by tests. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

class DeadlineExceeded extends Error {
  constructor() {
    super('request deadline exceeded');
    this.name = 'DeadlineExceeded';
  }
}

/**
 * Route -> breaker -> send -> retry over a fallback chain of pools. Shared by the proxy (client
 * requests) and the worker (jobs): it owns every resilience decision about upstreams and none
 * about clients.
 *
 * Per attempt: pick the first pool in the chain with an available member (healthy, not ejected,
 * not cooling, breaker admits) and let its balancer choose among them; if no member anywhere is
 * available, try the least recently failed one rather than refusing on the breakers' word. An
 * attempt that fails before response headers (connect error, timeout, reset) or answers with a
 * retryable status is retried on a different upstream while attempts, the retry budget and the
 * deadline allow, after a full-jitter backoff. An upstream `Retry-After` parks that upstream for
 * that long. The last retryable response is returned as is, so its status and Retry-After reach
 * the client.
 */
export class UpstreamDispatcher {
  readonly budget: RetryBudget;
  private readonly retryStatuses: ReadonlySet<number>;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;

  constructor(
    private readonly retry: RetryConfig,
    private readonly deps: DispatcherDeps,
  ) {
    this.budget = new RetryBudget(retry.budget, deps.clock);
    this.retryStatuses = new Set(retry.retryOnStatus);
    this.sleep = deps.sleep ?? ((ms, signal) => sleepTimer(ms, undefined, { signal }));
  }

  async dispatch(req: DispatchRequest): Promise<DispatchResult> {
    const { clock } = this.deps;
    const start = clock.now();
    const deadline = Math.min(req.deadline, start + (req.chain[0]?.config.timeouts.totalMs ?? Infinity));
    const { cancellation, unfollow } = req.cancellation ? { cancellation: req.cancellation, unfollow: undefined } : Cancellation.following(req.signal);
    const timer = setTimeout(() => cancellation.abort(new DeadlineExceeded()), Math.max(0, deadline - start));
    timer.unref?.();
    // A retry granted by the budget but never sent (nothing left to try, aborted) is returned.
    let retryPermit: RetryPermit | undefined;
    const cleanup = () => {
      retryPermit?.done();
      retryPermit = undefined;
      clearTimeout(timer);
      unfollow?.();
    };

    if (!req.furtherRound) this.budget.onRequest();
    const tried = new Set<Upstream>();
    let attempts = 0;
    let last: { pool: UpstreamPool; upstream: Upstream; reply?: UpstreamReply; error?: AttemptErrorKind } | undefined;

    for (;;) {
      if (cancellation.aborted) {
        cleanup();
        await discard(last?.reply);
        return this.failure(cancellation, attempts, last);
      }
      const choice = this.choose(req, tried);
      if (!choice) {
        if (last?.reply) {
          // nothing left to try: the last retryable answer goes to the caller, deadline still armed
          retryPermit?.done();
          retryPermit = undefined;
          return this.respond(last.pool, last.upstream, last.reply, attempts, start, cancellation, cleanup, false);
        }
        cleanup();
        return {
          ok: false,
          reason: attempts === 0 ? 'no-upstream' : 'upstream-error',
          attempts,
          lastErrorKind: last?.error,
          retryAfterMs: this.coolingRemaining(req.chain),
          pool: last?.pool.name,
          upstream: last?.upstream.name,
        };
      }
      const { pool, upstream, lastResort } = choice;
      let verdict: BreakerPermit;
      if (lastResort) {
        verdict = upstream.breaker.forceAcquire();
        this.deps.events?.onLastResort?.(pool.name, upstream.name);
      } else {
        const allowed = upstream.breaker.tryAcquire();
        if (!allowed) {
          tried.add(upstream);
          continue;
        }
        verdict = allowed;
      }
      // No await between the pick and `outstanding++` on a first attempt: requests admitted
      // together (a share that grew by five frees five permits in one pump) would all pick the
      // same member, each seeing the others' picks not yet counted.
      if (last?.reply) await discard(last.reply);
      // A failure before a byte leaves for the upstream is never the upstream's fault: the body
      // is built here, outside the attempt, and a failure to build it ends the dispatch with no
      // breaker, outlier or retry accounting (the breaker permit is handed back).
      let body: Buffer | string | undefined;
      try {
        body = typeof req.body === 'function' ? req.body(pool) : req.body;
      } catch (err) {
        verdict.cancel();
        return this.requestError(err, attempts, pool, cleanup);
      }
      tried.add(upstream);
      attempts++;
      const sent = retryPermit;
      retryPermit = undefined;
      upstream.outstanding++;
      let reply: UpstreamReply;
      try {
        reply = await pool.client(upstream).send({
          method: req.method,
          path: req.path,
          headers: upstream.hasHeaders ? { ...req.headers, ...upstream.headers } : req.headers,
          body,
          signal: cancellation,
        });
      } catch (err) {
        upstream.outstanding--;
        sent?.done();
        const kind = cancellation.aborted ? 'aborted' : err instanceof AttemptError ? err.kind : 'reset';
        if (kind === 'aborted') {
          verdict.cancel();
          cleanup();
          return this.failure(cancellation, attempts, { pool, upstream, error: kind });
        }
        if (kind === 'request') {
          // refused by the HTTP client before anything was sent: not the upstream's fault
          verdict.cancel();
          return this.requestError(err instanceof AttemptError ? err.cause : err, attempts - 1, pool, cleanup);
        }
        this.recordFailure(pool, upstream, verdict);
        if (kind === 'connect' && refused(err)) pool.markRefused(upstream);
        last = { pool, upstream, error: kind };
        retryPermit = await this.mayRetry(req, pool, upstream, kind, attempts, deadline, cancellation, tried);
        if (!retryPermit) {
          cleanup();
          return cancellation.aborted
            ? this.failure(cancellation, attempts, last)
            : { ok: false, reason: 'upstream-error', attempts, lastErrorKind: kind, pool: pool.name, upstream: upstream.name, retryAfterMs: this.coolingRemaining(req.chain) };
        }
        continue;
      }
      sent?.done();

      const status = reply.statusCode;
      const retryAfter = honoursRetryAfter(status) && !classShed(reply) ? parseRetryAfterMs(reply.headers['retry-after'], Date.now()) : undefined;
      if (honoursRetryAfter(status)) upstream.lastOverloadAt = clock.now();
      if (retryAfter !== undefined) upstream.coolingUntil = clock.now() + Math.min(retryAfter, this.retry.maxRetryAfterMs);
      if (status >= 500) this.recordFailure(pool, upstream, verdict);
      else if (status === 429) verdict.cancel();
      else this.recordSuccess(pool, upstream, verdict);

      if (this.retryStatuses.has(status) && (req.retryWhenFull !== false || (status !== 503 && status !== 429))) {
        upstream.outstanding--;
        last = { pool, upstream, reply };
        retryPermit = await this.mayRetry(req, pool, upstream, String(status), attempts, deadline, cancellation, tried);
        if (retryPermit) continue;
        upstream.outstanding++;
        if (cancellation.aborted) {
          upstream.outstanding--;
          cleanup();
          await discard(reply);
          return this.failure(cancellation, attempts, last);
        }
      }
      return this.respond(pool, upstream, reply, attempts, start, cancellation, cleanup, true);
    }
  }

  /** Picks the next upstream over the chain, or the least recently failed one as a last resort. */
  private choose(req: DispatchRequest, tried: ReadonlySet<Upstream>): { pool: UpstreamPool; upstream: Upstream; lastResort: boolean } | undefined {
    for (const pool of req.chain) {
      const candidates = pool.available(tried);
      if (candidates.length > 0) return { pool, upstream: pool.balancer.pick(candidates, req.userKey), lastResort: false };
    }
    if (req.lastResort === false) return undefined;
    const now = this.deps.clock.now();
    let best: { pool: UpstreamPool; upstream: Upstream } | undefined;
    for (const pool of req.chain) {
      for (const u of pool.members) {
        if (tried.has(u) || u.coolingUntil > now) continue;
        if (!best || u.lastFailureAt < best.upstream.lastFailureAt) best = { pool, upstream: u };
      }
    }
    return best && { ...best, lastResort: true };
  }

  private async mayRetry(
    req: DispatchRequest,
    pool: UpstreamPool,
    upstream: Upstream,
    reason: string,
    attempts: number,
    deadline: number,
    cancellation: Cancellation,
    tried: ReadonlySet<Upstream>,
  ): Promise<RetryPermit | undefined> {
    if (attempts >= Math.min(this.retry.maxAttempts, req.maxAttempts ?? Infinity) || cancellation.aborted) return undefined;
    if (!req.chain.some((p) => p.members.some((u) => u !== upstream))) return undefined;
    // without a last resort, nothing left to try ends the dispatch now, not after a backoff
    if (req.lastResort === false && !req.chain.some((p) => p.available(tried).length > 0)) return undefined;
    const permit = this.budget.tryAcquireRetry();
    if (!permit) {
      this.deps.events?.onRetryBudgetExhausted?.(pool.name);
      return undefined;
    }
    // a connect failure never reached the upstream: the next member is tried at once (nginx's
    // proxy_next_upstream), a backoff protects an upstream that answered or broke mid-request
    const wait = reason === 'connect' ? 0 : backoffMs(attempts - 1, { baseMs: this.retry.baseBackoffMs, capMs: this.retry.maxBackoffMs }, this.deps.random);
    if (this.deps.clock.now() + wait >= deadline) {
      permit.done();
      return undefined;
    }
    this.deps.events?.onRetry?.(pool.name, upstream.name, reason);
    if (wait > 0) {
      try {
        // the only AbortSignal of a request is made here, when a retry waits
        await this.sleep(wait, cancellation.signal);
      } catch {
        permit.done();
        return undefined;
      }
    }
    return permit;
  }

  /** A failure: the attempt's verdict, or (no permit) a body that broke after its headers counted. */
  private recordFailure(pool: UpstreamPool, upstream: Upstream, verdict?: BreakerPermit): void {
    upstream.lastFailureAt = this.deps.clock.now();
    if (verdict) verdict.failure();
    else upstream.breaker.onFailure();
    pool.outliers.onFailure(upstream);
  }

  private recordSuccess(pool: UpstreamPool, upstream: Upstream, verdict: BreakerPermit): void {
    verdict.success();
    pool.outliers.onSuccess(upstream);
  }

  private respond(
    pool: UpstreamPool,
    upstream: Upstream,
    reply: UpstreamReply,
    attempts: number,
    start: number,
    cancellation: Cancellation,
    cleanup: () => void,
    counted: boolean,
  ): UpstreamResponse {
    if (!counted) upstream.outstanding++;
    let finished = false;
    return {
      ok: true,
      pool,
      upstream,
      attempts,
      statusCode: reply.statusCode,
      headers: reply.headers,
      body: reply.body,
      ttfbMs: this.deps.clock.now() - start,
      cancellation,
      finish: (outcome: BodyOutcome) => {
        if (finished) return;
        finished = true;
        upstream.outstanding--;
        cleanup();
        if (outcome === 'error') this.recordFailure(pool, upstream);
      },
    };
  }

  private requestError(err: unknown, attempts: number, pool: UpstreamPool, cleanup: () => void): DispatchFailure {
    cleanup();
    const message = err instanceof RangeError ? 'the request body is nested too deeply to be re-encoded' : ((err as Error)?.message ?? String(err));
    return { ok: false, reason: 'request-error', attempts, pool: pool.name, message };
  }

  private failure(
    cancellation: Cancellation,
    attempts: number,
    last: { pool: UpstreamPool; upstream: Upstream; error?: AttemptErrorKind } | undefined,
  ): DispatchFailure {
    return {
      ok: false,
      reason: cancellation.reason instanceof DeadlineExceeded ? 'deadline' : 'aborted',
      attempts,
      lastErrorKind: last?.error,
      pool: last?.pool.name,
      upstream: last?.upstream.name,
    };
  }

  private coolingRemaining(chain: readonly UpstreamPool[]): number | undefined {
    const now = this.deps.clock.now();
    let min: number | undefined;
    for (const p of chain) for (const u of p.members) if (u.coolingUntil > now) min = Math.min(min ?? Infinity, u.coolingUntil - now);
    return min;
  }
}

/**
 * Whether a 503 is another surgeguard proxy's shed of this request's class (its queue for that
 * class is full, or the class cannot be served by its deadline): its Retry-After is for that
 * class, not for the member. Cooling the member on it would stop every class, critical
 * included, from reaching a region that still serves them (one shed medium request of a spill
 * held back the spilled critical ones). Only `no_capacity` (nothing serves there) is the
 * member's own state.
 */
function classShed(reply: UpstreamReply): boolean {
  return isClassShed(reply.headers[SHED_HEADER]);
}

/** Whether an attempt error is a refused connection: nothing listens at the member's address. */
function refused(err: unknown): boolean {
  const cause = err instanceof AttemptError ? err.cause : err;
  return (cause as { code?: string } | undefined)?.code === 'ECONNREFUSED';
}

async function discard(reply: UpstreamReply | undefined): Promise<void> {
  if (!reply) return;
  try {
    if (reply.body.dump) await reply.body.dump({ limit: 64 * 1024 });
    else reply.body.destroy();
  } catch {
    reply.body.destroy();
  }
}
