import { Upstream } from '../upstream';
import { Balancer } from './balancer';

/** 32-bit FNV-1a; stable across processes and versions (no Math.random, no seed). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32) so near-identical keys spread over the ring
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Consistent hashing on the user key with bounded load (Mirrokni et al., "Consistent Hashing
 * with Bounded Loads"): a user maps to the first ring point clockwise of hash(key) whose
 * upstream is a candidate and has fewer outstanding requests than
 * `ceil(loadFactor x (total outstanding + 1) / candidates)`. One user's conversation stays on
 * one instance, but a hot user cannot pin an overloaded one. Requests without a key go to the
 * least loaded candidate.
 */
export class ConsistentHashBalancer implements Balancer {
  private readonly ring: { point: number; upstream: Upstream }[];
  private readonly memberCount: number;

  constructor(
    members: readonly Upstream[],
    private readonly loadFactor: number,
    virtualNodes: number,
  ) {
    this.ring = [];
    this.memberCount = members.length;
    for (const u of members) {
      const points = virtualNodes * u.weight;
      for (let v = 0; v < points; v++) this.ring.push({ point: fnv1a32(`${u.name}#${v}`), upstream: u });
    }
    this.ring.sort((x, y) => x.point - y.point);
  }

  pick(candidates: readonly Upstream[], key: string | undefined): Upstream {
    if (key === undefined) return leastLoaded(candidates);
    // Stryker disable next-line ConditionalExpression: a speed shortcut: with one candidate and loadFactor >= 1 the bound is above its load, so the ring walk below ends on it too (or, if it is not on the ring, the fallback does)
    if (candidates.length === 1) return candidates[0];
    let total = 0;
    for (const c of candidates) total += c.outstanding;
    const bound = Math.ceil((this.loadFactor * (total + 1)) / candidates.length);
    // no allocation on the hot path: when every member is a candidate the membership test is free
    // Stryker disable next-line ConditionalExpression: false only makes the membership test run when every member is a candidate, which it then passes
    const all = candidates.length === this.memberCount;
    const start = this.firstIndexAtOrAfter(fnv1a32(key));
    // Stryker disable next-line EqualityOperator: with <=, the extra step lands on the start point again ((start + length) % length), already refused
    for (let k = 0; k < this.ring.length; k++) {
      const u = this.ring[(start + k) % this.ring.length].upstream;
      if ((all || candidates.includes(u)) && u.outstanding < bound) return u;
    }
    return leastLoaded(candidates);
  }

  /** Index of the first ring point at or after `point`; `ring.length` past the last (pick() wraps it). */
  private firstIndexAtOrAfter(point: number): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[mid].point < point) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function leastLoaded(candidates: readonly Upstream[]): Upstream {
  let best = candidates[0];
  for (const c of candidates) if (c.outstanding < best.outstanding) best = c;
  return best;
}
