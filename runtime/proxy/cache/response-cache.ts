import type { TimerClock } from '../../common/clock';
import type { CacheConfig } from './config';
import { LruTtlCache } from './lru';

/** A complete upstream answer as the cache keeps it. */
export interface CachedResponse {
  readonly status: number;
  /** Response headers worth replaying (content-type and the like; hop-by-hop removed by the caller). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type CacheLevel = 'l1' | 'l2';

export interface CacheHit {
  readonly response: CachedResponse;
  readonly level: CacheLevel;
  readonly fresh: boolean;
  /** Age in ms at lookup. */
  readonly ageMs: number;
}

/** The subset of an ioredis client (standalone or Cluster) the cache uses; one key per call. */
export interface CacheRedis {
  getBuffer(key: string): Promise<Buffer | null>;
  set(key: string, value: Buffer, px: 'PX', ms: number): Promise<unknown>;
}

export interface CacheObserver {
  onLookup?(result: 'hit_l1' | 'hit_l2' | 'miss' | 'stale'): void;
  onRedisError?(err: unknown): void;
}

/**
 * Two-level response cache: in-process LRU (L1) in front of Redis (L2). Freshness is judged on
 * the wall clock from the time the answer was stored, so an answer copied from Redis into L1
 * keeps its age. Both levels keep an answer `staleIfError.maxStaleMs` past its TTL for
 * stale-if-error. Redis problems never fail a request: a slow or failed lookup is a miss.
 *
 * Redis value layout: 8-byte big-endian storedAt (ms), 4-byte JSON header length, the JSON
 * `{status, headers}`, then the body bytes.
 */
export class ResponseCache {
  private readonly l1: LruTtlCache<CachedResponse>;

  constructor(
    private readonly cfg: CacheConfig,
    private readonly clock: TimerClock,
    private readonly redis?: CacheRedis,
    private readonly observer: CacheObserver = {},
  ) {
    const stale = cfg.staleIfError.enabled ? cfg.staleIfError.maxStaleMs : 0;
    this.l1 = new LruTtlCache<CachedResponse>(cfg.l1.maxEntries, cfg.l1.ttlMs, stale, clock);
  }

  /** A fresh answer, or undefined. Stale answers are not returned here (see `getStale`). */
  async get(key: string): Promise<CacheHit | undefined> {
    const hit = await this.lookup(key);
    if (hit?.fresh) {
      this.observer.onLookup?.(hit.level === 'l1' ? 'hit_l1' : 'hit_l2');
      return hit;
    }
    this.observer.onLookup?.('miss');
    return undefined;
  }

  /** Any answer still within its stale window, for stale-if-error. */
  async getStale(key: string): Promise<CacheHit | undefined> {
    if (!this.cfg.staleIfError.enabled) return undefined;
    const hit = await this.lookup(key);
    if (hit) this.observer.onLookup?.('stale');
    return hit;
  }

  /** Stores a complete 2xx answer in both levels (Redis best effort, not awaited by callers' latency). */
  async set(key: string, response: CachedResponse): Promise<void> {
    if (response.status < 200 || response.status >= 300 || response.body.length > this.cfg.maxBodyBytes) return;
    const storedAt = this.clock.now();
    this.l1.set(key, response, storedAt);
    if (!this.redis || !this.cfg.l2.enabled) return;
    const stale = this.cfg.staleIfError.enabled ? this.cfg.staleIfError.maxStaleMs : 0;
    try {
      await this.withTimeout(this.redis.set(this.redisKey(key), encode(response, storedAt), 'PX', this.cfg.l2.ttlMs + stale));
    } catch (err) {
      this.observer.onRedisError?.(err);
    }
  }

  private async lookup(key: string): Promise<CacheHit | undefined> {
    const now = this.clock.now();
    const local = this.l1.get(key);
    if (local?.fresh) return { response: local.value, level: 'l1', fresh: true, ageMs: now - local.storedAt };
    if (this.redis && this.cfg.l2.enabled) {
      try {
        const raw = await this.withTimeout(this.redis.getBuffer(this.redisKey(key)));
        if (raw) {
          const { response, storedAt } = decode(raw);
          const age = now - storedAt;
          const fresh = age < this.cfg.l2.ttlMs;
          if (fresh && age < this.cfg.l1.ttlMs) this.l1.set(key, response, storedAt);
          if (fresh || !local) return { response, level: 'l2', fresh, ageMs: age };
        }
      } catch (err) {
        this.observer.onRedisError?.(err);
      }
    }
    if (local) return { response: local.value, level: 'l1', fresh: false, ageMs: now - local.storedAt };
    return undefined;
  }

  private redisKey(key: string): string {
    return `${this.cfg.l2.keyPrefix}${key}`;
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = this.clock.setTimeout(() => reject(new Error(`cache: redis exceeded ${this.cfg.l2.timeoutMs} ms`)), this.cfg.l2.timeoutMs);
      p.then(
        (v) => {
          this.clock.clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          this.clock.clearTimeout(t);
          reject(e);
        },
      );
    });
  }
}

export function encode(r: CachedResponse, storedAt: number): Buffer {
  const head = Buffer.from(JSON.stringify({ status: r.status, headers: r.headers }));
  const prefix = Buffer.alloc(12);
  prefix.writeBigInt64BE(BigInt(Math.floor(storedAt)), 0);
  prefix.writeUInt32BE(head.length, 8);
  return Buffer.concat([prefix, head, r.body]);
}

export function decode(raw: Buffer): { response: CachedResponse; storedAt: number } {
  if (raw.length < 12) throw new Error('cache: truncated entry');
  const storedAt = Number(raw.readBigInt64BE(0));
  const headLen = raw.readUInt32BE(8);
  if (raw.length < 12 + headLen) throw new Error('cache: truncated entry');
  const head = JSON.parse(raw.subarray(12, 12 + headLen).toString('utf8')) as { status: number; headers: Record<string, string> };
  return { response: { status: head.status, headers: head.headers, body: raw.subarray(12 + headLen) }, storedAt };
}
