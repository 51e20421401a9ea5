import { parse as parseYaml } from 'yaml';
import { FAILOVER_BUDGET, FailoverBudgetNumbers, HealthCheckNumbers } from '../../contract/failover-budget';
import { stackEnvironment, SynthOutput } from './synth-output';

/**
 * The failover budget as an environment's synthesized config actually has it: the health checks of
 * every NLB and ALB target group, every Route 53 health check, and the proxy's upstream checks in
 * every rendered proxy config, and the accelerator's endpoint-group interval, each taken at its
 * slowest across regions. The test of the budget
 * and `npm run bench:failover` (which health-checks its local regions with these numbers) read it.
 */
export interface SynthesizedFailoverBudget {
  readonly budget: FailoverBudgetNumbers;
  /** The rendered proxy config of each region (`<region>` -> parsed proxy.yaml). */
  readonly proxyConfigs: Readonly<Record<string, Record<string, unknown>>>;
}

function worst(checks: HealthCheckNumbers[], what: string): HealthCheckNumbers {
  if (checks.length === 0) throw new Error(`failover budget: the synthesized config has no ${what}`);
  return checks.reduce((a, b) => (b.intervalSeconds * b.unhealthyThreshold + b.timeoutSeconds > a.intervalSeconds * a.unhealthyThreshold + a.timeoutSeconds ? b : a));
}

function lbCheck(hc: Record<string, unknown>, defaults: { timeout: number }): HealthCheckNumbers {
  return {
    intervalSeconds: Number(hc.interval ?? 30),
    timeoutSeconds: Number(hc.timeout ?? defaults.timeout),
    unhealthyThreshold: Number(hc.unhealthy_threshold ?? 3),
    healthyThreshold: Number(hc.healthy_threshold ?? 3),
  };
}

export function failoverBudgetFromSynth(out: SynthOutput, environment: string): SynthesizedFailoverBudget {
  const nlb: HealthCheckNumbers[] = [];
  const alb: HealthCheckNumbers[] = [];
  const proxy: HealthCheckNumbers[] = [];
  const r53: { interval: number; threshold: number }[] = [];
  const accelerator: number[] = [];
  const proxyConfigs: Record<string, Record<string, unknown>> = {};
  for (const stack of out.stacks.values()) {
    if (stackEnvironment(stack.name) !== environment) continue;
    for (const r of stack.resources.values()) {
      const a = r.attributes as Record<string, any>;
      if (r.type === 'aws_lb_target_group' && a.health_check) {
        // AWS defaults when unset: NLB (alb-type target) timeout 10 s for HTTP(S), ALB 5 s.
        (a.target_type === 'alb' ? nlb : alb).push(lbCheck(a.health_check, { timeout: a.target_type === 'alb' ? 10 : 5 }));
      }
      if (r.type === 'aws_globalaccelerator_endpoint_group') accelerator.push(Number(a.health_check_interval_seconds ?? 30));
      if (r.type === 'aws_route53_health_check') r53.push({ interval: Number(a.request_interval ?? 30), threshold: Number(a.failure_threshold ?? 3) });
      if (r.type === 'kubernetes_config_map_v1' && typeof a.data?.['proxy.yaml'] === 'string') {
        const config = parseYaml(a.data['proxy.yaml']) as Record<string, any>;
        const region = String(config.regions?.self ?? stack.name);
        proxyConfigs[region] = config;
        // only the region's own pools make it ready (runtime/proxy/regions.ts readinessPools)
        const own = (pool: Record<string, any>) => [...(pool.upstreams ?? []), ...(pool.discover ?? [])].some((u: any) => config.regions === undefined || u.region === config.regions.self);
        for (const pool of Object.values<Record<string, any>>(config.pools ?? {}).filter(own)) {
          const h = pool.health ?? {};
          // runtime defaults (runtime/common/config/upstream.ts) when the rendered config leaves them out
          proxy.push({
            intervalSeconds: Number(h.intervalMs ?? 3_000) / 1000,
            timeoutSeconds: Number(h.timeoutMs ?? 1_000) / 1000,
            unhealthyThreshold: Number(h.unhealthyThreshold ?? 3),
            healthyThreshold: Number(h.healthyThreshold ?? 2),
          });
        }
      }
    }
  }
  if (r53.length === 0) throw new Error('failover budget: the synthesized config has no Route 53 health check');
  const route53 = r53.reduce((a, b) => (b.interval * b.threshold > a.interval * a.threshold ? b : a));
  return {
    budget: {
      ...FAILOVER_BUDGET,
      proxyUpstream: worst(proxy, 'rendered proxy config with pools'),
      nlbTarget: worst(nlb, 'NLB target group (ALB-type target)'),
      albTarget: worst(alb, 'ALB target group'),
      route53: { ...FAILOVER_BUDGET.route53, requestIntervalSeconds: route53.interval as 10 | 30, failureThreshold: route53.threshold },
      // the accelerator acts within one interval of its endpoint group (AWS default 30 s when unset)
      acceleratorReactionSeconds: accelerator.length === 0 ? FAILOVER_BUDGET.acceleratorReactionSeconds : (Math.max(...accelerator) as 10 | 30),
    },
    proxyConfigs,
  };
}
