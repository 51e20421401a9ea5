import { Harness, chat, get, metricValue, post, quietPool, startHarness } from '../../support/proxy-harness';

const api = (h: Harness) => `${h.url}/v1/chat/completions`;

async function namesOf(h: Harness, n: number, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await post(api(h), chat(), headers);
    expect(r.status).toBe(200);
    const name = String(r.headers['x-sim-name']);
    out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

describe('proxy routing', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('splits traffic by weight with smooth weighted round robin', async () => {
    h = await startHarness([{}, {}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { upstreams: [{ url: urls[0], name: 'a', weight: 3 }, { url: urls[1], name: 'b', weight: 1 }], balancer: { type: 'weighted-round-robin' } }) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
    expect(await namesOf(h, 80)).toEqual({ sim0: 60, sim1: 20 });
  });

  it('keeps one user on one instance with consistent hashing', async () => {
    h = await startHarness([{}, {}, {}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { balancer: { type: 'consistent-hash' } }) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
    const seen = new Set<string>();
    for (const user of ['u-1', 'u-2', 'u-3', 'u-4', 'u-5', 'u-6']) {
      const names = await namesOf(h, 10, { 'x-user-id': user });
      expect(Object.values(names)).toEqual([10]);
      seen.add(Object.keys(names)[0]);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('balances least-outstanding across members', async () => {
    h = await startHarness([{}, {}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { balancer: { type: 'least-outstanding' } }) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
    const results = await Promise.all(Array.from({ length: 40 }, () => post(api(h!), chat())));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(h.sims[0].stats().served).toBeGreaterThan(0);
    expect(h.sims[1].stats().served).toBeGreaterThan(0);
  });

  it('fails over to the other upstream when one dies, without client errors', async () => {
    h = await startHarness([{}, {}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { balancer: { type: 'weighted-round-robin' } }) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
    await h.sims[0].close();
    const names = await namesOf(h, 10);
    expect(names).toEqual({ sim1: 10 });
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_upstream_retries_total', { upstream: 'sim0', reason: 'connect' })).toBeGreaterThan(0);
  });

  it('falls back to the next pool of the chain and renames the model for it', async () => {
    h = await startHarness([{}, { models: ['provider-model'] }], (urls) => ({
      auth: 'none',
      pools: {
        local: quietPool([urls[0]]),
        provider: { ...quietPool([urls[1]]), upstreams: [{ url: urls[1], name: 'provider', apiKey: { fromEnv: 'PROVIDER_KEY' } }] },
      },
      routes: [{ model: 'sim-model', pools: ['local', { pool: 'provider', model: 'provider-model' }] }],
    }), { env: { PROVIDER_KEY: 'sk-provider' } });
    h.sims[0].configure({ forceStatus: { status: 503 } });
    const r = await post(api(h), chat());
    expect(r.status).toBe(200);
    expect(r.headers['x-sim-name']).toBe('sim1');
    const seen = h.sims[1].lastRequest()!;
    expect(seen.body.model).toBe('provider-model');
    expect(seen.headers.authorization).toBe('Bearer sk-provider');
  });

  it('passes X-Request-Id upstream and back, and generates one when absent', async () => {
    h = await startHarness([{}], (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: [{ model: 'sim-model', pools: ['local'] }] }));
    const given = await post(api(h), chat(), { 'x-request-id': 'req-abc-123' });
    expect(given.headers['x-request-id']).toBe('req-abc-123');
    expect(h.sims[0].lastRequest()!.headers['x-request-id']).toBe('req-abc-123');
    const generated = await post(api(h), chat());
    expect(String(generated.headers['x-request-id'])).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.sims[0].lastRequest()!.headers['x-request-id']).toBe(generated.headers['x-request-id']);
  });

  it('lists the configured models', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }, { model: 'other', pools: ['local'] }],
    }));
    const r = await get(`${h.url}/v1/models`);
    expect(r.json().data.map((m: { id: string }) => m.id)).toEqual(['sim-model', 'other']);
  });
});
