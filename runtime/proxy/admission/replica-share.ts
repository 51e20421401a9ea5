import { PRIORITY_CLASSES, type PriorityClass } from '../../../contract/priority';
import type { TimerClock, TimerHandle } from '../../common/clock';
import type { ScriptRunner } from '../ratelimit/redis-script';
import { allocateShares, dealMemberParts, roundRobinParts, shortfallThrough, type ClassDemand, type ReplicaView } from './replica-allocation';

/**
 * Presence (kept as it was, so replicas of an older version count the newer ones and back).
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

/**
 * Demand and member parts: one hash per pool (field: replica id; value: a first line `time
 * critical high medium low`, then one line `member<TAB>part<TAB>in flight` per member), a
 * separate key from the presence set because in cluster mode one script may touch only one
 * key's slot. Atomically: drops the entries not renewed within the expiry; grants this replica,
 * member by member, the part it wants as far as the member's slots are free of what the others
 * hold there (each its part or its requests in flight on the member, whichever is more) and of
 * what replicas of an older version take; stores its parts, its requests in flight per member
 * and its demand. A replica sends a member no more than its part until its next heartbeat, so
 * what the replicas hold on a member never adds up to more than its slots, whatever their views.
 *
 * KEYS[1]  the pool's share hash
 * ARGV     replica id, expiry ms, demand ("c h m l"), members: one line each,
 *          `name<TAB>slots<TAB>reserved<TAB>wanted<TAB>in flight`
 * returns  { this replica's entry, id, entry, id, entry, ... } of the other replicas alive
 */
export const REPLICA_SHARES_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local held = {}
local out = {''}
for i = 1, #all, 2 do
  local id, e = all[i], all[i + 1]
  local at = tonumber(string.match(e, '^(%d+) '))
  if at == nil or now - at > expiry then
    redis.call('HDEL', KEYS[1], id)
  elseif id ~= ARGV[1] then
    for name, g, f in string.gmatch(e, '\\n([^\\t\\n]+)\\t(%d+)\\t(%d+)') do
      held[name] = (held[name] or 0) + math.max(tonumber(g), tonumber(f))
    end
    out[#out + 1] = id
    out[#out + 1] = e
  end
end
local mine = string.format('%d %s', now, ARGV[3])
for name, slots, reserved, want, f in string.gmatch(ARGV[4], '([^\\t\\n]+)\\t(%d+)\\t(%d+)\\t(%d+)\\t(%d+)') do
  local free = tonumber(slots) - tonumber(reserved) - (held[name] or 0)
  local g = math.max(0, math.min(tonumber(want), free))
  mine = mine .. string.format('\\n%s\\t%d\\t%d', name, g, tonumber(f))
end
redis.call('HSET', KEYS[1], ARGV[1], mine)
redis.call('PEXPIRE', KEYS[1], expiry * 2)
out[1] = mine
return out
`;

/**
 * A replica's share of a pool of `capacity` slots whose parts add up to `parts`: at least one
 * slot while the pool has any, so a replica granted none still admits a first request.
 */
export function shareFromParts(capacity: number, parts: number): number {
  return capacity > 0 ? Math.max(1, parts) : 0;
}

/** A serving member of the pool with known slots, and this replica's requests in flight on it. */
export interface ShareMember {
  readonly name: string;
  readonly slots: number;
  readonly inflight: number;
}

/** Slots by which the allocation must differ from a replica's share to move it (see `wanted`). */
const MOVE_THRESHOLD = 2;

const NO_DEMAND: ClassDemand = { critical: 0, high: 0, medium: 0, low: 0 };

export interface ReplicaShareOptions {
  readonly redis: ScriptRunner;
  /** Key of the pool's replica set (the client adds its key prefix); the share hash is `<key>:shares`. */
  readonly key: string;
  /** This replica's id, unique among the replicas (pod name + process start). */
  readonly id: string;
  readonly heartbeatMs: number;
  readonly expiryMs: number;
  readonly clock: TimerClock;
  /**
   * The pool's serving members with known slots, in their common order (by name), with this
   * replica's requests in flight on each; undefined while the capacity is not known.
   */
  readonly members?: () => readonly ShareMember[] | undefined;
  /**
   * Share by demand (publish demand, ask Redis for parts); otherwise presence only, equal shares
   * and round-robin parts. @default true
   */
  readonly byDemand?: boolean;
  /** This replica's demand per class now (in flight + queued). @default none (an idle replica) */
  readonly demand?: () => ClassDemand;
  /** The replica count changed. */
  readonly onChange?: (replicas: number) => void;
  /** This replica's parts may have changed (a heartbeat answered). */
  readonly onShareChange?: () => void;
  readonly onError?: (err: unknown) => void;
}

/** A replica's entry in the share hash: its demand, its part of each member and its requests in flight there. */
interface Entry {
  readonly demand: ClassDemand;
  readonly parts: ReadonlyMap<string, number>;
  readonly inflight?: ReadonlyMap<string, number>;
}

function parseEntry(raw: string): Entry | undefined {
  const [first, ...lines] = raw.split('\n');
  const f = first.split(' ').map(Number);
  if (f.length < 5 || f.some((x) => !Number.isFinite(x))) return undefined;
  const parts = new Map<string, number>();
  const inflight = new Map<string, number>();
  for (const line of lines) {
    const [name, part, busy] = line.split('\t');
    const n = Number(part);
    if (name && Number.isFinite(n)) {
      parts.set(name, n);
      const b = Number(busy);
      if (Number.isFinite(b)) inflight.set(name, b);
    }
  }
  return { demand: { critical: f[1], high: f[2], medium: f[3], low: f[4] }, parts, inflight };
}

/**
 * How proxy replicas share a pool's capacity: by demand, in class order, member by member,
 * through Redis.
 *
 * Every `heartbeatMs` a replica renews its presence (`REPLICA_HEARTBEAT_LUA`), then publishes
 * its demand per class (in flight + queued) and asks for its part of each member
 * (`REPLICA_SHARES_LUA`; two keys, one script each: in cluster mode one script may touch one
 * slot only). What it asks for: `allocateShares` of the pool's slots over the view of its last
 * heartbeat (the others' demand and shares) with its own demand now (critical demand of all
 * replicas first, then high, medium, low, a floor of one slot each, the rest back where it was),
 * dealt over the members by those shares (`dealMemberParts`) for a first grant, later by moving
 * the parts it holds (`moved`: the slots free soonest first). Redis grants each part as far as
 * the others leave the member free (their parts, or their requests in flight there where more),
 * so a replica takes a slot only once the one holding it gave it up (lowered its part, finished
 * the requests beyond it, said so): what the replicas hold on a member never adds up to more
 * than its slots, whatever their views. While a hand-over is in progress (a part asked for and
 * not granted, or requests in flight beyond a part) or any replica wants more than its share,
 * the replica beats ten times as often.
 *
 * Class order across the replicas (`lend`): when a slot frees at this replica and its next
 * waiter's class is less urgent than work another replica is short of (as last heard of), the
 * slot is given up at once (its part one lower, published at once) instead of waiting for the
 * allocation at the next heartbeat and the giver's requests to finish: a critical surge at one
 * replica takes the next slot that frees at any replica, about what one global priority queue
 * would give, plus a Redis round trip and the taker's next (fast) heartbeat.
 *
 * Between heartbeats the parts hold; a member lost takes its part with it at once; a member
 * added is shared equally (slot i to replica i mod n) until the next heartbeat. A replica that
 * dies drops out after `expiryMs`, its parts with it. A replica of an older version (presence,
 * no demand) keeps the equal round-robin parts it computes itself, which the others leave it.
 * When Redis cannot be reached the last parts hold for `expiryMs` (what the other replicas still
 * count for this one), then this replica takes the equal parts of the last count; a replica
 * that never reached Redis counts itself alone.
 *
 * With `byDemand: false` (`shareBy: equal`, the default) only the presence is kept: equal shares
 * and round-robin parts, as every replica computes them from the count alone.
 */
export class ReplicaShare {
  private ids: readonly string[];
  private timer: TimerHandle | undefined;
  private stopped = true;
  /** The other replicas' entries, from the last answered heartbeat. */
  private others = new Map<string, Entry>();
  /** This replica's parts as last granted, and when. */
  private mine: { parts: ReadonlyMap<string, number>; at: number } | undefined;
  /** Whether the last heartbeat left a hand-over in progress (the next one comes sooner). */
  private handingOver = false;
  /** Whether the last heartbeat saw a replica (this one or another) with more demand than its share. */
  private short = false;
  /** Slots lent since the last answered heartbeat (see `lend`), by member, not published yet. */
  private lentTo: string[] = [];
  /** Whether a heartbeat is waiting for Redis; `again`: one more is due as soon as it is answered. */
  private beating = false;
  private again = false;
  /** When the last heartbeat started. */
  private lastBeatAt = -Infinity;
  /** Bumped whenever what `partsOf` answers may have changed. */
  private versionCounter = 0;

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

  /** Changes whenever the parts this replica answers may have changed (for callers that cache). */
  get version(): number {
    return this.versionCounter;
  }

  /** The slots Redis last granted this replica over all members, if it answered. */
  get granted(): number | undefined {
    if (!this.mine) return undefined;
    let n = 0;
    for (const p of this.mine.parts.values()) n += p;
    return n;
  }

  /** The last grant, while recent enough to use (else: equal parts). */
  private current(): ReadonlyMap<string, number> | undefined {
    const m = this.mine;
    if (!m || this.opts.clock.now() - m.at > this.opts.expiryMs) return undefined;
    return m.parts;
  }

  /**
   * This replica's part of each member's slots (`members` in their common order): as granted,
   * a member granted nothing yet (added since) its equal round-robin part, every member its
   * equal part while the grant is stale or was never had (Redis unreachable).
   */
  partsOf(members: readonly { readonly name: string; readonly slots: number }[]): number[] {
    const slots = members.map((m) => Math.max(0, m.slots));
    const equal = roundRobinParts(slots, this.rank, this.ids.length);
    const granted = this.current();
    if (!granted) return equal;
    return members.map((m, i) => {
      const g = granted.get(m.name);
      return g === undefined ? equal[i] : Math.min(g, slots[i]);
    });
  }

  /** This replica's share of the pool: its parts of `members`, at least one slot while any. */
  shareOf(members: readonly { readonly name: string; readonly slots: number }[]): number {
    const capacity = members.reduce((n, m) => n + Math.max(0, m.slots), 0);
    return shareFromParts(capacity, this.partsOf(members).reduce((a, b) => a + b, 0));
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

  /** A replica's share of `members` as its entry says (its parts of them). */
  private static held(e: Entry | undefined, members: readonly ShareMember[]): number | undefined {
    if (!e || e.parts.size === 0) return undefined;
    return members.reduce((n, m) => n + Math.min(m.slots, e.parts.get(m.name) ?? 0), 0);
  }

  /**
   * The parts this replica asks for, member by member, and the slots of each member left to the
   * replicas of an older version (their equal round-robin parts).
   */
  private wanted(members: readonly ShareMember[], demand: ClassDemand): { want: number[]; reserved: number[] } {
    const slots = members.map((m) => Math.max(0, m.slots));
    const capacity = slots.reduce((a, b) => a + b, 0);
    const ids = [...new Set([...this.ids, ...this.others.keys(), this.opts.id])].sort();
    // a replica publishing no parts (an older version, or one whose capacity is not known) takes
    // its equal share: the allocation gives it that, and its round-robin parts are left to it
    const legacy = (id: string) => id !== this.opts.id && !(this.others.get(id)?.parts.size);
    const reserved = slots.map(() => 0);
    ids.forEach((id, rank) => {
      if (!legacy(id)) return;
      roundRobinParts(slots, rank, ids.length).forEach((p, i) => (reserved[i] += p));
    });
    const granted = this.current();
    const kept = granted ? ReplicaShare.held({ demand, parts: granted }, members) : undefined;
    const view: ReplicaView[] = ids.map((id) => {
      if (id === this.opts.id) return { id, demand, current: kept };
      const e = this.others.get(id);
      return legacy(id) ? { id } : { id, demand: e!.demand, current: ReplicaShare.held(e, members) };
    });
    const shares = allocateShares(capacity, view);
    const target = shares.get(this.opts.id) ?? 0;
    // this replica's part of the deal of the slots left free of the older replicas' parts, by the
    // shares of the replicas that publish theirs (legacy ones weigh nothing here)
    const free = slots.map((s, i) => s - reserved[i]);
    const mineDealt = dealMemberParts(
      free,
      ids.map((id) => (legacy(id) ? 0 : (shares.get(id) ?? 0))),
    )[ids.indexOf(this.opts.id)];
    if (granted && kept !== undefined && members.every((m) => granted.has(m.name))) {
      // one slot above the allocation is kept (no hand-over for one slot) unless the slot serves
      // work less urgent than a shortfall elsewhere (class order across the replicas)
      const owesOne = target - kept === -1 && this.owes(undefined, members, granted);
      return { want: this.moved(members, granted, reserved, owesOne ? -MOVE_THRESHOLD : target - kept, mineDealt, target - kept), reserved };
    }
    return { want: mineDealt, reserved };
  }

  /**
   * The parts asked for when this replica holds a grant on every member: its parts moved by
   * `by` slots (the allocation's target minus what it holds), member by member, so that a move
   * takes the slots that are free soonest instead of re-dealing every member. A move costs a
   * hand-over (the taker waits until the giver's requests beyond its new part finish); one slot
   * is not worth it: within one slot of the allocation the parts stay, and a slot short of it is
   * asked for only on a member with room.
   * - More: first on the members the others (as last heard of: their part, or their requests in
   *   flight there where more) leave room on, those where its part is furthest below the deal of
   *   the allocation first, then most room (granted at once); two slots off
   *   or more, the rest where the deal puts it (granted as the others give it up).
   * - Less (two slots off or more, or one slot that serves work less urgent than another
   *   replica is short of: `move` is then -2 for the threshold, `by` the slots to give): first
   *   the part beyond this replica's requests in flight on a member (idle: free for the others
   *   at once), most idle first, then from the parts furthest above the deal (free once requests
   *   there finish).
   */
  private moved(members: readonly ShareMember[], granted: ReadonlyMap<string, number>, reserved: readonly number[], move: number, dealt: readonly number[], by: number): number[] {
    const want = members.map((m) => Math.min(Math.max(0, m.slots), granted.get(m.name) ?? 0));
    const far = Math.abs(move) >= MOVE_THRESHOLD;
    if (by > 0) {
      const room = members.map((m, i) => {
        let taken = reserved[i] + want[i];
        for (const e of this.others.values()) taken += Math.max(e.parts.get(m.name) ?? 0, e.inflight?.get(m.name) ?? 0);
        return Math.max(0, m.slots) - taken;
      });
      let more = by;
      // among the members with room, first those where its part is furthest below its dealt part
      // (the parts stay spread over the members: a member lost takes a fair part with it), then
      // most room; ties keep the members' order (a stable sort)
      for (const i of members.map((_, i) => i).sort((a, b) => dealt[b] - want[b] - (dealt[a] - want[a]) || room[b] - room[a])) {
        const take = Math.min(more, Math.max(0, room[i]));
        want[i] += take;
        more -= take;
      }
      if (!far) return want;
      // the dealt parts add up to the allocation (the slots left to older replicas are their
      // allocation), so raising every part below its dealt part takes all the rest of the move
      for (const i of want.keys()) {
        const take = Math.min(more, Math.max(0, dealt[i] - want[i]));
        want[i] += take;
        more -= take;
      }
      return want;
    }
    if (!far) return want;
    let less = -by;
    const idle = members.map((m, i) => Math.max(0, want[i] - Math.max(0, Math.round(m.inflight))));
    // most idle first; ties keep the members' order (a stable sort)
    for (const i of members.map((_, i) => i).sort((a, b) => idle[b] - idle[a])) {
      const give = Math.min(less, idle[i]);
      want[i] -= give;
      less -= give;
    }
    // what is left to give is what the parts exceed the dealt parts by in all (they add up to the
    // allocation): the part furthest above its dealt part is above it, never a part of 0
    while (less > 0) {
      let top = 0;
      for (const i of want.keys()) if (want[i] - dealt[i] > want[top] - dealt[top] || (want[i] - dealt[i] === want[top] - dealt[top] && want[i] > want[top])) top = i;
      want[top]--;
      less--;
    }
    return want;
  }

  /**
   * Class order across the replicas, at the moment a slot frees: whether this replica, about to
   * fill a free slot with a request of class `cls`, gives the slot up instead, because another
   * replica (as last heard of) has requests of a strictly more urgent class beyond its share,
   * more than the slots free for it to take already (lent ones included): `owes`.
   * If so it lowers its own part by one on the member where its part exceeds its requests in
   * flight the most (the slot just freed), publishes at once (a heartbeat now, or as soon as the
   * one waiting for Redis is answered), and answers true: the caller's capacity is one lower.
   * The replica short of slots takes it at its next heartbeat (it beats at the hand-over cadence
   * while short), through the same guard as every grant: lending only ever lowers this
   * replica's part, so what the replicas hold on a member still never exceeds its slots.
   * Nothing to lend (no grant, a stale one, no idle part, nobody more urgent short): false.
   */
  lend(cls: PriorityClass, members: readonly ShareMember[]): boolean {
    // no grant without sharing by demand (a heartbeat of presence only takes none)
    const granted = this.current();
    if (!granted || !this.mine) return false;
    if (!this.owes(cls, members, granted)) return false;
    let best = -1;
    let bestIdle = 0;
    members.forEach((m, i) => {
      const idle = Math.min(m.slots, granted.get(m.name) ?? 0) - Math.max(0, Math.round(m.inflight));
      if (granted.has(m.name) && idle > bestIdle) {
        best = i;
        bestIdle = idle;
      }
    });
    if (best < 0) return false;
    const name = members[best].name;
    const parts = new Map(granted);
    parts.set(name, Math.min(members[best].slots, granted.get(name) ?? 0) - 1);
    this.mine = { parts, at: this.mine.at };
    this.lentTo.push(name);
    this.versionCounter++;
    this.beatSoon();
    return true;
  }

  /**
   * Whether a slot of this replica about to serve `cls` is owed to the others by class order:
   * for some class c more urgent than `cls` (any class when `cls` is undefined: the slot above the
   * allocation, whose class need not be named: the loop stops at the class its own demand fills the share anyway), the others (as last heard of) are short of slots
   * for their demand through c (`shortfallThrough`) by more than the slots free for them to take
   * already (nobody's part nor requests in flight there; slots this replica lent included), while
   * this replica's share still holds more than its own demand through c (it never lends a slot
   * its own more urgent work needs) and more than the floor of one slot.
   */
  private owes(cls: PriorityClass | undefined, members: readonly ShareMember[], granted: ReadonlyMap<string, number>): boolean {
    const mine = this.opts.demand?.() ?? NO_DEMAND;
    let share = 0;
    let free = 0;
    for (const m of members) {
      const part = Math.min(m.slots, granted.get(m.name) ?? 0);
      share += part;
      let taken = Math.max(part, Math.round(m.inflight));
      for (const e of this.others.values()) taken += Math.max(e.parts.get(m.name) ?? 0, e.inflight?.get(m.name) ?? 0);
      free += Math.max(0, m.slots - taken);
    }
    // the floor of one slot every replica keeps (`allocateShares`): below it the replica would
    // still admit a first request (`shareFromParts`), on no part of any member
    if (share <= 1) return false;
    let through = 0;
    for (const c of PRIORITY_CLASSES) {
      if (c === cls) return false;
      through += Math.max(0, mine[c]);
      if (share - through < 1) return false;
      let owed = -free;
      for (const e of this.others.values()) owed += shortfallThrough(e.demand, ReplicaShare.held(e, members) ?? 0, c);
      if (owed > 0) return true;
    }
    return false;
  }

  /** A heartbeat now, or as soon as the one waiting for Redis is answered. */
  private beatSoon(): void {
    if (this.stopped) return;
    if (this.beating) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const wait = this.lastBeatAt + this.gapMs() - this.opts.clock.now();
    if (wait > 0) this.timer = this.opts.clock.setTimeout(() => void this.beat(), wait);
    else void this.beat();
  }

  /** The hand-over cadence: a tenth of the heartbeat, at least 50 ms. */
  private fastMs(): number {
    return Math.max(50, Math.floor(this.opts.heartbeatMs / 10));
  }

  /** The least time between two heartbeats' starts when slots lent are published (a fifth of the hand-over cadence). */
  private gapMs(): number {
    return Math.floor(this.fastMs() / 5);
  }

  /** One heartbeat: renews this replica and its demand, reads the others, takes its parts. */
  async beat(): Promise<void> {
    this.beating = true;
    this.again = false;
    this.lastBeatAt = this.opts.clock.now();
    // slots lent from here on are not in what this heartbeat asks for: kept apart, applied again
    // to its answer (see tookShares)
    const lentBefore = this.lentTo.length;
    try {
      // presence first: the replicas present that publish nothing are left their equal parts
      const presence = (await this.opts.redis.eval(REPLICA_HEARTBEAT_LUA, 1, this.opts.key, this.opts.id, this.opts.expiryMs)) as unknown[];
      this.tookPresence(presence);
      if (this.opts.byDemand === false) return;
      const members = this.opts.members?.() ?? [];
      const demand = this.opts.demand?.() ?? NO_DEMAND;
      const { want, reserved } = this.wanted(members, demand);
      const spec = members.map((m, i) => `${m.name}\t${Math.max(0, m.slots)}\t${reserved[i]}\t${want[i]}\t${Math.max(0, Math.round(m.inflight))}`).join('\n');
      const demandArg = `${demand.critical} ${demand.high} ${demand.medium} ${demand.low}`;
      const answer = (await this.opts.redis.eval(REPLICA_SHARES_LUA, 1, `${this.opts.key}:shares`, this.opts.id, this.opts.expiryMs, demandArg, spec)) as unknown[];
      this.tookShares(answer, members.length > 0, lentBefore);
      // A hand-over in progress (a part asked for and not granted yet, or requests in flight on a
      // member beyond this replica's part, which the others wait for), or a replica with more
      // demand than its share (this one, or another as its entry says: slots may have to move in
      // class order, `lend`): the next heartbeat comes sooner, so slots are passed on as soon as
      // they are free instead of a heartbeat late, and a replica short of slots sees them.
      const granted = this.mine?.parts;
      this.handingOver = granted !== undefined && members.some((m, i) => (granted.get(m.name) ?? 0) < want[i] || m.inflight > (granted.get(m.name) ?? 0));
      this.short = granted !== undefined && (ReplicaShare.total(demand) > (this.granted ?? 0) || [...this.others.values()].some((e) => ReplicaShare.total(e.demand) > (ReplicaShare.held(e, members) ?? 0)));
    } catch (err) {
      this.handingOver = false;
      this.short = false;
      this.lentTo = [];
      this.opts.onError?.(err);
    } finally {
      this.beating = false;
      const next = this.again ? Math.max(0, this.lastBeatAt + this.gapMs() - this.opts.clock.now()) : this.handingOver || this.short ? this.fastMs() : this.opts.heartbeatMs;
      if (!this.stopped) this.timer = this.opts.clock.setTimeout(() => void this.beat(), next);
    }
  }

  private static total(d: ClassDemand): number {
    return Math.max(0, d.critical) + Math.max(0, d.high) + Math.max(0, d.medium) + Math.max(0, d.low);
  }

  private tookPresence(raw: unknown[]): void {
    const ids = raw.map(String);
    if (!ids.includes(this.opts.id)) ids.push(this.opts.id);
    ids.sort(); // Redis answers by heartbeat time; the shares go by id
    const before = this.ids.length;
    this.ids = ids;
    if (ids.length !== before) {
      this.versionCounter++;
      this.opts.onChange?.(ids.length);
    }
  }

  private tookShares(raw: unknown[], withMembers: boolean, lentBefore: number): void {
    const others = new Map<string, Entry>();
    for (let i = 1; i + 1 < raw.length; i += 2) {
      // the script answers the others only; an entry under this replica's own id is not another's
      const e = parseEntry(String(raw[i + 1]));
      if (e && String(raw[i]) !== this.opts.id) others.set(String(raw[i]), e);
    }
    this.others = others;
    const mine = parseEntry(String(raw[0]));
    // no members known (capacity unknown): no grant, equal parts once the members are known
    if (mine && withMembers) {
      // slots lent while this heartbeat waited for Redis: still given up (published next, at once)
      const later = this.lentTo.slice(lentBefore);
      const parts = new Map(mine.parts);
      for (const name of later) if (parts.has(name)) parts.set(name, Math.max(0, parts.get(name)! - 1));
      this.mine = { parts, at: this.opts.clock.now() };
      this.lentTo = later;
      if (later.length > 0) this.again = true;
    } else {
      this.mine = undefined;
      this.lentTo = [];
    }
    this.versionCounter++;
    this.opts.onShareChange?.();
  }
}
