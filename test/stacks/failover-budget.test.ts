import { rmSync } from 'node:fs';
import { prod } from '../../envs/prod';
import { budgetProblems, FAILOVER_BUDGET, failoverSeconds } from '../../contract/failover-budget';
import { failoverBudgetFromSynth } from '../../tools/common/failover-budget-from-synth';
import { loadSynthOutput } from '../../tools/common/synth-output';
import { synthApp, SynthesizedApp } from '../support/synth';
import { res, writeSynth } from '../support/synth-fixture';

describe('the failover budget of the synthesized prod environment', () => {
  let app: SynthesizedApp;
  beforeAll(() => {
    app = synthApp([prod]);
  }, 180_000);
  afterAll(() => rmSync(app.outdir, { recursive: true, force: true }));

  it('has the health-check numbers of the budget on every NLB, ALB, Route 53 check and rendered proxy config', () => {
    const { budget } = failoverBudgetFromSynth(loadSynthOutput(app.outdir), 'prod');
    expect(budget.nlbTarget).toEqual(FAILOVER_BUDGET.nlbTarget);
    expect(budget.albTarget).toEqual(FAILOVER_BUDGET.albTarget);
    expect(budget.proxyUpstream).toEqual(FAILOVER_BUDGET.proxyUpstream);
    expect(budget.route53).toEqual(FAILOVER_BUDGET.route53);
    expect(budget.acceleratorReactionSeconds).toBe(FAILOVER_BUDGET.acceleratorReactionSeconds);
  });

  it('moves accelerator clients off a failed region within 30 s', () => {
    const { budget } = failoverBudgetFromSynth(loadSynthOutput(app.outdir), 'prod');
    expect(budgetProblems(budget)).toEqual([]);
    expect(failoverSeconds(budget).acceleratorModelServersDown).toBeLessThanOrEqual(30);
  });

  it('renders every region its peers by their regional endpoints', () => {
    const { proxyConfigs } = failoverBudgetFromSynth(loadSynthOutput(app.outdir), 'prod');
    const regions = prod.regions.map((r) => r.region);
    expect(Object.keys(proxyConfigs).sort()).toEqual([...regions].sort());
    for (const region of regions) {
      const peers = (proxyConfigs[region] as any).regions.peers;
      expect(Object.keys(peers).sort()).toEqual(regions.filter((r) => r !== region).sort());
      for (const [peer, { url }] of Object.entries<any>(peers)) expect(url).toBe(`https://${peer}.${prod.domain}`);
    }
  });
});

describe('a synthesized config over the budget', () => {
  it('fails the check, naming the accelerator path', () => {
    const dir = writeSynth({
      'prod-us-east-1': {
        resource: {
          aws_lb_target_group: {
            nlb: res('prod-us-east-1/entry/nlb-to-alb-443', { target_type: 'alb', health_check: { interval: 10, timeout: 10, unhealthy_threshold: 3, healthy_threshold: 3 } }),
            alb: res('prod-us-east-1/entry/proxy-tg', { target_type: 'instance', health_check: { interval: 5, timeout: 4, unhealthy_threshold: 2, healthy_threshold: 2 } }),
          },
          aws_route53_health_check: { h: res('prod-us-east-1/gslb/health', { request_interval: 10, failure_threshold: 2 }) },
          kubernetes_config_map_v1: {
            c: res('prod-us-east-1/proxy-config', { data: { 'proxy.yaml': 'regions: { self: us-east-1 }\npools:\n  m:\n    discover: [{ url: "http://m:8000", region: us-east-1 }]\n    health: { intervalMs: 3000, timeoutMs: 1000, unhealthyThreshold: 3 }\n' } }),
          },
        },
      },
    });
    try {
      const { budget } = failoverBudgetFromSynth(loadSynthOutput(dir), 'prod');
      // no endpoint group in this fixture: the budget's own accelerator reaction (10 s)
      expect(failoverSeconds(budget).acceleratorModelServersDown).toBe(10 + 40 + 10);
      expect(budgetProblems(budget).join('\n')).toMatch(/accelerator path: 60 s .* exceeds 30 s/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
