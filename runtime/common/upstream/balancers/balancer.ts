import { Upstream } from '../upstream';

/**
 * A balancer picks one upstream among the candidates the caller found eligible (healthy, not
 * ejected, breaker closed, not cooling down, not already tried). It knows nothing of HTTP.
 */
export interface Balancer {
  /**
   * @param candidates eligible members, never empty
   * @param key the user key (consistent hashing); other balancers ignore it
   */
  pick(candidates: readonly Upstream[], key: string | undefined): Upstream;
}
