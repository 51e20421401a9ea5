import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../common/clock';
import type { BodyOutcome, DispatchResult, UpstreamDispatcher } from '../../common/upstream/dispatcher';
import type { UpstreamPool } from '../../common/upstream/upstream-pool';
import { SHED_HEADER, isClassShed } from '../../../contract/priority';
import type { Shed } from '../admission/controller';
import type { ProxyConfig } from '../config';
import type { ProxyMetrics } from '../metrics';
import type { RequestContext } from '../request-context';
import type { OverloadControl } from './control';
import { releaseOutcome } from './release-outcome';

/** What the sender needs of the proxy. */
export interface ReadmissionDeps {
  readonly config: ProxyConfig;
  readonly clock: Clock;
  readonly dispatcher: UpstreamDispatcher;
  readonly metrics: ProxyMetrics;
}

/** The parts of a request's record the sender fills in for its metrics and access log. */
export interface SendRecord {
  pool: string;
  upstream: string;
  attempts: number;
}

/** What `send` ends with: shed by admission, or the dispatcher's result and how to give the slot back. */
export type SendOutcome = { kind: 'shed'; shed: Shed } | { kind: 'sent'; result: DispatchResult; release: (outcome?: BodyOutcome) => void };

/**
 * admission -> dispatch with re-admission: the request path's "send" step (see
 * request-pipeline.ts), apart from the order of decisions so that the pipeline reads on one screen.
 */
export class ReadmittingSender {
  constructor(private readonly deps: ReadmissionDeps) {}

  /**
   * admission -> dispatch, over the chain of pools. Each attempt goes to the pool admission gave
   * a slot in. When the pool answers "full" (503/429 from every member tried) or cannot be
   * reached at all, and the deadline leaves time, the slot is given back (the limit learns from
   * it) and the request goes back to admission — the same pool when it refused for being full,
   * the next ones when it failed — instead of taking the upstream's 503 to the client while
   * capacity exists elsewhere or a moment later. Upstream attempts over all rounds stay within
   * `retry.maxAttempts`, and each round back is a retry the retry budget must allow.
   * `release` must be called with the body outcome once a response was relayed.
   */
  async send(
    overload: OverloadControl | undefined,
    ctx: RequestContext,
    record: SendRecord,
  ): Promise<SendOutcome> {
    const failed = new Set<UpstreamPool>();
    let attempts = 0;
    for (;;) {
      const admitted = await overload?.admit(ctx, failed);
      if (admitted?.kind === 'shed') {
        record.pool = ctx.route.chain.find((p) => !failed.has(p))?.name ?? ctx.route.chain[0]?.name ?? 'none';
        record.attempts = attempts;
        return { kind: 'shed', shed: admitted };
      }
      const chain = admitted ? [admitted.pool] : ctx.route.chain;
      // with another pool of the route left, a pool whose members all failed sends the request
      // back here (and on) rather than into its dead members as a last resort
      const elsewhere = admitted !== undefined && ctx.route.chain.some((p) => p !== admitted.pool && !failed.has(p));
      const sentAt = this.deps.clock.now();
      const result = await this.dispatch(ctx, chain, this.deps.config.retry.maxAttempts - attempts, admitted === undefined, attempts > 0, !elsewhere);
      attempts += result.attempts;
      record.attempts = attempts;
      const permit = admitted?.permit;
      const release = (outcome?: BodyOutcome) => permit?.release(releaseOutcome(result, this.deps.clock.now() - sentAt, outcome));
      const again = admitted !== undefined && attempts < this.deps.config.retry.maxAttempts && !ctx.cancellation.aborted && this.deps.clock.now() < ctx.deadline;
      if (result.ok) {
        record.pool = result.pool.name;
        record.upstream = result.upstream.name;
        // another region's proxies shed this request's class: not again there (its Retry-After is
        // that class's); the route's next pool, else that 503 goes to the caller
        const classShed = again && result.statusCode === 503 && isClassShed(result.headers[SHED_HEADER]);
        if (classShed) failed.add(admitted.pool);
        if (
          again &&
          (result.statusCode === 503 || result.statusCode === 429) &&
          (classShed || this.coolWait(admitted.pool) !== undefined) &&
          this.mayReadmit(ctx, classShed ? undefined : admitted.pool, failed)
        ) {
          await result.body.dump?.({ limit: 64 * 1024 }).catch(() => undefined);
          result.finish('complete');
          release('complete');
          if (!failed.has(admitted.pool)) await this.untilCooled(admitted.pool, ctx);
          continue;
        }
        return { kind: 'sent', result, release };
      }
      record.pool = result.pool ?? chain[0]?.name ?? 'none';
      record.upstream = result.upstream ?? 'none';
      release();
      if (again && result.reason === 'no-upstream' && this.coolWait(admitted.pool) !== undefined && this.mayReadmit(ctx, admitted.pool, failed)) {
        // every member asked to be left alone for a while (Retry-After): as good as full
        if (!failed.has(admitted.pool)) await this.untilCooled(admitted.pool, ctx);
        continue;
      }
      if (again && (result.reason === 'upstream-error' || (result.reason === 'no-upstream' && elsewhere))) {
        // it failed, or no member of it can be tried (all gone, failed or unhealthy): the next pools
        failed.add(admitted.pool);
        if (this.mayReadmit(ctx, undefined, failed)) continue;
      }
      return { kind: 'sent', result, release: () => undefined };
    }
  }

  /**
   * Whether a request a pool answered "full" (`full`) or failed goes back to admission: a later
   * pool of the chain is left (then the full pool is skipped: a saturated pool spills), or the
   * full pool itself has a member to take it once a slot frees; and the retry budget allows it,
   * so going round cannot amplify an overload.
   */
  private mayReadmit(ctx: RequestContext, full: UpstreamPool | undefined, failed: Set<UpstreamPool>): boolean {
    if (full) {
      const others = ctx.route.chain.some((p) => p !== full && !failed.has(p));
      if (others || !full.hasServingMember()) failed.add(full);
    }
    if (!ctx.route.chain.some((p) => !failed.has(p))) return false;
    const budget = this.deps.dispatcher.budget;
    const permit = budget.tryAcquireRetry();
    if (!permit) {
      this.deps.metrics.onRetryBudgetExhausted((full ?? ctx.route.chain[0]).name);
      return false;
    }
    permit.done();
    return true;
  }

  /**
   * How long until a serving member of `pool` takes requests again after asking to be left
   * alone (Retry-After): 0 when one does now; undefined when none does within
   * `retry.baseBackoffMs` — a longer Retry-After is a real "come back later" (a provider's
   * quota), passed on to the caller with its value rather than waited out.
   */
  private coolWait(pool: UpstreamPool): number | undefined {
    const now = this.deps.clock.now();
    let soonest = Infinity;
    for (const u of pool.members) if (pool.isServing(u)) soonest = Math.min(soonest, Math.max(0, u.coolingUntil - now));
    return soonest <= this.deps.config.retry.baseBackoffMs ? soonest : undefined;
  }

  /** Waits (holding no slot) until a member of `pool` takes requests again, within the request's deadline. */
  private async untilCooled(pool: UpstreamPool, ctx: RequestContext): Promise<void> {
    const wait = Math.min(this.coolWait(pool) ?? 0, ctx.deadline - this.deps.clock.now());
    if (!(wait > 0)) return;
    await sleep(wait, undefined, { signal: ctx.cancellation.signal }).catch(() => undefined);
  }

  /**
   * route -> breaker -> send -> retry (dispatcher). `ctx.cancellation` is the request's own (the
   * client's, or the shared one of a coalesced fetch), so the dispatcher aborts it itself when
   * the deadline passes instead of following it with a cancellation of its own.
   */
  private dispatch(ctx: RequestContext, chain: readonly UpstreamPool[] = ctx.route.chain, maxAttempts?: number, retryWhenFull = true, furtherRound = false, lastResort = true): Promise<DispatchResult> {
    // the class it is served at: a proxy upstream (another region's) serves it at the same class
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': ctx.requestId, 'x-priority': ctx.priorityClass };
    if (ctx.stream) headers.accept = 'text/event-stream';
    return this.deps.dispatcher.dispatch({
      method: 'POST',
      path: ctx.path,
      headers,
      body: ctx.route.aliases.size === 0 ? ctx.body : aliasedBody(ctx),
      chain,
      maxAttempts,
      retryWhenFull,
      furtherRound,
      lastResort,
      userKey: ctx.userKey,
      deadline: ctx.deadline,
      cancellation: ctx.cancellation,
    });
  }
}

/** The request body per pool, with the model renamed where the pool knows it by another name. */
function aliasedBody(ctx: RequestContext): (pool: UpstreamPool) => Buffer {
  const cache = new Map<UpstreamPool, Buffer>();
  return (pool) => {
    const alias = ctx.route.aliases.get(pool);
    if (alias === undefined) return ctx.body;
    let body = cache.get(pool);
    if (!body) {
      body = Buffer.from(JSON.stringify({ ...ctx.json, model: alias }));
      cache.set(pool, body);
    }
    return body;
  };
}
