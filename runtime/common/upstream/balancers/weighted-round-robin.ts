import { Upstream } from '../upstream';
import { Balancer } from './balancer';

/**
 * Smooth weighted round robin (nginx's algorithm): each pick adds every candidate's weight to
 * its running score, takes the highest and subtracts the total. Weights 5:1:1 give
 * a a b a c a a rather than a a a a a b c. Works over any subset of the members.
 */
export class WeightedRoundRobinBalancer implements Balancer {
  private readonly current = new Map<Upstream, number>();

  pick(candidates: readonly Upstream[]): Upstream {
    let best: Upstream | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    let total = 0;
    for (const u of candidates) {
      const score = (this.current.get(u) ?? 0) + u.weight;
      this.current.set(u, score);
      total += u.weight;
      if (score > bestScore) {
        bestScore = score;
        best = u;
      }
    }
    const chosen = best as Upstream;
    this.current.set(chosen, bestScore - total);
    return chosen;
  }
}
