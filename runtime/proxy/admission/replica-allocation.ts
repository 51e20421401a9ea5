import { PRIORITY_CLASSES, type PriorityClass } from '../../../contract/priority';

/** Requests of one replica per class: in flight plus queued, from its admission controller. */
export type ClassDemand = Readonly<Record<PriorityClass, number>>;

export interface ReplicaView {
  readonly id: string;
  /** What the replica asks for; undefined: it publishes no demand (an older version), it takes an equal share. */
  readonly demand?: ClassDemand;
  /** Its share now (its last grant), which what is left after all demand goes back to first. @default 0 */
  readonly current?: number;
}

/**
 * A replica's equal share of `capacity` among `n` replicas, by its rank among them (by id):
 * `floor(capacity / n)`, the first `capacity mod n` one more, so the shares add up to exactly
 * the capacity. What a replica publishing no demand takes.
 */
export function equalShare(capacity: number, rank: number, n: number): number {
  if (capacity <= 0 || n <= 0) return 0;
  return Math.floor(capacity / n) + (rank < capacity % n ? 1 : 0);
}

/**
 * Max-min fair integer split of `available` among `needs` (in the callers' order): every need
 * up to the level the available slots reach, a need below the level in full, the slots a
 * level leaves (fewer than the needs still open) one each to the first needs still open.
 * Returns what each gets; never more than its need, nor more than `available` in all.
 */
function fairSplit(available: number, needs: readonly number[]): number[] {
  const got = needs.map(() => 0);
  let left = available;
  let open = needs.map((_, i) => i).filter((i) => needs[i] > 0);
  while (left > 0 && open.length > 0) {
    const level = Math.floor(left / open.length);
    if (level === 0) {
      for (const i of open.slice(0, left)) got[i]++;
      break;
    }
    for (const i of open) {
      const g = Math.min(needs[i] - got[i], level);
      got[i] += g;
      left -= g;
    }
    open = open.filter((i) => got[i] < needs[i]);
  }
  return got;
}

/**
 * How `capacity` slots of a pool are shared by proxy replicas by their demand, in class order.
 * A pure, deterministic function of the view (every replica computing it from the same view
 * gets the same answer): one integer share per replica, summing to exactly `capacity`.
 *
 * 1. Replicas publishing no demand (an older version during a rolling deploy) take their equal
 *    share (`equalShare`, by rank among all replicas by id), as they compute it themselves.
 * 2. Every other replica gets a floor of one slot (in id order while slots last), so a replica
 *    with no demand admits its first requests at once; the floor counts toward its demand.
 * 3. Demand is water-filled in class order: the critical demand of every replica first, then
 *    high, medium, low; within a class whose demand exceeds what is left, max-min fair (a small
 *    demand in full, the rest split evenly, the remainder one slot each in id order).
 * 4. What is left after all demand goes back toward the replicas' current shares (max-min fair),
 *    so that shares move only as far as some replica's demand needs (every move is a hand-over
 *    at the servers); the rest is spread equally (the remainder one each in id order). An idle
 *    replica keeps its share, or its part of what is free, for new arrivals.
 */
export function allocateShares(capacity: number, replicas: readonly ReplicaView[]): Map<string, number> {
  const sorted = [...replicas].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const out = new Map<string, number>(sorted.map((r) => [r.id, 0]));
  if (capacity <= 0 || sorted.length === 0) return out;
  let left = capacity;
  sorted.forEach((r, rank) => {
    if (r.demand) return;
    const s = Math.min(left, equalShare(capacity, rank, sorted.length));
    out.set(r.id, s);
    left -= s;
  });
  const publishing = sorted.filter((r) => r.demand !== undefined);
  if (publishing.length === 0) return out;
  const got = publishing.map(() => 0);
  for (let i = 0; i < publishing.length && left > 0; i++) {
    got[i] = 1;
    left--;
  }
  let asked = publishing.map(() => 0);
  for (const cls of PRIORITY_CLASSES) {
    if (left === 0) break;
    asked = asked.map((a, i) => a + Math.max(0, publishing[i].demand![cls]));
    const more = fairSplit(
      left,
      asked.map((a, i) => Math.max(0, a - got[i])),
    );
    more.forEach((m, i) => {
      got[i] += m;
      left -= m;
    });
  }
  const back = fairSplit(
    left,
    publishing.map((r, i) => Math.max(0, Math.floor(r.current ?? 0) - got[i])),
  );
  back.forEach((m, i) => {
    got[i] += m;
    left -= m;
  });
  const each = Math.floor(left / publishing.length);
  const rest = left % publishing.length;
  publishing.forEach((r, i) => out.set(r.id, got[i] + each + (i < rest ? 1 : 0)));
  return out;
}

/**
 * Replica `rank`'s part of each member's slots when `replicas` replicas share the pool equally
 * (slot i of the pool, members one after another in their common order, to replica i mod n):
 * the parts of one member over the replicas add up to its slots, the parts of one replica to
 * its equal share. What a replica with no grant takes, and what one of an older version takes.
 */
export function roundRobinParts(slots: readonly number[], rank: number, replicas: number): number[] {
  // slots among the first x of the pool that go to `rank`: rank, rank + replicas, ... below x
  // (none while x <= rank, as rank < replicas)
  const dealt = (x: number) => Math.ceil((x - rank) / replicas);
  const out: number[] = [];
  let offset = 0;
  for (const s of slots) {
    const k = Math.max(0, s);
    out.push(dealt(offset + k) - dealt(offset));
    offset += k;
  }
  return out;
}

/**
 * Each replica's part of each member's slots, `slots` in the members' common order (by name)
 * and `weights` the replicas' shares of the pool in their common order (by id): the pool's
 * slots, one after another member by member, are dealt by smooth weighted round robin (the
 * replica furthest behind its weight takes the next slot, ties to the first), slots beyond the
 * weights' sum to nobody. So the parts of one member over the replicas add up to at most its
 * slots (exactly, when the weights add up to the pool's slots), the parts of one replica over
 * the members add up to its weight (up to the pool's slots), and a replica's part is spread
 * over the members in proportion to their slots (less than a slot off at each end of a
 * member), not piled on one member.
 * Equal weights deal slot i to replica i mod n. Returns `parts[replica][member]`.
 */
export function dealMemberParts(slots: readonly number[], weights: readonly number[]): number[][] {
  const total = slots.reduce((a, b) => a + Math.max(0, b), 0);
  const w = weights.map((x) => Math.max(0, Math.floor(x)));
  const assigned = w.reduce((a, b) => a + b, 0);
  // slots nobody's weight covers go to an idle dealer at the end (their places spread too)
  const dealers = assigned < total ? [...w, total - assigned] : w;
  const sum = Math.max(assigned, total);
  const parts = weights.map(() => slots.map(() => 0));
  const current = dealers.map(() => 0);
  let member = 0;
  let leftInMember = Math.max(0, slots[0] ?? 0);
  for (let k = 0; k < total; k++) {
    while (leftInMember === 0) leftInMember = Math.max(0, slots[++member]);
    let best = 0;
    for (let j = 0; j < dealers.length; j++) {
      current[j] += dealers[j];
      if (current[j] > current[best]) best = j;
    }
    current[best] -= sum;
    if (best < weights.length) parts[best][member]++;
    leftInMember--;
  }
  return parts;
}

/**
 * A replica's requests of class `cls` and every more urgent class (in flight + queued) that its
 * share of `share` slots does not hold, or 0: by class order across the replicas, what it is
 * short of before anyone's `cls` + 1 work (`ReplicaShare.lend`).
 */
export function shortfallThrough(demand: ClassDemand, share: number, cls: PriorityClass): number {
  let through = 0;
  for (const c of PRIORITY_CLASSES) {
    through += Math.max(0, demand[c]);
    if (c === cls) break;
  }
  return Math.max(0, through - Math.max(0, share));
}
