import { createHash } from 'node:crypto';
import type { PriorityClass } from '../../../contract/priority';
import type { TimerClock } from '../../common/clock';
import type { BucketLimit, RateLimitConfig } from './config';
import { runTokenBucket, type ScriptRunner } from './redis-script';
import { adjust, scaleForReplicas, take, type BucketState } from './token-bucket';

/** Where a decision was made. */
export type DecisionSource = 'redis' | 'local' | 'fail_open' | 'disabled';

export interface RateLimitDecision {
  readonly allowed: boolean;
  readonly source: DecisionSource;
  /** Whole seconds until a retry would be allowed (0 when allowed). */
  readonly retryAfterSeconds: number;
  /** Requests left in the bucket after this decision (for `x-ratelimit-remaining-requests`). */
  readonly remainingRequests: number;
}

export interface RateLimitRequest {
  /** Who is limited: the API key (hashed before it reaches Redis) or another stable id. */
  readonly subject: string;
  readonly cls: PriorityClass;
  /** The subject's own request limit (all classes); undefined: `requests` of the class. */
  readonly requests?: BucketLimit;
  /** Estimated model tokens (prompt + max_tokens); used only when token limits are on. */
  readonly estimatedTokens?: number;
}

/** Minimal logger (pino-compatible). */
export interface RateLimitLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RateLimitObserver {
  /** Called when the limiter switches between the shared (Redis) and the local bucket. */
  onModeChange?(mode: 'redis' | 'local'): void;
  onDecision?(cls: PriorityClass, decision: RateLimitDecision): void;
}

class Timeout extends Error {}

/**
 * Token-bucket rate limiter per subject (the API key) across its classes, shared across replicas through one atomic
 * Redis script per decision. When Redis is slow (a decision exceeds `redis.timeoutMs`) or
 * down, the limiter falls back to local buckets holding 1/replicas of each limit, logs the
 * switch once, reports it to the observer (a metric), and tries Redis again every
 * `redis.retryIntervalMs`; the first decision that succeeds switches back. Classes in
 * `failOpenClasses` (critical by default) are let through while degraded. It never throws.
 */
export class RateLimiter {
  private degraded = false;
  private lastAttemptAt = -Infinity;
  private probing = false;
  private readonly local = new Map<string, { r?: BucketState; k?: BucketState }>();

  constructor(
    private readonly cfg: RateLimitConfig,
    private readonly redis: ScriptRunner | undefined,
    private readonly clock: TimerClock,
    private readonly logger?: RateLimitLogger,
    private readonly observer: RateLimitObserver = {},
  ) {
    if (!redis) this.degraded = true;
  }

  /** 'redis' while decisions are shared, 'local' while degraded. */
  get mode(): 'redis' | 'local' {
    return this.degraded ? 'local' : 'redis';
  }

  /**
   * The bucket key of a subject; the subject is hashed so API keys never reach Redis. One bucket
   * per key for every class: the class of a request sets the rate and burst it is taken with, so
   * cycling X-Priority values cannot multiply a key's limit (its total stays within the largest
   * limit of the classes it may use, see the key's `maxClass`).
   */
  keyFor(subject: string): string {
    const id = createHash('sha256').update(subject).digest('base64url').slice(0, 22);
    return `${this.cfg.redis.keyPrefix}${id}:all`;
  }

  async check(req: RateLimitRequest): Promise<RateLimitDecision> {
    const decision = await this.decide(req);
    this.observer.onDecision?.(req.cls, decision);
    return decision;
  }

  /**
   * Corrects the token bucket once the upstream reported real usage: `actualTokens` replaces
   * the estimate charged at admission (a refund when the answer was shorter). Best effort.
   */
  async correctTokens(req: RateLimitRequest, actualTokens: number): Promise<void> {
    if (!this.cfg.enabled || !this.cfg.tokens.enabled || req.estimatedTokens === undefined) return;
    const delta = actualTokens - req.estimatedTokens;
    if (delta === 0) return;
    const key = this.keyFor(req.subject);
    if (!this.degraded && this.redis) {
      try {
        await this.withTimeout(runTokenBucket(this.redis, key, this.scriptArgs(req, 0, delta, 'adjust')));
        return;
      } catch (err) {
        this.degrade(err);
      }
    }
    const entry = this.local.get(key);
    if (entry) entry.k = adjust(entry.k, this.localLimit(this.cfg.tokens.limits[req.cls]), this.clock.now(), delta);
  }

  private async decide(req: RateLimitRequest): Promise<RateLimitDecision> {
    if (!this.cfg.enabled) return { allowed: true, source: 'disabled', retryAfterSeconds: 0, remainingRequests: Infinity };
    const key = this.keyFor(req.subject);
    const tokenCost = this.cfg.tokens.enabled ? Math.max(0, req.estimatedTokens ?? 0) : 0;
    if (this.redis && (!this.degraded || this.shouldProbe())) {
      const probing = this.degraded;
      if (probing) this.probing = true;
      this.lastAttemptAt = this.clock.now();
      try {
        const r = await this.withTimeout(runTokenBucket(this.redis, key, this.scriptArgs(req, 1, tokenCost, 'take')));
        if (this.degraded) this.recover();
        return {
          allowed: r.allowed,
          source: 'redis',
          retryAfterSeconds: r.allowed ? 0 : Math.max(1, Math.ceil(r.retryAfterMs / 1000)),
          remainingRequests: Math.max(0, Math.floor(r.requestsLeft)),
        };
      } catch (err) {
        this.degrade(err);
      } finally {
        if (probing) this.probing = false;
      }
    }
    if (this.cfg.failOpenClasses.includes(req.cls)) {
      return { allowed: true, source: 'fail_open', retryAfterSeconds: 0, remainingRequests: 0 };
    }
    return this.decideLocally(key, req, tokenCost);
  }

  private decideLocally(key: string, req: RateLimitRequest, tokenCost: number): RateLimitDecision {
    const cls = req.cls;
    const now = this.clock.now();
    const entry = this.local.get(key) ?? {};
    const rLimit = this.localLimit(req.requests ?? this.cfg.requests[cls]);
    const r = take(entry.r, rLimit, now, 1);
    let allowed = r.allowed;
    let retryMs = r.retryAfterMs;
    let k: ReturnType<typeof take> | undefined;
    if (this.cfg.tokens.enabled) {
      k = take(entry.k, this.localLimit(this.cfg.tokens.limits[cls]), now, tokenCost);
      allowed = allowed && k.allowed;
      retryMs = Math.max(retryMs, k.retryAfterMs);
    }
    if (allowed) {
      entry.r = r.state;
      if (k) entry.k = k.state;
    }
    this.remember(key, entry);
    return {
      allowed,
      source: 'local',
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
      remainingRequests: Math.max(0, Math.floor(r.remaining)),
    };
  }

  private remember(key: string, entry: { r?: BucketState; k?: BucketState }): void {
    if (!this.local.has(key) && this.local.size >= 100_000) {
      // Bounded memory: forget the oldest bucket (Map keeps insertion order).
      const oldest = this.local.keys().next().value;
      if (oldest !== undefined) this.local.delete(oldest);
    }
    this.local.set(key, entry);
  }

  private localLimit(limit: BucketLimit): BucketLimit {
    return scaleForReplicas(limit, this.cfg.replicas);
  }

  private scriptArgs(req: RateLimitRequest, rCost: number, kCost: number, mode: 'take' | 'adjust') {
    const r = req.requests ?? this.cfg.requests[req.cls];
    const k = this.cfg.tokens.limits[req.cls];
    const tokensOn = this.cfg.tokens.enabled;
    return {
      rRate: r.ratePerSecond,
      rBurst: r.burst,
      rCost,
      kRate: tokensOn ? k.ratePerSecond : 0,
      kBurst: tokensOn ? k.burst : 0,
      kCost: tokensOn ? kCost : 0,
      mode,
    };
  }

  private shouldProbe(): boolean {
    return !this.probing && this.clock.now() - this.lastAttemptAt >= this.cfg.redis.retryIntervalMs;
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new Timeout(`redis decision exceeded ${this.cfg.redis.timeoutMs} ms`)), this.cfg.redis.timeoutMs);
      p.then(
        (v) => {
          this.clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private degrade(err: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.local.clear();
    this.logger?.warn(
      { err: err instanceof Error ? err.message : String(err), replicas: this.cfg.replicas },
      'rate limit: Redis unavailable, using local buckets scaled by replica count',
    );
    this.observer.onModeChange?.('local');
  }

  private recover(): void {
    this.degraded = false;
    this.logger?.info({}, 'rate limit: Redis reachable again, shared buckets restored');
    this.observer.onModeChange?.('redis');
  }
}
