import type { TimerClock, TimerHandle } from '../../common/clock';
import type { ScriptRunner } from '../ratelimit/redis-script';

/**
 * Renews this replica's presence in one sorted set per pool (score: Redis server time) and
 * answers the replicas present, sorted. Keys expire with the set's last heartbeat.
 *
 * KEYS[1]  the pool's replica set
 * ARGV     replica id, expiry ms
 * returns  the ids of the replicas heard of within the expiry, sorted
 */
export const REPLICA_HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - expiry)
redis.call('PEXPIRE', KEYS[1], expiry * 2)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

export interface ReplicaShareOptions {
  readonly redis: ScriptRunner;
  /** Key of the pool's replica set (the client adds its key prefix). */
  readonly key: string;
  /** This replica's id, unique among the replicas (pod name + process start). */
  readonly id: string;
  readonly heartbeatMs: number;
  readonly expiryMs: number;
  readonly clock: TimerClock;
  readonly onChange?: (replicas: number) => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * Replica `rank`'s part of each member's slots, `slots` in the members' common order (by name):
 * the pool's slots are dealt round robin to the replicas (slot i to replica i mod n), so the
 * parts of one member over the replicas add up to its slots, and the parts of one replica over
 * the members add up to its share of the pool (`ReplicaShare.shareOf`, less its floor of one).
 * A replica that keeps each member within its part never makes a member queue or refuse while
 * the pool has free slots, whatever the other replicas do within theirs.
 */
export function memberShares(slots: readonly number[], rank: number, replicas: number): number[] {
  // slots among the first x of the pool that go to `rank`: rank, rank + replicas, ... below x
  // (none while x <= rank, as rank < replicas)
  const dealt = (x: number) => Math.ceil((x - rank) / replicas);
  const out: number[] = [];
  let offset = 0;
  for (const s of slots) {
    out.push(dealt(offset + s) - dealt(offset));
    offset += s;
  }
  return out;
}

/**
 * How proxy replicas share a pool's capacity: each one renews its presence in Redis every
 * `heartbeatMs` and takes `floor(capacity / n)` slots, the first `capacity mod n` replicas (by
 * id) one more, so the shares add up to exactly the capacity. A replica that dies drops out
 * after `expiryMs` and the others take its share; a replica that starts counts from its first
 * heartbeat. When Redis cannot be reached, the last known count holds (a replica that joins
 * or leaves meanwhile is not seen: the upstreams' own 503s and waiting queue correct the
 * excess); a replica that never reached Redis counts itself alone.
 */
export class ReplicaShare {
  private ids: readonly string[];
  private timer: TimerHandle | undefined;
  private stopped = true;

  constructor(private readonly opts: ReplicaShareOptions) {
    this.ids = [opts.id];
  }

  /** Replicas counted now (this one included). */
  get replicas(): number {
    return this.ids.length;
  }

  /** This replica's place among the replicas counted now (by id), from 0. */
  get rank(): number {
    return Math.max(0, this.ids.indexOf(this.opts.id));
  }

  /** This replica's slots of `capacity`. At least one while there is any capacity. */
  shareOf(capacity: number): number {
    if (capacity <= 0) return 0;
    const n = this.ids.length;
    const rank = this.rank;
    const share = Math.floor(capacity / n) + (rank < capacity % n ? 1 : 0);
    return Math.max(1, share);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.beat();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat: renews this replica and reads the others. */
  async beat(): Promise<void> {
    try {
      const raw = (await this.opts.redis.eval(REPLICA_HEARTBEAT_LUA, 1, this.opts.key, this.opts.id, this.opts.expiryMs)) as unknown[];
      const ids = raw.map(String);
      if (!ids.includes(this.opts.id)) ids.push(this.opts.id);
      ids.sort(); // Redis answers by heartbeat time; the shares go by id
      const before = this.ids.length;
      this.ids = ids;
      if (ids.length !== before) this.opts.onChange?.(ids.length);
    } catch (err) {
      this.opts.onError?.(err);
    } finally {
      if (!this.stopped) this.timer = this.opts.clock.setTimeout(() => void this.beat(), this.opts.heartbeatMs);
    }
  }
}
