import { proxyRuntimeConfig, RUNTIME_SECRET_ENV, RuntimeConfigInputs, workerRuntimeConfig } from '../../../constructs/workloads/runtime-configs';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { WorkerConfigSchema } from '../../../runtime/worker/config';

const inputs: RuntimeConfigInputs = {
  modelName: 'deepseek-v3',
  modelServerUrl: 'http://surgeguard-model-server.surgeguard-inference.svc.cluster.local:8000',
  redisHost: 'clustercfg.surgeguard-prod-use1.abc.use1.cache.amazonaws.com',
  region: 'us-east-1',
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
    expect(parsed.auth).toEqual({ keys: [{ name: 'batch-team', sha256, tier: 'low' }] });
  });

  it('refuse an API key given in clear instead of its SHA-256, naming it', () => {
    expect(() => proxyRuntimeConfig({ ...inputs, apiKeys: [{ name: 'x', sha256: 'sk-live-123', tier: 'low' }] })).toThrow('apiKeys[0].sha256');
    expect(() => proxyRuntimeConfig({ ...inputs, apiKeys: [{ name: 'x', sha256: 'b'.repeat(64), tier: 'urgent' }] })).toThrow('apiKeys[0].tier');
  });

  it('are valid worker configs for the worker schema, giving jobs back before the pod is killed', () => {
    const parsed = WorkerConfigSchema.parse(workerRuntimeConfig(inputs));
    expect(parsed.amqp.url).toEqual({ fromEnv: RUNTIME_SECRET_ENV.amqpUrl });
    expect(parsed.drainTimeoutMs).toBe(45_000);
    expect(parsed.upstream.upstreams[0].url).toBe(inputs.modelServerUrl);
  });
});
