import { randomBytes } from 'node:crypto';
import { hashApiKey } from '../../../runtime/proxy/auth';
import { ProxyConfigSchema, type ProxyConfigInput } from '../../../runtime/proxy/config';
import { createProxy, type Proxy } from '../../../runtime/proxy/server';
import { startSimulator, type Simulator } from '../../../runtime/simulator/simulator';
import { chat, get, metricValue, post, quietPool, silentLogger } from '../../support/proxy-harness';
import { freePort } from '../../support/services';

jest.setTimeout(30_000);

/**
 * Two real proxies as two regions, each with its model servers first and the other region's
 * proxies next in the route, like the rendered cell config: a spilled request reaches the other
 * region with the cross-region key (from the environment, never in the file) at its own class,
 * and is never spilled again.
 */
describe('cross-region spill between two proxies', () => {
  const CROSS_ENV = 'SURGEGUARD_CROSS_REGION_KEY';
  const PROVIDER_ENV = 'SURGEGUARD_EXTERNAL_PROVIDER_KEY';
  const crossKey = `xr-${randomBytes(16).toString('hex')}`;
  const clientKey = `sk-${randomBytes(12).toString('hex')}`;
  const providerKey = `pk-${randomBytes(12).toString('hex')}`;
  const env = { [CROSS_ENV]: crossKey, [PROVIDER_ENV]: providerKey };
  const noPods = async () => [];
  let proxies: Proxy[] = [];
  let sims: Simulator[] = [];

  afterEach(async () => {
    await Promise.all(proxies.map((p) => p.drain()));
    await Promise.all(sims.map((s) => s.close()));
    proxies = [];
    sims = [];
  });

  /**
   * One region's config: its model servers (none: the pool is gone), then the other region
   * through its proxy, then (when given) an external provider, like the rendered cell config.
   */
  function regionConfig(self: string, port: number, local: string[], other: { region: string; url: string }, provider?: string): ProxyConfigInput {
    const providerPools: Record<string, ReturnType<typeof quietPool>> = provider ? { provider: quietPool([provider], { upstreams: [{ url: provider, name: 'provider', apiKey: { fromEnv: PROVIDER_ENV } }] }) } : {};
    return {
      server: { host: '127.0.0.1', port },
      auth: {
        keys: [
          { name: 'realtime', sha256: hashApiKey(clientKey), tier: 'high', maxClass: 'critical', rateLimit: 'none' },
          { name: 'cross-region', key: { fromEnv: CROSS_ENV }, tier: 'medium', maxClass: 'critical', rateLimit: 'none', firstPoolOnly: true },
        ],
      },
      pools: {
        // no pods: the headless Service's name answers no address (the local pool is gone)
        'model-servers':
          local.length > 0
            ? quietPool(local, { upstreams: local.map((url, i) => ({ url, name: `${self}-pod${i}`, region: self, slots: 2 })) })
            : quietPool([], { upstreams: [], discover: [{ url: 'http://model-server.cell.test:8000', region: self, slots: 2 }] }),
        [`region-${other.region}`]: quietPool([other.url], { upstreams: [{ url: other.url, name: other.region, region: other.region, apiKey: { fromEnv: CROSS_ENV } }] }),
        ...providerPools,
      },
      routes: [{ model: 'sim-model', pools: ['model-servers', `region-${other.region}`, ...Object.keys(providerPools)] }],
      admission: { pools: { [`region-${other.region}`]: { saturation: { enabled: false } } } },
    };
  }

  async function twoRegions(usPods: number, euPods: number, provider?: Simulator): Promise<{ us: Proxy; eu: Proxy; usUrl: string; euUrl: string }> {
    sims = await Promise.all(Array.from({ length: usPods + euPods }, (_, i) => startSimulator({ name: i < usPods ? `us-pod${i}` : `eu-pod${i - usPods}`, slots: 2, outputTokens: 4, tokensPerSecond: 0 })));
    if (provider) sims.push(provider);
    const [usPort, euPort] = [await freePort(), await freePort()];
    const usUrl = `http://127.0.0.1:${usPort}`;
    const euUrl = `http://127.0.0.1:${euPort}`;
    const us = createProxy(ProxyConfigSchema.parse(regionConfig('us-east-1', usPort, sims.slice(0, usPods).map((s) => s.url), { region: 'eu-west-1', url: euUrl }, provider?.url)), { logger: silentLogger(), env, resolver: noPods });
    const eu = createProxy(ProxyConfigSchema.parse(regionConfig('eu-west-1', euPort, sims.slice(usPods, usPods + euPods).map((s) => s.url), { region: 'us-east-1', url: usUrl })), { logger: silentLogger(), env, resolver: noPods });
    proxies = [us, eu];
    await us.listen();
    await eu.listen();
    return { us, eu, usUrl, euUrl };
  }

  it('serves a request of a region without model servers in the other region, with the cross-region key and at the caller\'s class', async () => {
    const { usUrl, euUrl } = await twoRegions(0, 1);
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'critical', 'x-request-timeout': '10' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-sim-name']).toBe('eu-pod0');
    // the other region admitted it as the cross-region key at critical, not at that key's tier
    const euMetrics = (await get(`${euUrl}/metrics`)).text;
    expect(metricValue(euMetrics, 'surgeguard_proxy_admitted_total', { pool: 'model-servers', class: 'critical' })).toBe(1);
    expect(metricValue(euMetrics, 'surgeguard_proxy_admitted_total', { pool: 'model-servers', class: 'medium' })).toBe(0);
    // the client's key never left its region: the pod saw the class, not a key
    expect(sims[0].lastRequest()?.headers.authorization).toBeUndefined();
    expect(sims[0].lastRequest()?.headers['x-priority']).toBe('critical');
  });

  it('never spills a spilled request again: with no model servers in either region it fails, not sent back', async () => {
    const { usUrl, euUrl } = await twoRegions(0, 0);
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'critical', 'x-request-timeout': '3' });
    expect(reply.status).toBe(503);
    const [usMetrics, euMetrics] = await Promise.all([get(`${usUrl}/metrics`), get(`${euUrl}/metrics`)]);
    // us sent it to eu once; eu did not send it back: us admitted nothing from eu
    expect(metricValue(usMetrics.text, 'surgeguard_proxy_admitted_total', { pool: 'region-eu-west-1', class: 'critical' })).toBe(1);
    expect(metricValue(euMetrics.text, 'surgeguard_proxy_admitted_total', { pool: 'region-us-east-1', class: 'critical' })).toBe(0);
    expect(metricValue(usMetrics.text, 'surgeguard_proxy_admitted_total', { pool: 'model-servers', class: 'critical' })).toBe(0);
  });

  // The deadline (60 s) is twice the test's timeout: a request that waited for a pod would fail the test.
  it('answers a spill to a region with no live model server at once with 503 and Retry-After, not at the caller\'s deadline', async () => {
    const { usUrl, euUrl } = await twoRegions(0, 0);
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'critical', 'x-request-timeout': '60' });
    expect(reply.status).toBe(503);
    expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(reply.headers['x-surgeguard-shed']).toBe('no_capacity');
    expect(reply.json().error.code).toBe('overloaded');
    // eu was asked (us spilled it there) and turned it away because nothing serves there, not by a timeout
    const euMetrics = (await get(`${euUrl}/metrics`)).text;
    expect(metricValue(euMetrics, 'surgeguard_proxy_shed_total', { pool: 'model-servers', class: 'critical', reason: 'no_capacity' })).toBe(1);
    expect(metricValue(euMetrics, 'surgeguard_proxy_shed_total', { pool: 'model-servers', class: 'critical', reason: 'timeout' }) ?? 0).toBe(0);
    const usMetrics = (await get(`${usUrl}/metrics`)).text;
    expect(metricValue(usMetrics, 'surgeguard_proxy_admitted_total', { pool: 'region-eu-west-1', class: 'critical' })).toBe(1);
  });

  it('moves a spilled request the other region cannot serve on to the next pool of the route (the external provider)', async () => {
    const provider = await startSimulator({ name: 'provider', slots: 4, outputTokens: 4, tokensPerSecond: 0 });
    const { usUrl, euUrl } = await twoRegions(0, 0, provider);
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'high', 'x-request-timeout': '60' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-sim-name']).toBe('provider');
    // with the provider's own key, never the client's nor the cross-region one
    expect(provider.lastRequest()?.headers.authorization).toBe(`Bearer ${providerKey}`);
    const euMetrics = (await get(`${euUrl}/metrics`)).text;
    expect(metricValue(euMetrics, 'surgeguard_proxy_shed_total', { pool: 'model-servers', class: 'high', reason: 'no_capacity' })).toBe(1);
  });

  it('sheds a low request of a region without model servers at once: low never spills', async () => {
    const provider = await startSimulator({ name: 'provider', slots: 4, outputTokens: 4, tokensPerSecond: 0 });
    const { usUrl, euUrl } = await twoRegions(0, 1, provider);
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'low', 'x-request-timeout': '60' });
    expect(reply.status).toBe(503);
    expect(reply.headers['x-surgeguard-shed']).toBe('no_capacity');
    expect(provider.lastRequest()).toBeUndefined();
    const euMetrics = (await get(`${euUrl}/metrics`)).text;
    expect(metricValue(euMetrics, 'surgeguard_proxy_admitted_total', { pool: 'model-servers', class: 'low' })).toBe(0);
  });

  it('refuses the cross-region key\'s bearer when it is not the one the environment holds', async () => {
    const { euUrl } = await twoRegions(0, 1);
    const reply = await post(`${euUrl}/v1/chat/completions`, chat(), { authorization: `Bearer xr-${'0'.repeat(32)}` });
    expect(reply.status).toBe(401);
  });

  it('stops start-up naming the field when the cross-region key\'s variable is not set', () => {
    const config = ProxyConfigSchema.parse(regionConfig('us-east-1', 0, [], { region: 'eu-west-1', url: 'http://127.0.0.1:9' }));
    expect(() => createProxy(config, { logger: silentLogger(), env: {}, resolver: noPods })).toThrow(/auth\.keys\[1\]\.key|pools\.region-eu-west-1/);
  });
});
