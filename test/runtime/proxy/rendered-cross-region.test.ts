import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { proxyRuntimeConfig, type RuntimeConfigInputs } from '../../../constructs/workloads/runtime-configs';
import { RUNTIME_SECRET_ENV } from '../../../contract/secrets';
import { HOSTS_OVERRIDE_ENV } from '../../../runtime/common/upstream/resolver';
import { hashApiKey } from '../../../runtime/proxy/auth';
import { ProxyConfigSchema, type ProxyConfigInput } from '../../../runtime/proxy/config';
import { createProxy, type Proxy } from '../../../runtime/proxy/server';
import { startSimulator, type Simulator } from '../../../runtime/simulator/simulator';
import { chat, get, metricValue, post, silentLogger } from '../../support/proxy-harness';
import { freePort } from '../../support/services';

jest.setTimeout(30_000);

/**
 * Two regions running the proxy configs the stacks render (`proxyRuntimeConfig`, as the
 * workloads stack calls it), each proxy given the secrets through the variables the config names
 * (what the workloads' Secret does in a cluster, and what bench:cell does for its two regions).
 * Changed, like bench:cell: the listen address, the other region's endpoint (a local proxy, plain
 * HTTP, instead of `https://<region>.<domain>`), the model-server name's addresses
 * (SURGEGUARD_HOSTS_FILE), no Redis and no jobs API (not what this is about).
 */
describe('spill between two regions running the rendered configs', () => {
  const HOST = 'model-server.cell.test';
  const clientKey = `sk-${randomBytes(12).toString('hex')}`;
  let dir: string;
  let sims: Simulator[] = [];
  let proxies: Proxy[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-rendered-spill-'));
  });

  afterEach(async () => {
    await Promise.all(proxies.map((p) => p.drain()));
    await Promise.all(sims.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
    proxies = [];
    sims = [];
  });

  /** The rendered config of `region`, whose other region's endpoint is `otherUrl`. */
  function rendered(region: string, other: string, otherUrl: string, simPort: number): ProxyConfigInput {
    const inputs: RuntimeConfigInputs = {
      modelName: 'sim-model',
      modelServerUrl: `http://${HOST}:${simPort}`,
      modelServerSlots: 2,
      otherRegions: [{ region: other, url: otherUrl }],
      region,
      redisHost: 'clustercfg.example.cache.amazonaws.com',
      apiKeys: [{ name: 'realtime', sha256: hashApiKey(clientKey), tier: 'critical' }],
      workerDrainSeconds: 60,
    };
    return proxyRuntimeConfig(inputs);
  }

  /** Variables a proxy gets from the workloads' Secret: every `{ fromEnv }` the config names. */
  function secretEnv(config: ProxyConfigInput, crossRegionKey: string, hostsFile: string): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { [HOSTS_OVERRIDE_ENV]: hostsFile };
    for (const k of config.auth === 'none' || config.auth === undefined ? [] : config.auth.keys) if (k.key) env[k.key.fromEnv] = crossRegionKey;
    for (const p of Object.values(config.pools ?? {})) for (const u of p.upstreams ?? []) if (typeof u.apiKey === 'object') env[u.apiKey.fromEnv] = crossRegionKey;
    // the key it accepts and the key it sends: one variable, the one the workloads' Secret fills
    expect(Object.keys(env).sort()).toEqual([RUNTIME_SECRET_ENV.crossRegionKey, HOSTS_OVERRIDE_ENV].sort());
    return env;
  }

  /** us-east-1 without model servers, eu-west-1 with one; each region's proxy with its own copy of the cross-region key. */
  async function twoRegions(usKey: string, euKey: string): Promise<{ usUrl: string; euUrl: string }> {
    const simPort = await freePort();
    const euPod = `127.0.0.${2 + (randomBytes(1)[0] % 200)}`;
    sims = [await startSimulator({ host: euPod, port: simPort, name: 'eu-pod0', slots: 2, outputTokens: 4, tokensPerSecond: 0 })];
    const [usPort, euPort] = [await freePort(), await freePort()];
    const [usUrl, euUrl] = [`http://127.0.0.1:${usPort}`, `http://127.0.0.1:${euPort}`];
    const hosts = { us: join(dir, 'us-hosts.json'), eu: join(dir, 'eu-hosts.json') };
    writeFileSync(hosts.us, JSON.stringify({ [HOST]: [] }));
    writeFileSync(hosts.eu, JSON.stringify({ [HOST]: [euPod] }));
    const start = async (config: ProxyConfigInput, port: number, env: NodeJS.ProcessEnv) => {
      const parsed = ProxyConfigSchema.parse({ ...config, redis: undefined, jobs: undefined, server: { ...config.server, host: '127.0.0.1', port } });
      const proxy = createProxy(parsed, { logger: silentLogger(), env });
      proxies.push(proxy);
      await proxy.listen();
    };
    const us = rendered('us-east-1', 'eu-west-1', euUrl, simPort);
    const eu = rendered('eu-west-1', 'us-east-1', usUrl, simPort);
    await start(us, usPort, secretEnv(us, usKey, hosts.us));
    await start(eu, euPort, secretEnv(eu, euKey, hosts.eu));
    return { usUrl, euUrl };
  }

  it('serves a request of a region without model servers in the other region: the key each region gets from its copy of the secret is accepted there', async () => {
    const key = randomBytes(32).toString('hex');
    const { usUrl, euUrl } = await twoRegions(key, key);
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'high', 'x-request-timeout': '20' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-sim-name']).toBe('eu-pod0');
    // eu admitted it at the class it came with, to its own model servers
    const euMetrics = (await get(`${euUrl}/metrics`)).text;
    expect(metricValue(euMetrics, 'surgeguard_proxy_admitted_total', { pool: 'model-servers', class: 'high' })).toBe(1);
    // the pod saw the class, not a key
    expect(sims[0].lastRequest()?.headers.authorization).toBeUndefined();
  });

  it('is refused by the other region (401) when the regions do not hold the same key: what a cell without the secret got', async () => {
    const { usUrl } = await twoRegions(randomBytes(32).toString('hex'), randomBytes(32).toString('hex'));
    const reply = await post(`${usUrl}/v1/chat/completions`, chat(), { authorization: `Bearer ${clientKey}`, 'x-priority': 'high', 'x-request-timeout': '20' });
    expect(reply.status).toBe(401);
    expect(sims[0].stats().received).toBe(0);
  });
});
