import { budgetProblems, detectionSeconds, FAILOVER_BUDGET, failoverSeconds } from '../../contract/failover-budget';

describe('the failover budget', () => {
  it('counts one check at its worst: interval x unhealthy threshold + timeout', () => {
    expect(detectionSeconds({ intervalSeconds: 5, timeoutSeconds: 4, unhealthyThreshold: 2, healthyThreshold: 2 })).toBe(14);
  });

  it('moves accelerator clients off a region in at most 30 s, whether the region dies or only its model servers do', () => {
    const s = failoverSeconds(FAILOVER_BUDGET);
    expect(s.acceleratorRegionDown).toBeLessThanOrEqual(30);
    expect(s.acceleratorModelServersDown).toBeLessThanOrEqual(30);
    expect(budgetProblems(FAILOVER_BUDGET)).toEqual([]);
  });

  it('allows the accelerator one endpoint-group health-check interval to act, the shortest GA offers (10 s)', () => {
    expect(FAILOVER_BUDGET.acceleratorReactionSeconds).toBe(10);
    expect(failoverSeconds(FAILOVER_BUDGET)).toMatchObject({ acceleratorRegionDown: 14 + 10, acceleratorModelServersDown: 5 + 14 + 10 });
  });

  it('says the DNS path is slower than the target: the alias answer to an ELB is cached for 60 s', () => {
    expect(failoverSeconds(FAILOVER_BUDGET).dnsModelServersDown).toBeGreaterThan(60);
  });

  it('fails a budget whose checks add up to more than 30 s, naming the path and its parts', () => {
    const doctored = { ...FAILOVER_BUDGET, nlbTarget: { ...FAILOVER_BUDGET.nlbTarget, intervalSeconds: 10, unhealthyThreshold: 3 } };
    const problems = budgetProblems(doctored);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/accelerator path: \d+ s .* NLB 34 s .* exceeds 30 s/);
  });

  it('keeps every number inside the AWS ranges (NLB/ALB interval 5-300 s, thresholds 2-10, ALB timeout below the interval; Route 53 10 or 30 s, 1-10 failures)', () => {
    for (const c of [FAILOVER_BUDGET.nlbTarget, FAILOVER_BUDGET.albTarget]) {
      expect(c.intervalSeconds).toBeGreaterThanOrEqual(5);
      expect(c.intervalSeconds).toBeLessThanOrEqual(300);
      expect(c.timeoutSeconds).toBeGreaterThanOrEqual(2);
      expect(c.timeoutSeconds).toBeLessThan(c.intervalSeconds);
      for (const t of [c.unhealthyThreshold, c.healthyThreshold]) {
        expect(t).toBeGreaterThanOrEqual(2);
        expect(t).toBeLessThanOrEqual(10);
      }
    }
    expect([10, 30]).toContain(FAILOVER_BUDGET.route53.requestIntervalSeconds);
    expect(FAILOVER_BUDGET.route53.failureThreshold).toBeGreaterThanOrEqual(1);
    expect(FAILOVER_BUDGET.route53.failureThreshold).toBeLessThanOrEqual(10);
  });
});
