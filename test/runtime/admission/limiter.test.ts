import { FakeClock } from '../../../runtime/proxy/admission/clock';
import { parseAdmissionConfig, type AdmissionConfigInput } from '../../../runtime/proxy/admission/config';
import { AimdLimiter } from '../../../runtime/proxy/admission/limiter';
import { parseVllmMetrics, combineSaturation } from '../../../runtime/proxy/admission/saturation';

function setup(input: AdmissionConfigInput = {}) {
  const clock = new FakeClock();
  const changes: number[] = [];
  const limiter = new AimdLimiter(
    parseAdmissionConfig({ maxConcurrency: 100, ...input, adaptive: { decreaseCooldownMs: 1_000, backoffRatio: 0.5, ...input.adaptive } }),
    clock,
    (l) => changes.push(l),
  );
  return { clock, limiter, changes };
}

describe('AimdLimiter', () => {
  it('starts at the static cap unless an initial limit is configured', () => {
    expect(setup().limiter.limit).toBe(100);
    expect(setup({ adaptive: { initial: 10 } }).limiter.limit).toBe(10);
  });

  it('halves the limit on a 503/429 and counts a burst of them within the cooldown as one signal', () => {
    const { limiter, clock, changes } = setup();
    limiter.onSample({ kind: 'overload', inflight: 100 });
    limiter.onSample({ kind: 'overload', inflight: 99 });
    limiter.onSample({ kind: 'overload', inflight: 98 });
    expect(limiter.limit).toBe(50);
    clock.advance(1_000);
    limiter.onSample({ kind: 'overload', inflight: 50 });
    expect(limiter.limit).toBe(25);
    expect(changes).toEqual([50, 25]);
  });

  it('never goes below the configured minimum', () => {
    const { limiter, clock } = setup({ adaptive: { min: 4 } });
    for (let i = 0; i < 20; i++) {
      limiter.onSample({ kind: 'overload', inflight: 1 });
      clock.advance(1_000);
    }
    expect(limiter.limit).toBe(4);
  });

  it('grows by one per success while at least half used, up to the static cap', () => {
    const { limiter } = setup({ adaptive: { initial: 10 } });
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 10 });
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 10 });
    expect(limiter.limit).toBe(12);
    for (let i = 0; i < 200; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 100 });
    expect(limiter.limit).toBe(100);
  });

  it('does not grow while the pool is mostly idle (application-limited)', () => {
    const { limiter } = setup({ adaptive: { initial: 10 } });
    for (let i = 0; i < 50; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 2 });
    expect(limiter.limit).toBe(10);
  });

  it('ignores errors that say nothing about capacity', () => {
    const { limiter } = setup({ adaptive: { initial: 10 } });
    for (let i = 0; i < 10; i++) limiter.onSample({ kind: 'error', latencyMs: 5, inflight: 10 });
    limiter.onSample({ kind: 'cancelled', inflight: 10 });
    expect(limiter.limit).toBe(10);
  });

  it('backs off when smoothed latency climbs far above its baseline', () => {
    const { limiter, clock } = setup({ adaptive: { initial: 40, latencyTolerance: 2 } });
    for (let i = 0; i < 20; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 40 });
    expect(limiter.limit).toBe(60);
    for (let i = 0; i < 30 && limiter.limit >= 60; i++) {
      clock.advance(10);
      limiter.onSample({ kind: 'success', latencyMs: 1_000, inflight: 60 });
    }
    expect(limiter.limit).toBe(30);
  });

  it('does not read a few milliseconds of jitter on a fast upstream as overload', () => {
    // A millisecond baseline (cache-warm or tiny answers) plus the proxy's own event-loop delay
    // under CPU load: 4x the baseline, yet far below any real queueing at a model server.
    const { limiter, clock } = setup({ adaptive: { initial: 40 } });
    for (let i = 0; i < 20; i++) limiter.onSample({ kind: 'success', latencyMs: 0.5, inflight: 40 });
    const before = limiter.limit;
    for (let i = 0; i < 50; i++) {
      clock.advance(10);
      limiter.onSample({ kind: 'success', latencyMs: 8, inflight: 40 });
    }
    expect(limiter.limit).toBeGreaterThanOrEqual(before);
    for (let i = 0; i < 50 && limiter.limit >= before; i++) {
      clock.advance(10);
      limiter.onSample({ kind: 'success', latencyMs: 400, inflight: 40 });
    }
    expect(limiter.limit).toBeLessThan(before);
  });

  it('backs off on sustained upstream saturation and does not grow until it clears', () => {
    const { limiter, clock } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 0 } });
    limiter.onSaturation({ waiting: 1 }); // one blip: stop growing, no cut
    expect(limiter.limit).toBe(40);
    limiter.onSaturation({ waiting: 0 });
    limiter.onSaturation({ waiting: 1 });
    expect(limiter.limit).toBe(40);
    limiter.onSaturation({ waiting: 3 }); // second in a row: cut
    expect(limiter.limit).toBe(20);
    for (let i = 0; i < 10; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 20 });
    expect(limiter.limit).toBe(20);
    clock.advance(1_000);
    limiter.onSaturation({ waiting: 0, kvCacheUsage: 0.99 }); // still saturated (KV cache): cut
    expect(limiter.limit).toBe(10);
    limiter.onSaturation({ waiting: 0, kvCacheUsage: 0.5 });
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 10 });
    expect(limiter.limit).toBe(11);
  });

  it('stays at the static cap when adaptation is off', () => {
    const { limiter } = setup({ adaptive: { enabled: false } });
    limiter.onSample({ kind: 'overload', inflight: 100 });
    expect(limiter.limit).toBe(100);
  });
});

describe('vLLM saturation metrics', () => {
  it('reads waiting, running and KV-cache usage from a Prometheus exposition', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{model_name="m",engine="0"} 3.0',
      'vllm:num_requests_waiting{model_name="m",engine="1"} 2',
      'vllm:num_requests_running{model_name="m"} 8.0',
      'vllm:gpu_cache_usage_perc{model_name="m"} 0.42',
      'process_cpu_seconds_total 12.5',
    ].join('\n');
    expect(parseVllmMetrics(text)).toEqual({ waiting: 5, running: 8, kvCacheUsage: 0.42 });
    expect(parseVllmMetrics('vllm:kv_cache_usage_perc 0.9\n')).toEqual({ waiting: 0, running: 0, kvCacheUsage: 0.9 });
  });

  it('sums waiting over a pool and keeps the worst KV-cache usage', () => {
    expect(
      combineSaturation([
        { waiting: 1, running: 4, kvCacheUsage: 0.3 },
        { waiting: 2, running: 4, kvCacheUsage: 0.8 },
        { waiting: 0, running: 1 },
      ]),
    ).toEqual({ waiting: 3, minWaiting: 0, kvCacheUsage: 0.8 });
  });

  it('does not call a pool saturated while one member still has room', () => {
    const { limiter } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 0 } });
    for (let i = 0; i < 3; i++) limiter.onSaturation(combineSaturation([{ waiting: 4, running: 8 }, { waiting: 0, running: 7 }]));
    expect(limiter.limit).toBe(40);
    for (let i = 0; i < 2; i++) limiter.onSaturation(combineSaturation([{ waiting: 4, running: 8 }, { waiting: 1, running: 8 }]));
    expect(limiter.limit).toBe(20);
  });
});
