/**
 * The failover budget: every health-check number on the path from a client to a region, in one
 * place. The constructs (NLB and ALB target groups, Route 53 health checks, the accelerator's
 * endpoint groups) and the rendered proxy config read these numbers; `failoverSeconds` does the
 * arithmetic docs/failover.md shows, and a test recomputes it from the synthesized prod config.
 *
 * Worst case of one active check (interval I, timeout T, unhealthy threshold N): the failure starts
 * just after a good probe, the first bad probe starts within I, and the N-th ends T after it starts:
 * I × N + T.
 */

/** One active health check as a load balancer or the proxy runs it. */
export interface HealthCheckNumbers {
  /** Seconds between two probes of one target. */
  readonly intervalSeconds: number;
  /** Seconds one probe may take before it counts as failed. */
  readonly timeoutSeconds: number;
  /** Consecutive failed probes that mark the target unhealthy. */
  readonly unhealthyThreshold: number;
  /** Consecutive good probes that mark it healthy again. */
  readonly healthyThreshold: number;
}

/** What the budget is made of. */
export interface FailoverBudgetNumbers {
  /** The proxy's active checks of its own model servers (runtime `pools.*.health`). */
  readonly proxyUpstream: HealthCheckNumbers;
  /**
   * The NLB's check of its ALB target (HTTPS `/readyz` through the ALB to a proxy). For NLB
   * endpoints Global Accelerator follows this target health, so it is the accelerator path's check.
   * AWS ranges: interval 5-300 s, timeout 2-120 s, thresholds 2-10.
   */
  readonly nlbTarget: HealthCheckNumbers;
  /**
   * The ALB's check of each proxy pod (`/readyz`): takes one bad pod out inside a region. Not on the
   * cross-region path (the NLB's check goes through the ALB end to end), listed for completeness.
   * AWS ranges: interval 5-300 s, timeout 2-120 s and less than the interval, thresholds 2-10.
   */
  readonly albTarget: HealthCheckNumbers;
  /**
   * Route 53 health checks of each region (DNS path, `api.<domain>`). RequestInterval is 10 (fast)
   * or 30; FailureThreshold 1-10; the timeout of one Route 53 probe is fixed by AWS (4 s to connect
   * plus 2 s to answer for HTTPS).
   */
  readonly route53: { readonly requestIntervalSeconds: 10 | 30; readonly failureThreshold: number; readonly probeTimeoutSeconds: number };
  /**
   * TTL clients and resolvers cache an answer for. The latency records alias the regional NLBs,
   * and an alias record to an ELB answers with the ELB's own TTL (60 s), which cannot be set.
   */
  readonly dnsTtlSeconds: number;
  /**
   * Seconds Global Accelerator takes to act on a changed endpoint health (stop new flows to the
   * group), counted as one health-check interval of the endpoint group (10 or 30 s; the constructs
   * set this value). The developer guide says GA uses the ELB's own health checks for NLB/ALB
   * endpoints and "instantly" redirects once an endpoint is unhealthy, but gives no figure; AWS's
   * Global Accelerator workshop says it takes GA "up to 30 seconds (the health check interval)"
   * after an endpoint is marked unhealthy. The budget takes the workshop's reading with the
   * shortest interval GA allows (docs/failover.md cites both).
   */
  readonly acceleratorReactionSeconds: 10 | 30;
  /** The target: clients on the accelerator path are off a dead region within this. */
  readonly targetSeconds: number;
}

/** The numbers the constructs and the rendered proxy config use. */
export const FAILOVER_BUDGET: FailoverBudgetNumbers = {
  proxyUpstream: { intervalSeconds: 2, timeoutSeconds: 1, unhealthyThreshold: 2, healthyThreshold: 2 },
  nlbTarget: { intervalSeconds: 5, timeoutSeconds: 4, unhealthyThreshold: 2, healthyThreshold: 2 },
  albTarget: { intervalSeconds: 5, timeoutSeconds: 4, unhealthyThreshold: 2, healthyThreshold: 2 },
  route53: { requestIntervalSeconds: 10, failureThreshold: 2, probeTimeoutSeconds: 6 },
  dnsTtlSeconds: 60,
  acceleratorReactionSeconds: 10,
  targetSeconds: 30,
};

/** Worst-case seconds for one active check to declare a target unhealthy (I × N + T). */
export function detectionSeconds(c: HealthCheckNumbers): number {
  return c.intervalSeconds * c.unhealthyThreshold + c.timeoutSeconds;
}

/** Worst-case seconds for one active check to let a target back in (I × healthy N + T). */
export function recoverySeconds(c: HealthCheckNumbers): number {
  return c.intervalSeconds * c.healthyThreshold + c.timeoutSeconds;
}

/** Seconds until clients leave a failed region, per cause and path. */
export interface FailoverSeconds {
  /** Accelerator path, whole region gone (proxies unreachable): NLB check + accelerator reaction. */
  readonly acceleratorRegionDown: number;
  /** Accelerator path, the region's model servers gone: proxy readiness flips first, then as above. */
  readonly acceleratorModelServersDown: number;
  /** DNS path, model servers gone: readiness, Route 53 detection, then the cached answer's TTL. */
  readonly dnsModelServersDown: number;
}

export function failoverSeconds(b: FailoverBudgetNumbers): FailoverSeconds {
  const nlb = detectionSeconds(b.nlbTarget);
  const readiness = detectionSeconds(b.proxyUpstream);
  const r53 = b.route53.requestIntervalSeconds * b.route53.failureThreshold + b.route53.probeTimeoutSeconds;
  return {
    acceleratorRegionDown: nlb + b.acceleratorReactionSeconds,
    acceleratorModelServersDown: readiness + nlb + b.acceleratorReactionSeconds,
    dnsModelServersDown: readiness + r53 + b.dnsTtlSeconds,
  };
}

/** Problems that break the accelerator path's target (empty when the budget holds). */
export function budgetProblems(b: FailoverBudgetNumbers): string[] {
  const s = failoverSeconds(b);
  const problems: string[] = [];
  if (s.acceleratorModelServersDown > b.targetSeconds) {
    problems.push(
      `accelerator path: ${s.acceleratorModelServersDown} s to leave a region whose model servers are gone ` +
        `(proxy ${detectionSeconds(b.proxyUpstream)} s + NLB ${detectionSeconds(b.nlbTarget)} s + accelerator ${b.acceleratorReactionSeconds} s) exceeds ${b.targetSeconds} s`,
    );
  }
  if (s.acceleratorRegionDown > b.targetSeconds) {
    problems.push(`accelerator path: ${s.acceleratorRegionDown} s to leave a dead region exceeds ${b.targetSeconds} s`);
  }
  return problems;
}
