import { proxyRuntimeConfig, RuntimeConfigInputs, workerRuntimeConfig } from '../../../constructs/workloads/runtime-configs';
import { RUNTIME_SECRET_ENV } from '../../../contract/secrets';
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
  workerDrainSeconds: 60,
};

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
    expect(parsed.auth).toEqual({ keys: [{ name: 'batch-team', sha256, tier: 'low', rateLimit: 'none' }] });
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

  it('stop synth naming the field when the runtime schema refuses what they render', () => {
    expect(() => proxyRuntimeConfig({ ...inputs, modelServerSlots: 0 })).toThrow('proxy runtime config: pools.model-servers.discover.0.slots');
    expect(() => workerRuntimeConfig({ ...inputs, modelServerSlots: 1.5 })).toThrow('worker runtime config: upstream.discover.0.slots');
  });

  it('make the worker wait for a replica before acking a result when the Redis shards have replicas', () => {
    expect(WorkerConfigSchema.parse(workerRuntimeConfig({ ...inputs, redisReplicasPerShard: 2 })).resultDurability).toEqual({ replicas: 1, timeoutMs: 1_000 });
    expect(WorkerConfigSchema.parse(workerRuntimeConfig({ ...inputs, redisReplicasPerShard: 0 })).resultDurability.replicas).toBe(0);
  });
});
