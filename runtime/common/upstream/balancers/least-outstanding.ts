import { RandomSource } from '../../clock';
import { Upstream } from '../upstream';
import { Balancer } from './balancer';

/**
 * Least outstanding requests by power of two choices: sample two distinct candidates, take the
 * one with fewer requests in flight relative to its weight. O(1) per pick and without the herd
 * effect of always taking the global minimum.
 */
export class LeastOutstandingBalancer implements Balancer {
  constructor(private readonly random: RandomSource = Math.random) {}

  pick(candidates: readonly Upstream[]): Upstream {
    const n = candidates.length;
    if (n === 1) return candidates[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = candidates[i];
    const b = candidates[j];
    const loadA = a.outstanding / a.weight;
    const loadB = b.outstanding / b.weight;
    if (loadA === loadB) return a.weight >= b.weight ? a : b;
    return loadA < loadB ? a : b;
  }
}
