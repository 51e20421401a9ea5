import { RandomSource } from '../../clock';
import { Upstream } from '../upstream';
import { Balancer } from './balancer';

/**
 * Least outstanding requests.
 *
 * When every candidate has a `share` (this process's part of the member's slots, assigned by
 * the proxy's admission so that the replicas' parts of a member add up to its slots), it picks
 * the member with the most of its part free (ties at random): a replica then never puts more
 * on a member than its part, so three replicas balancing on their own counts cannot stack
 * requests on one member while another has free slots (which makes a vLLM server queue, or a
 * server with a front limit answer 503, with the pool's capacity not used up). The counts are
 * this process's own and exact, so taking the best is not the herd of a shared stale view.
 *
 * Otherwise (no part assigned, or every part in use) power of two choices: sample two
 * distinct candidates, take the one with fewer requests in flight relative to its weight.
 * O(1) per pick and without the herd effect of always taking the global minimum.
 */
export class LeastOutstandingBalancer implements Balancer {
  constructor(private readonly random: RandomSource = Math.random) {}

  pick(candidates: readonly Upstream[]): Upstream {
    const n = candidates.length;
    if (n === 1) return candidates[0];
    const byShare = this.mostFreeShare(candidates);
    if (byShare) return byShare;
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = candidates[i];
    const b = candidates[j];
    const loadA = a.outstanding / a.weight;
    const loadB = b.outstanding / b.weight;
    // fewer in flight per unit of weight; at equal load the heavier member, `a` at equal weight too
    return loadA < loadB || (loadA === loadB && a.weight >= b.weight) ? a : b;
  }

  /** The candidate with the most of its share free, if every one has a share and one has room. */
  private mostFreeShare(candidates: readonly Upstream[]): Upstream | undefined {
    let best: Upstream | undefined;
    let bestFree = 0;
    let ties = 0;
    for (const u of candidates) {
      if (u.share === undefined) return undefined;
      const free = u.share - u.outstanding;
      if (free < bestFree || free <= 0) continue;
      if (free > bestFree) {
        best = u;
        bestFree = free;
        ties = 1;
      } else if (this.random() * ++ties < 1) best = u; // reservoir: each tied one equally likely
    }
    return best;
  }
}
