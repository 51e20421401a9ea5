import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { PRIORITY_CLASSES } from '../../../contract/priority';
import type { UpstreamPool } from '../../common/upstream/upstream-pool';
import { systemClock, type TimerClock } from '../../common/clock';
import type { AdmissionConfig } from '../admission/config';
import { type AdmissionController, type Permit, type Shed } from '../admission/controller';
import { PoolAdmission, newReplicaId } from '../admission/pool-admission';
import { describeSilence } from '../admission/gauge-watch';
import { cacheability, requestCacheKey } from '../cache/request-key';
import { ResponseCache, type CachedResponse, type CacheHit, type CacheRedis } from '../cache/response-cache';
import { SingleFlight, type FlightResult } from '../cache/single-flight';
import { CanaryRouter } from '../canary';
import { RateLimiter } from '../ratelimit/rate-limiter';
import type { ScriptRunner } from '../ratelimit/redis-script';
import { estimateRequestTokens, reportedUsage } from '../ratelimit/tokens';
import type { LocalReply, RequestContext } from '../request-context';
import type { OverloadConfig } from './config';
import { OverloadMetrics } from './metrics';
import { rateLimitedReply } from './replies';
import { parseRequestTimeout } from './request-timeout';

/**
 * Overload control of the proxy, composed from the single-purpose modules (rate limiter,
 * response cache + single-flight, admission per pool, canary split). The request pipeline calls
 * these stages in order; each answers "continue" or a LocalReply. Nothing here knows the HTTP
 * server; everything time-based runs on the injected clock.
 */

export interface OverloadDeps {
  readonly config: OverloadConfig;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Shared Redis for rate limits and the L2 cache; undefined runs both locally. */
  readonly redis?: ScriptRunner & CacheRedis;
  /** Clock of admission, rate limiting and their timers. @default systemClock */
  readonly clock?: TimerClock;
  /**
   * Clock of cache entry ages, which replicas share through Redis: real time even when a test
   * moves the request clock by hand, so entries age as other replicas see them. @default systemClock
   */
  readonly cacheClock?: TimerClock;
}

/** What to do about a member whose capacity cannot be learned, in config paths (for its log line). */
function silentMemberFix(pool: UpstreamPool): string {
  const { name, config } = pool;
  const where = [...(config.upstreams.length > 0 ? ['upstreams'] : []), ...(config.discover.length > 0 ? ['discover'] : [])];
  const member = where.map((w) => `pools.${name}.${w}[].slots`).join(' or ');
  return `declare ${member} (the requests the server runs at once), or set admission.pools.${name}.saturation.enabled: false with admission.pools.${name}.adaptive.initial near its capacity`;
}

/** A permit of one pool of the chain: the request goes to that pool. */
export interface Admitted {
  readonly kind: 'permit';
  readonly permit: Permit;
  readonly pool: UpstreamPool;
}

/** A buffered answer for the cache path: an upstream response, or a reply made by the proxy. */
export type BufferedAnswer = { readonly kind: 'upstream'; readonly response: CachedResponse } | { readonly kind: 'local'; readonly reply: LocalReply; readonly shed?: boolean };

export class OverloadControl {
  readonly metrics: OverloadMetrics;
  readonly rateLimiter: RateLimiter;
  readonly cache: ResponseCache;
  readonly admission = new Map<string, AdmissionController>();
  private readonly flights: SingleFlight<BufferedAnswer>;
  private readonly canary: CanaryRouter;
  private readonly pools: PoolAdmission[] = [];
  private readonly clock: TimerClock;

  constructor(private readonly deps: OverloadDeps) {
    const { config, logger } = deps;
    this.clock = deps.clock ?? systemClock;
    this.metrics = new OverloadMetrics(deps.registry, () => this.admission);
    this.rateLimiter = new RateLimiter(config.rateLimit, deps.redis, this.clock, logger, {
      onModeChange: (mode) => this.metrics.rateLimitFallback.set(mode === 'local' ? 1 : 0),
      onDecision: (cls, d) => this.metrics.rateLimit.inc({ class: cls, source: d.source, allowed: String(d.allowed) }),
    });
    if (!deps.redis && config.rateLimit.enabled) this.metrics.rateLimitFallback.set(1);
    this.cache = new ResponseCache(config.cache, deps.cacheClock ?? systemClock, deps.redis, {
      onLookup: (r) => this.metrics.cacheLookups.inc({ result: r }),
    });
    this.flights = new SingleFlight<BufferedAnswer>(config.cache.singleFlight.maxWaiters);
    this.canary = new CanaryRouter(config.canary);
    if (config.admission.enabled) {
      const replicaId = newReplicaId();
      for (const [name, pool] of deps.pools) {
        const cfg: AdmissionConfig = config.admission.pools[name] ?? config.admission.defaults;
        // one label child per class, resolved once: every admitted request counts here
        const admitted = Object.fromEntries(PRIORITY_CLASSES.map((cls) => [cls, this.metrics.admittedTotal.labels({ pool: name, class: cls })]));
        const pa = new PoolAdmission(pool, cfg, {
          clock: this.clock,
          redis: deps.redis,
          replicaId,
          observer: {
            onShed: (cls, reason) => this.metrics.shed.inc({ pool: name, class: cls, reason }),
            onAdmit: (cls) => admitted[cls].inc(),
            onLimitChange: (limit, cause) => {
              this.metrics.limitChanges.inc({ pool: name, cause });
              logger.debug({ pool: name, limit, cause }, 'admission limit changed');
            },
          },
          onReplicasChange: (replicas) => logger.info({ pool: name, replicas }, 'proxy replicas sharing the pool changed'),
          onShareError: (err) => logger.debug({ pool: name, err: (err as Error).message }, 'replica heartbeat failed; keeping the last replica count'),
          capacityGauges: {
            onSilent: (u, reason, since) =>
              logger.warn(
                { pool: name, upstream: u.name, answered: describeSilence(reason), silentSince: new Date(since).toISOString(), fix: silentMemberFix(pool) },
                'pool member does not make its capacity known: its slots are not declared and its /metrics has no vLLM running/waiting gauges; the pool\'s limit cannot learn its capacity',
              ),
            onSpeaks: (u) => logger.info({ pool: name, upstream: u.name }, 'pool member exports vLLM running/waiting gauges now: its slots can be learned'),
            onCount: (n) => this.metrics.membersWithoutCapacityGauges.set({ pool: name }, n),
          },
        });
        if (cfg.saturation.enabled) this.metrics.membersWithoutCapacityGauges.set({ pool: name }, 0);
        this.admission.set(name, pa.controller);
        this.pools.push(pa);
      }
    }
  }

  start(): void {
    for (const p of this.pools) p.start();
  }

  stop(): void {
    for (const p of this.pools) p.stop();
  }

  /**
   * `X-Request-Timeout` (seconds, decimals allowed, or `<n>ms`) shortens the request deadline:
   * the client will not wait longer, so neither does the proxy. Without it, the class default of
   * the admission settings bounds only the wait for a slot (see `admit`), not a long stream.
   * Returns whether the client set a deadline.
   */
  applyDeadline(ctx: RequestContext): boolean {
    const timeoutMs = parseRequestTimeout(ctx.headers);
    if (timeoutMs === undefined) return false;
    ctx.deadline = Math.min(ctx.deadline, ctx.startedAt + timeoutMs);
    return true;
  }

  /**
   * Rate limit per (API key, class): a 429 reply when refused. Requests without an API key
   * (`auth: none`, local use) are not rate limited: there is nobody to hold to a quota; nor
   * are those of a key configured with `rateLimit: none`. A key with its own `rateLimit` is
   * held to it whatever the class.
   */
  rateLimit(ctx: RequestContext): Promise<LocalReply | undefined> | undefined {
    // synchronous when there is nothing to check: no promise and no microtask on the hot path
    if (!this.deps.config.rateLimit.enabled || ctx.key === undefined || ctx.key.rateLimit === 'none') return undefined;
    return this.checkRateLimit(ctx);
  }

  private async checkRateLimit(ctx: RequestContext): Promise<LocalReply | undefined> {
    const d = await this.rateLimiter.check(this.rateLimitRequest(ctx));
    if (d.allowed) return undefined;
    this.metrics.shed.inc({ pool: ctx.route.chain[0]?.name ?? 'none', class: ctx.priorityClass, reason: 'rate_limited' });
    return rateLimitedReply(ctx.priorityClass, d);
  }

  /**
   * For a non-streamed answer relayed as it arrives: listens to the body on the side (up to the
   * cache's `maxBodyBytes`) and, once it completed, corrects the token bucket with the reported
   * usage. Attach after the relay's own listener. Undefined when token limits are off.
   */
  tapUsage(ctx: RequestContext, body: Readable): ((outcome: 'complete' | 'error' | 'aborted') => void) | undefined {
    const rl = this.deps.config.rateLimit;
    if (!rl.enabled || !rl.tokens.enabled || ctx.key === undefined || ctx.stream) return undefined;
    const cap = this.deps.config.cache.maxBodyBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= cap) chunks.push(chunk);
    };
    body.on('data', onData);
    return (outcome) => {
      body.off('data', onData);
      if (outcome === 'complete' && size <= cap) this.correctUsage(ctx, Buffer.concat(chunks));
    };
  }

  /** Charges the token bucket with the usage the upstream reported (best effort). */
  correctUsage(ctx: RequestContext, body: Buffer): void {
    const rl = this.deps.config.rateLimit;
    if (!rl.enabled || !rl.tokens.enabled || ctx.key === undefined) return;
    let usage: number | undefined;
    try {
      usage = reportedUsage(JSON.parse(body.toString('utf8')));
    } catch {
      return;
    }
    if (usage !== undefined) void this.rateLimiter.correctTokens(this.rateLimitRequest(ctx), usage);
  }

  /**
   * Canary split: when the model has one, the chosen pool goes first in the chain (the others
   * stay as fallbacks). Returns the context to use and the variant for the response header.
   */
  routeCanary(ctx: RequestContext): { ctx: RequestContext; variant?: string; header: string } {
    const header = this.deps.config.canary.header;
    const user = ctx.userKey ?? ctx.key?.name;
    const choice = user === undefined ? undefined : this.canary.pick(ctx.model, user);
    if (!choice) return { ctx, header };
    const pool = this.deps.pools.get(choice.pool);
    this.metrics.canary.inc({ model: ctx.model, variant: choice.variant });
    if (!pool) return { ctx, variant: choice.variant, header };
    const chain = [pool, ...ctx.route.chain.filter((p) => p !== pool)];
    return { ctx: { ...ctx, route: { ...ctx.route, chain } }, variant: choice.variant, header };
  }

  /** The cache key when the request may be answered from the cache, else undefined. */
  cacheKey(ctx: RequestContext): string | undefined {
    const cfg = this.deps.config.cache;
    if (!cfg.enabled) return undefined;
    const opt = ctx.headers[cfg.optInHeader];
    if (!cacheability(ctx.json, Array.isArray(opt) ? opt[0] : opt).cacheable) return undefined;
    return requestCacheKey({ path: ctx.path, body: ctx.json as Record<string, unknown>, apiKey: ctx.key?.name, shareAcrossKeys: cfg.shareAcrossKeys });
  }

  async cached(key: string): Promise<CacheHit | undefined> {
    return this.cache.get(key);
  }

  /** Runs `work` once for identical concurrent cacheable requests. */
  async coalesce(key: string, work: () => Promise<BufferedAnswer>): Promise<FlightResult<BufferedAnswer>> {
    const cfg = this.deps.config.cache.singleFlight;
    const r = cfg.enabled ? await this.flights.run(key, work) : { value: await work(), role: 'leader' as const };
    this.metrics.coalesced.inc({ role: r.role });
    return r;
  }

  /** A stale answer for stale-if-error, counted by why it was needed. */
  async stale(key: string, reason: 'shed' | 'upstream_error'): Promise<CacheHit | undefined> {
    const hit = await this.cache.getStale(key);
    if (hit) this.metrics.staleServed.inc({ reason });
    return hit;
  }

  /**
   * Admission over the request's chain of pools: every pool is guarded by its own controller.
   * A slot free now in the first pool, else in a later one (a saturated region spills to the
   * others: other regions, then an external provider), else the request waits in the queue of
   * the first pool that has capacity at all; `low` neither spills nor waits anywhere but the
   * first pool. When that wait ends in a shed, the later pools get their chance before the
   * request is shed (low excepted). Pools in `exclude` (already failed this request) are
   * skipped, and so is a later pool none of whose members can take a request now (unreachable,
   * breaker open, cooling after a Retry-After). When none of the pools it may use has any capacity (all their members gone) it is
   * shed at once (`no_capacity`): there is nothing to wait for. Undefined when admission is off:
   * the dispatcher walks the whole chain.
   * With a client deadline the request must be able to finish by it; otherwise the class
   * default bounds its wait for a slot.
   */
  admit(ctx: RequestContext, exclude?: ReadonlySet<UpstreamPool>): Promise<Admitted | Shed> | undefined {
    if (this.admission.size === 0) return undefined;
    const guarded: { pool: UpstreamPool; ctl: AdmissionController }[] = [];
    for (const pool of ctx.route.chain) {
      const ctl = this.admission.get(pool.name);
      if (ctl && !exclude?.has(pool)) guarded.push({ pool, ctl });
    }
    if (guarded.length === 0) return undefined;
    const cls = ctx.priorityClass;
    // a later pool none of whose members may take a request now (breaker open after failures,
    // ejected, cooling after a Retry-After: an unreachable region; unhealthy by its health
    // checks: a region whose endpoint does not answer) is no place to spill to: the
    // attempt would fail, come back, and cost a retry of the budget; the route's first pool
    // keeps the dispatcher's last resort. `low` never leaves the route's first pool.
    const first = ctx.route.chain[0];
    const candidates =
      cls === 'low' ? guarded.filter((g) => g.pool === first) : guarded.filter((g) => g.pool === first || g.pool.hasAvailableMember());
    if (candidates.length === 0) return Promise.resolve(this.noCapacity(ctx, guarded[0]));
    for (const g of candidates) {
      const permit = g.ctl.tryAcquireNow(cls);
      if (permit) return Promise.resolve({ kind: 'permit', permit, pool: g.pool });
    }
    return this.waitForSlot(ctx, candidates);
  }

  private async waitForSlot(ctx: RequestContext, candidates: readonly { pool: UpstreamPool; ctl: AdmissionController }[]): Promise<Admitted | Shed> {
    const clientDeadline = parseRequestTimeout(ctx.headers) !== undefined;
    // the first pool with any capacity queues the request; a pool with none (no member serves) would only time it out
    const start = candidates.findIndex((g) => g.ctl.limit > 0);
    if (start === -1) return this.noCapacity(ctx, candidates[0]);
    let shed: Shed | undefined;
    for (const g of candidates.slice(start)) {
      const cfg = this.deps.config.admission.pools[g.pool.name] ?? this.deps.config.admission.defaults;
      const deadlineAt = clientDeadline ? ctx.deadline : Math.min(ctx.deadline, ctx.startedAt + cfg.classDeadlineMs[ctx.priorityClass]);
      const r = await g.ctl.acquire({ cls: ctx.priorityClass, deadlineAt, deadlineKind: clientDeadline ? 'finish' : 'start', signal: ctx.cancellation });
      if (r.kind === 'permit') return { kind: 'permit', permit: r, pool: g.pool };
      shed = r;
      if (r.reason === 'aborted' || r.reason === 'timeout') break;
    }
    return shed!;
  }

  /**
   * No pool the request may use has any capacity (every member of each gone: a region whose
   * model servers are all down, a spilled request there): shed at once, so the caller — a
   * client, or the spilling proxy of another region — moves on (its next pool, its own shed by
   * class) instead of waiting for a pod until the deadline. Retry-After is the first pool's.
   */
  private noCapacity(ctx: RequestContext, first: { pool: UpstreamPool; ctl: AdmissionController }): Shed {
    const cls = ctx.priorityClass;
    this.metrics.shed.inc({ pool: first.pool.name, class: cls, reason: 'no_capacity' });
    return { kind: 'shed', cls, reason: 'no_capacity', retryAfterSeconds: first.ctl.retryAfterSeconds(cls), queuedMs: 0 };
  }

  private rateLimitRequest(ctx: RequestContext) {
    const rl = this.deps.config.rateLimit;
    const own = ctx.key?.rateLimit;
    return {
      subject: ctx.key?.name ?? 'anonymous',
      cls: ctx.priorityClass,
      ...(own && own !== 'none' ? { requests: own } : {}),
      estimatedTokens: rl.tokens.enabled ? estimateRequestTokens(ctx.json, rl.tokens.defaultMaxTokens) : undefined,
    };
  }
}
