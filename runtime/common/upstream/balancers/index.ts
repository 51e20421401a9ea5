import { RandomSource } from '../../clock';
import { BalancerConfig } from '../../config/upstream';
import { Upstream } from '../upstream';
import { Balancer } from './balancer';
import { ConsistentHashBalancer } from './consistent-hash';
import { LeastOutstandingBalancer } from './least-outstanding';
import { WeightedRoundRobinBalancer } from './weighted-round-robin';

export type { Balancer } from './balancer';
export { ConsistentHashBalancer, fnv1a32 } from './consistent-hash';
export { LeastOutstandingBalancer } from './least-outstanding';
export { WeightedRoundRobinBalancer } from './weighted-round-robin';

export function createBalancer(config: BalancerConfig, members: readonly Upstream[], random: RandomSource): Balancer {
  switch (config.type) {
    case 'weighted-round-robin':
      return new WeightedRoundRobinBalancer();
    case 'least-outstanding':
      return new LeastOutstandingBalancer(random);
    case 'consistent-hash':
      return new ConsistentHashBalancer(members, config.hashLoadFactor, config.virtualNodes);
  }
}
