import { Harness, chat, get, metricValue, post, quietPool, startHarness } from '../../support/proxy-harness';

const api = (h: Harness) => `${h.url}/v1/chat/completions`;
const route = [{ model: 'sim-model', pools: ['local'] }];

async function metrics(h: Harness): Promise<string> {
  return (await get(`${h.url}/metrics`)).text;
}

describe('proxy resilience', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('opens the breaker of a failing upstream, half-opens after openMs and closes on a good probe', async () => {
    h = await startHarness(
      [{}, {}],
      (urls) => ({
        auth: 'none',
        pools: {
          local: quietPool(urls, {
            balancer: { type: 'weighted-round-robin' },
            circuitBreaker: { consecutiveFailures: 3, minRequests: 1000, openMs: 5_000, halfOpenProbes: 1 },
          }),
        },
        routes: route,
        retry: { maxAttempts: 2, baseBackoffMs: 0, budget: { minConcurrent: 10 } },
      }),
      { manualClock: true },
    );
    const [a] = h.sims;
    a.configure({ forceStatus: { status: 503 } });
    for (let i = 0; i < 6; i++) expect((await post(api(h), chat())).status).toBe(200);
    expect(a.stats().received).toBe(3);
    expect(metricValue(await metrics(h), 'surgeguard_proxy_circuit_breaker_state', { upstream: 'sim0' })).toBe(2);

    for (let i = 0; i < 4; i++) await post(api(h), chat());
    expect(a.stats().received).toBe(3);

    a.configure({ forceStatus: undefined });
    h.clock!.advance(5_000);
    for (let i = 0; i < 4; i++) expect((await post(api(h), chat())).status).toBe(200);
    expect(a.stats().served).toBeGreaterThan(0);
    const text = await metrics(h);
    expect(metricValue(text, 'surgeguard_proxy_circuit_breaker_state', { upstream: 'sim0' })).toBe(0);
    expect(metricValue(text, 'surgeguard_proxy_circuit_breaker_transitions_total', { upstream: 'sim0', to: 'half-open' })).toBe(1);
    expect(metricValue(text, 'surgeguard_proxy_circuit_breaker_transitions_total', { upstream: 'sim0', to: 'closed' })).toBe(1);
  });

  it('ejects an upstream after consecutive 5xx and takes it back after the ejection time', async () => {
    h = await startHarness(
      [{}, {}],
      (urls) => ({
        auth: 'none',
        pools: {
          local: quietPool(urls, {
            balancer: { type: 'weighted-round-robin' },
            outlierDetection: { consecutiveFailures: 2, baseEjectionMs: 30_000, maxEjectionPercent: 50 },
          }),
        },
        routes: route,
        retry: { maxAttempts: 2, baseBackoffMs: 0, budget: { minConcurrent: 10 } },
      }),
      { manualClock: true },
    );
    const [a] = h.sims;
    a.configure({ forceStatus: { status: 502 } });
    for (let i = 0; i < 4; i++) expect((await post(api(h), chat())).status).toBe(200);
    expect(a.stats().received).toBe(2);
    expect(metricValue(await metrics(h), 'surgeguard_proxy_upstream_ejections_total', { upstream: 'sim0' })).toBe(1);
    for (let i = 0; i < 4; i++) await post(api(h), chat());
    expect(a.stats().received).toBe(2);

    a.configure({ forceStatus: undefined });
    h.clock!.advance(30_000);
    for (let i = 0; i < 4; i++) await post(api(h), chat());
    expect(a.stats().served).toBe(2);
  });

  it('holds retries within the budget when the whole pool fails', async () => {
    h = await startHarness(
      [{}, {}, {}],
      (urls) => ({
        auth: 'none',
        pools: { local: quietPool(urls) },
        routes: route,
        retry: { maxAttempts: 5, baseBackoffMs: 0, budget: { ratio: 0.2, minConcurrent: 0, windowMs: 60_000 } },
      }),
      { manualClock: true },
    );
    for (const s of h.sims) s.configure({ forceStatus: { status: 503 } });
    const requests = 50;
    for (let i = 0; i < requests; i++) expect((await post(api(h), chat())).status).toBe(503);
    const attempts = h.sims.reduce((n, s) => n + s.stats().received, 0);
    expect(attempts).toBeGreaterThan(requests);
    expect(attempts).toBeLessThanOrEqual(requests * 1.2);
    expect(metricValue(await metrics(h), 'surgeguard_proxy_retry_budget_exhausted_total', { pool: 'local' })).toBeGreaterThan(0);
  });

  it('honours an upstream Retry-After: the upstream gets no traffic until it passed', async () => {
    h = await startHarness(
      [{}, {}],
      (urls) => ({
        auth: 'none',
        pools: { local: quietPool(urls, { balancer: { type: 'weighted-round-robin' } }) },
        routes: route,
        retry: { maxAttempts: 2, baseBackoffMs: 0 },
      }),
      { manualClock: true },
    );
    const [a, b] = h.sims;
    a.configure({ forceStatus: { status: 429, retryAfterS: 2 } });
    expect((await post(api(h), chat())).status).toBe(200);
    expect(a.stats().received).toBe(1);
    a.configure({ forceStatus: undefined });
    for (let i = 0; i < 6; i++) await post(api(h), chat());
    expect(a.stats().received).toBe(1);
    expect(b.stats().served).toBe(7);
    h.clock!.advance(2_000);
    for (let i = 0; i < 4; i++) await post(api(h), chat());
    expect(a.stats().served).toBe(2);
  });

  it('passes the last 429 and its Retry-After to the client when every upstream is throttling', async () => {
    h = await startHarness(
      [{}, {}],
      (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: route, retry: { maxAttempts: 3, baseBackoffMs: 0 } }),
      { manualClock: true },
    );
    for (const s of h.sims) s.configure({ forceStatus: { status: 429, retryAfterS: 7 } });
    const r = await post(api(h), chat());
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('7');
    const again = await post(api(h), chat());
    expect(again.status).toBe(503);
    expect(Number(again.headers['retry-after'])).toBe(7);
    expect(again.json().error.code).toBe('no_upstream_available');
  });

  it('tries the least recently failed upstream when every breaker is open', async () => {
    h = await startHarness(
      [{}, {}],
      (urls) => ({
        auth: 'none',
        pools: { local: quietPool(urls, { balancer: { type: 'weighted-round-robin' }, circuitBreaker: { consecutiveFailures: 1, openMs: 60_000 } }) },
        routes: route,
        retry: { maxAttempts: 1 },
      }),
      { manualClock: true },
    );
    for (const s of h.sims) s.configure({ forceStatus: { status: 503 } });
    expect((await post(api(h), chat())).headers['x-sim-name']).toBeUndefined();
    expect(h.sims[0].stats().received).toBe(1);
    h.clock!.advance(1_000);
    expect((await post(api(h), chat())).status).toBe(503);
    expect(h.sims[1].stats().received).toBe(1);
    h.clock!.advance(1_000);
    for (const s of h.sims) s.configure({ forceStatus: undefined });
    const r = await post(api(h), chat());
    expect(r.status).toBe(200);
    expect(r.headers['x-sim-name']).toBe('sim0');
    const text = await metrics(h);
    expect(metricValue(text, 'surgeguard_proxy_last_resort_attempts_total', { upstream: 'sim0' })).toBe(1);
    expect(metricValue(text, 'surgeguard_proxy_circuit_breaker_state', { upstream: 'sim0' })).toBe(0);
  });

  it('marks an upstream unhealthy after failed active probes, skips it, and turns not ready when none is healthy', async () => {
    h = await startHarness([{}, {}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { health: { enabled: true, intervalMs: 20, timeoutMs: 200, unhealthyThreshold: 2, healthyThreshold: 1 } }) },
      routes: route,
    }));
    const harness = h;
    const [a, b] = harness.sims;
    a.configure({ healthy: false });
    const until = async (f: () => Promise<boolean>) => {
      for (let i = 0; i < 300 && !(await f()); i++) await new Promise((r) => setTimeout(r, 10));
    };
    await until(async () => metricValue(await metrics(harness), 'surgeguard_proxy_upstream_healthy', { upstream: 'sim0' }) === 0);
    a.resetStats();
    for (let i = 0; i < 6; i++) expect((await post(api(harness), chat())).status).toBe(200);
    expect(a.stats().received).toBe(0);
    expect((await get(`${harness.url}/readyz`)).status).toBe(200);
    b.configure({ healthy: false });
    await until(async () => (await get(`${harness.url}/readyz`)).status === 503);
    expect((await get(`${harness.url}/readyz`)).json().status).toBe('no healthy upstream');
    a.configure({ healthy: true });
    await until(async () => (await get(`${harness.url}/readyz`)).status === 200);
    expect((await get(`${harness.url}/readyz`)).status).toBe(200);
  });
});

describe('retry budget accounting', () => {
  it('returns retries that were granted but had nowhere to go, so the in-flight floor is not used up', async () => {
    const h = await startHarness(
      [{}, {}],
      (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: route, retry: { maxAttempts: 3, baseBackoffMs: 0, budget: { ratio: 0, minConcurrent: 1 } } }),
      { manualClock: true },
    );
    try {
      for (const s of h.sims) s.configure({ forceStatus: { status: 503 } });
      for (let i = 0; i < 5; i++) expect((await post(api(h), chat())).status).toBe(503);
      expect(h.proxy.dispatcher.budget.stats.retriesInFlight).toBe(0);
      // every request got its one retry from the floor, then went back to admission once with
      // its last attempt (a pool answering "full" is waited for, not passed on): 3 attempts each
      expect(h.sims[0].stats().received + h.sims[1].stats().received).toBe(15);
    } finally {
      await h.close();
    }
  });
});
