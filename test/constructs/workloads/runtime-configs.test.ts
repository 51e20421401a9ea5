import { EXTERNAL_PROVIDER_POOL, proxyRuntimeConfig, RuntimeConfigInputs, workerRuntimeConfig } from '../../../constructs/workloads/runtime-configs';
import { CROSS_REGION_KEY_NAME, RUNTIME_SECRET_ENV } from '../../../contract/secrets';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { WorkerConfigSchema } from '../../../runtime/worker/config';

const inputs: RuntimeConfigInputs = {
  modelName: 'deepseek-v3',
  modelServerUrl: 'http://surgeguard-model-server.surgeguard-inference.svc.cluster.local:8000',
  redisHost: 'clustercfg.surgeguard-prod-use1.abc.use1.cache.amazonaws.com',
  modelServerSlots: 256,
  region: 'us-east-1',
  otherRegions: [
    { region: 'eu-west-1', url: 'https://eu-west-1.api.example.com' },
    { region: 'ap-northeast-1', url: 'https://ap-northeast-1.api.example.com' },
  ],
  apiKeys: [{ name: 'realtime', sha256: 'c'.repeat(64), tier: 'critical' }],
  workerDrainSeconds: 60,
};
const crossRegionKey = { name: CROSS_REGION_KEY_NAME, key: { fromEnv: RUNTIME_SECRET_ENV.crossRegionKey }, tier: 'critical', rateLimit: 'none', firstPoolOnly: true };

describe('runtime configs rendered by the stacks', () => {
  it('are valid proxy configs for the proxy schema, with secrets only as environment references', () => {
    const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig(inputs));
    expect(parsed.redis).toMatchObject({ tls: true, cluster: true, port: 6379, password: { fromEnv: RUNTIME_SECRET_ENV.redisAuthToken } });
    expect(parsed.jobs?.amqp.url).toEqual({ fromEnv: RUNTIME_SECRET_ENV.amqpUrl });
    expect(parsed.jobs?.amqp.topologyPrefix).toBe('surgeguard');
    expect(parsed.routes).toEqual([expect.objectContaining({ model: 'deepseek-v3' })]);
  });

  it('use the API keys of the environment when it lists them', () => {
    const sha256 = 'a'.repeat(64);
    const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig({ ...inputs, apiKeys: [{ name: 'batch-team', sha256, tier: 'low' }] }));
    expect(parsed.auth).toEqual({ keys: [{ name: 'batch-team', sha256, tier: 'low', rateLimit: 'none' }, crossRegionKey] });
  });

  it('hold a key to the quota the environment gives it, and leave a key without one to admission alone (no built-in 10 req/s)', () => {
    const parsed = ProxyConfigSchema.parse(
      proxyRuntimeConfig({
        ...inputs,
        apiKeys: [
          { name: 'tenant-a', sha256: 'a'.repeat(64), tier: 'medium', rateLimit: { requestsPerSecond: 50, burst: 100 } },
          { name: 'realtime', sha256: 'b'.repeat(64), tier: 'critical' },
        ],
      }),
    );
    expect(parsed.auth).toEqual({
      keys: [
        { name: 'tenant-a', sha256: 'a'.repeat(64), tier: 'medium', rateLimit: { ratePerSecond: 50, burst: 100 } },
        { name: 'realtime', sha256: 'b'.repeat(64), tier: 'critical', rateLimit: 'none' },
        crossRegionKey,
      ],
    });
  });

  it('refuse an API key given in clear instead of its SHA-256, naming it', () => {
    expect(() => proxyRuntimeConfig({ ...inputs, apiKeys: [{ name: 'x', sha256: 'sk-live-123', tier: 'low' }] })).toThrow('apiKeys[0].sha256');
    expect(() => proxyRuntimeConfig({ ...inputs, apiKeys: [{ name: 'x', sha256: 'b'.repeat(64), tier: 'urgent' }] })).toThrow('apiKeys[0].tier');
  });

  it('are valid worker configs for the worker schema, giving jobs back before the pod is killed', () => {
    const parsed = WorkerConfigSchema.parse(workerRuntimeConfig(inputs));
    expect(parsed.amqp.url).toEqual({ fromEnv: RUNTIME_SECRET_ENV.amqpUrl });
    expect(parsed.drainTimeoutMs).toBe(45_000);
    expect(parsed.upstream.upstreams).toEqual([]);
    expect(parsed.upstream.discover).toEqual([expect.objectContaining({ url: inputs.modelServerUrl, slots: 256 })]);
  });

  it('make every model-server pod a member with its --max-num-seqs slots, then spill to the other regions, every pool guarded', () => {
    const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig(inputs));
    expect(parsed.pools['model-servers'].discover).toEqual([expect.objectContaining({ url: inputs.modelServerUrl, slots: 256, region: 'us-east-1' })]);
    expect(parsed.routes[0].pools).toEqual(['model-servers', 'region-eu-west-1', 'region-ap-northeast-1']);
    expect(parsed.pools['region-eu-west-1'].upstreams).toEqual([expect.objectContaining({ url: 'https://eu-west-1.api.example.com', region: 'eu-west-1' })]);
    // admission guards every pool of every route; no hand-set cap anywhere: the limit follows the slots
    expect(parsed.admission.enabled).toBe(true);
    for (const route of parsed.routes) {
      for (const entry of route.pools) {
        const name = typeof entry === 'string' ? entry : entry.pool;
        const cfg = parsed.admission.pools[name] ?? parsed.admission.defaults;
        expect(cfg.maxConcurrency).toBeUndefined();
        expect(cfg.replicas.enabled).toBe(true);
      }
    }
    expect(parsed.admission.defaults.saturation.enabled).toBe(true);
  });

  it('call the other regions with the cross-region key and accept it from them at the class a spilled request carries, for the local pool only', () => {
    const rendered = proxyRuntimeConfig(inputs);
    for (const region of ['eu-west-1', 'ap-northeast-1']) {
      // probed at the other region's readiness: unready while no model server serves there
      expect(rendered.pools![`region-${region}`].health).toEqual({ path: '/readyz' });
      expect(rendered.pools![`region-${region}`].upstreams).toEqual([
        { url: `https://${region}.api.example.com`, name: region, region, apiKey: { fromEnv: RUNTIME_SECRET_ENV.crossRegionKey } },
      ]);
    }
    const parsed = ProxyConfigSchema.parse(rendered);
    const auth = parsed.auth as Exclude<typeof parsed.auth, 'none'>;
    const key = auth.keys.find((k) => k.name === CROSS_REGION_KEY_NAME)!;
    // critical is the highest class a spilled request may carry (low never spills): X-Priority lowers it
    expect(key).toEqual({ ...crossRegionKey, tier: 'critical' });
    expect(key.sha256).toBeUndefined();
    // nothing in the file is the key: only the variable's name
    expect(JSON.stringify(rendered)).not.toMatch(/"(key|apiKey)":"/);
  });

  it('have no cross-region key and no region pool in a single-region environment', () => {
    const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig({ ...inputs, otherRegions: [] }));
    expect(parsed.routes[0].pools).toEqual(['model-servers']);
    expect(parsed.auth).toEqual({ keys: [expect.objectContaining({ name: 'realtime' })] });
  });

  it('refuse other regions without API keys, and an environment key taking the cross-region key\'s name, naming the field', () => {
    expect(() => proxyRuntimeConfig({ ...inputs, apiKeys: [] })).toThrow(/^apiKeys: a cell with other regions needs API keys/);
    expect(() => proxyRuntimeConfig({ ...inputs, apiKeys: [{ name: CROSS_REGION_KEY_NAME, sha256: 'd'.repeat(64), tier: 'low' }] })).toThrow('apiKeys[0].name');
  });

  describe('with an external provider', () => {
    const provider = { url: 'https://api.deepseek.com', model: 'deepseek-chat', maxConcurrency: 40 };

    it('put it last in the route, after the local pool and the other regions, for critical, high and medium by default', () => {
      const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig({ ...inputs, externalProvider: provider }));
      expect(parsed.routes[0].pools).toEqual([
        'model-servers',
        'region-eu-west-1',
        'region-ap-northeast-1',
        { pool: EXTERNAL_PROVIDER_POOL, model: 'deepseek-chat', classes: ['critical', 'high', 'medium'] },
      ]);
    });

    it('send its key from the environment variable the workloads fill from Secrets Manager, never a value', () => {
      const rendered = proxyRuntimeConfig({ ...inputs, externalProvider: provider });
      expect(rendered.pools![EXTERNAL_PROVIDER_POOL].upstreams).toEqual([
        { url: 'https://api.deepseek.com', name: EXTERNAL_PROVIDER_POOL, apiKey: { fromEnv: RUNTIME_SECRET_ENV.externalProviderKey }, slots: 40 },
      ]);
    });

    it('keep the classes the environment names, and no model alias when the provider knows the model by the same name', () => {
      const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig({ ...inputs, externalProvider: { url: provider.url, classes: ['critical'], maxConcurrency: 8 } }));
      expect(parsed.routes[0].pools.at(-1)).toEqual({ pool: EXTERNAL_PROVIDER_POOL, classes: ['critical'] });
    });

    it('give every pool of the route what its admission needs: slots for the pods and the provider, the other regions\' 503s to learn from', () => {
      const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig({ ...inputs, externalProvider: provider }));
      expect(parsed.admission.enabled).toBe(true);
      const names = parsed.routes[0].pools.map((e) => (typeof e === 'string' ? e : e.pool));
      for (const name of names) {
        const cfg = parsed.admission.pools[name] ?? parsed.admission.defaults;
        expect(cfg.maxConcurrency).toBeUndefined();
        expect(cfg.replicas.enabled).toBe(true);
      }
      // the pods: each member's slots; scraped for vLLM's gauges
      expect(parsed.pools['model-servers'].discover[0].slots).toBe(256);
      expect(parsed.admission.pools['model-servers']).toBeUndefined();
      // another region: no slots (its own admission answers 503 when full), no /metrics to scrape, health on its /health
      for (const region of ['eu-west-1', 'ap-northeast-1']) {
        expect(parsed.pools[`region-${region}`].upstreams[0].slots).toBeUndefined();
        expect(parsed.admission.pools[`region-${region}`].saturation.enabled).toBe(false);
        expect(parsed.pools[`region-${region}`].health).toMatchObject({ enabled: true, path: '/readyz' });
      }
      // the provider: its slots are the region's cap, divided among the replicas; no /metrics, no /health of its own
      expect(parsed.pools[EXTERNAL_PROVIDER_POOL].upstreams[0].slots).toBe(40);
      expect(parsed.admission.pools[EXTERNAL_PROVIDER_POOL].saturation.enabled).toBe(false);
      expect(parsed.pools[EXTERNAL_PROVIDER_POOL].health.enabled).toBe(false);
    });

    it('follow the provider in a single-region environment right after the local pool', () => {
      const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig({ ...inputs, otherRegions: [], externalProvider: provider }));
      expect(parsed.routes[0].pools.map((e) => (typeof e === 'string' ? e : e.pool))).toEqual(['model-servers', EXTERNAL_PROVIDER_POOL]);
    });
  });

  it('declare the slots of every member of every pool the proxy scrapes, so that no rendered pool is one whose capacity cannot be learned', () => {
    // the proxy warns of a scraped member with neither declared slots nor vLLM's gauges
    // (admission/gauge-watch.ts); the stacks give it no such member whatever the environment
    const provider = { url: 'https://api.deepseek.com', model: 'deepseek-chat', maxConcurrency: 40 };
    const variants = [inputs, { ...inputs, otherRegions: [] }, { ...inputs, externalProvider: provider }, { ...inputs, otherRegions: [], externalProvider: provider }];
    for (const variant of variants) {
      const parsed = ProxyConfigSchema.parse(proxyRuntimeConfig(variant));
      const scraped = Object.keys(parsed.pools).filter((name) => (parsed.admission.pools[name] ?? parsed.admission.defaults).saturation.enabled);
      expect(scraped).toContain('model-servers');
      for (const name of scraped) {
        const pool = parsed.pools[name];
        for (const member of [...pool.upstreams, ...pool.discover]) expect({ pool: name, url: member.url, slots: member.slots }).toEqual({ pool: name, url: member.url, slots: expect.any(Number) });
      }
    }
  });

  it('stop synth naming the field when the runtime schema refuses what they render', () => {
    expect(() => proxyRuntimeConfig({ ...inputs, modelServerSlots: 0 })).toThrow('proxy runtime config: pools.model-servers.discover.0.slots');
    expect(() => workerRuntimeConfig({ ...inputs, modelServerSlots: 1.5 })).toThrow('worker runtime config: upstream.discover.0.slots');
  });

  it('make the worker wait for a replica before acking a result when the Redis shards have replicas', () => {
    expect(WorkerConfigSchema.parse(workerRuntimeConfig({ ...inputs, redisReplicasPerShard: 2 })).resultDurability).toEqual({ replicas: 1, timeoutMs: 1_000 });
    expect(WorkerConfigSchema.parse(workerRuntimeConfig({ ...inputs, redisReplicasPerShard: 0 })).resultDurability.replicas).toBe(0);
  });
});
