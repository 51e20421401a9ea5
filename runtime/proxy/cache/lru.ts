import type { Clock } from '../../common/clock';

export interface LruHit<V> {
  readonly value: V;
  /** Within its TTL. A stale hit is only served when stale-if-error allows. */
  readonly fresh: boolean;
  readonly storedAt: number;
}

/**
 * In-process LRU with TTL. Entries stay `staleMs` past their TTL so they can still be served
 * as stale answers; after that they are gone. Capacity counts fresh and stale entries.
 */
export class LruTtlCache<V> {
  private readonly map = new Map<string, { value: V; storedAt: number; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly staleMs: number,
    private readonly clock: Clock,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): LruHit<V> | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    const now = this.clock.now();
    if (now >= e.expiresAt + this.staleMs) {
      this.map.delete(key);
      return undefined;
    }
    this.map.delete(key);
    this.map.set(key, e);
    return { value: e.value, fresh: now < e.expiresAt, storedAt: e.storedAt };
  }

  /** Stores `value`; `storedAt` may be in the past (an entry copied from Redis keeps its age). */
  set(key: string, value: V, storedAt = this.clock.now()): void {
    this.map.delete(key);
    this.map.set(key, { value, storedAt, expiresAt: storedAt + this.ttlMs });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }
}
