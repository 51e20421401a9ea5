import pino from 'pino';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { createProxy, Proxy } from '../../../runtime/proxy/server';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { hashApiKey } from '../../../runtime/proxy/auth';
import { registrarRegion, RegionsSchema } from '../../../runtime/proxy/regions';
import { hashIdempotencyKey, homeRegionOf, newJobId, ownerOf } from '../../../runtime/jobs/model';
import { startSimulator, Simulator } from '../../../runtime/simulator/simulator';
import { deleteTopology } from '../../../runtime/jobs/topology';
import { buildTopology } from '../../../contract/queue-topology';
import { ALICE, BOB, call, chatBody } from '../../support/jobs-api-client';
import { AMQP_URL, connectAmqp, connectRedis, deleteKeys, freePort, uniqueName, waitFor } from '../../support/services';

jest.setTimeout(60_000);

const silent = pino({ level: 'silent' });
const EU = 'eu-west-1';
const US = 'us-east-1';

/**
 * Two local "regions", each a proxy with its own job records (own Redis key space) and its own
 * queue topology, configured as each other's peers: what the stacks render for two regions.
 */
describe('jobs across regions: two proxies as two regions', () => {
  const prefix = uniqueName('multi-region');
  let sim: Simulator;
  let redis: Redis;
  const ports: Record<string, number> = {};
  const proxies: Record<string, Proxy | undefined> = {};
  const base = (r: string) => `http://127.0.0.1:${ports[r]}`;

  function start(region: string): Promise<unknown> {
    const peer = region === EU ? US : EU;
    const config = ProxyConfigSchema.parse({
      server: { port: ports[region], host: '127.0.0.1' },
      auth: { keys: [{ name: 'alice', sha256: hashApiKey(ALICE), tier: 'high' }, { name: 'bob', sha256: hashApiKey(BOB) }] },
      pools: { sim: { upstreams: [{ url: sim.url, region }], health: { enabled: false } } },
      routes: [{ model: 'sim-model', pools: ['sim'] }],
      redis: { keyPrefix: `${prefix}:${region}:` },
      jobs: { amqp: { url: AMQP_URL, topologyPrefix: `${prefix}-${region}`, reconnectBaseMs: 50, reconnectMaxMs: 500 } },
      regions: { self: region, peers: { [peer]: { url: base(peer) } }, forwardTimeoutMs: 2_000, retryAfterSeconds: 7 },
      logging: { level: 'silent', accessLog: false },
    });
    const proxy = createProxy(config, { logger: silent });
    proxies[region] = proxy;
    return proxy.listen().then(() => proxy.jobs!.publisher.waitReady(15_000));
  }

  beforeAll(async () => {
    redis = await connectRedis();
    sim = await startSimulator({ slots: 4, tokensPerSecond: 0, outputTokens: 2 });
    ports[EU] = await freePort();
    ports[US] = await freePort();
    await Promise.all([start(EU), start(US)]);
  });

  afterAll(async () => {
    for (const p of Object.values(proxies)) await p?.drain();
    await sim.close();
    const conn = await connectAmqp();
    const ch = await conn.createChannel();
    for (const r of [EU, US]) await deleteTopology(ch, buildTopology(`${prefix}-${r}`));
    await conn.close();
    await deleteKeys(redis, `${prefix}:`);
    redis.disconnect();
  });

  it('gives a job an id naming the region that accepted it', async () => {
    const r = await call('POST', `${base(EU)}/v1/jobs`, ALICE, chatBody());
    expect(r.status).toBe(202);
    expect(homeRegionOf(r.body.id)).toBe(EU);
    expect(r.body.id).toMatch(/^eu-west-1\.[A-Za-z0-9_-]{22}$/);
  });

  it('answers a poll in any region with the home region answer, credentials checked at home', async () => {
    const { body: job } = await call('POST', `${base(EU)}/v1/jobs`, ALICE, chatBody());
    const here = await call('GET', `${base(EU)}/v1/jobs/${job.id}`, ALICE);
    const there = await call('GET', `${base(US)}/v1/jobs/${job.id}`, ALICE);
    expect(there.status).toBe(200);
    expect(there.body).toEqual(here.body);
    expect(there.headers['x-surgeguard-region']).toBe(EU);
    // another key: the same 404 as an unknown id, decided by the home region
    const other = await call('GET', `${base(US)}/v1/jobs/${job.id}`, BOB);
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('job_not_found');
  });

  it('cancels a job from another region', async () => {
    const { body: job } = await call('POST', `${base(US)}/v1/jobs`, ALICE, chatBody());
    const cancel = await call('DELETE', `${base(EU)}/v1/jobs/${job.id}`, ALICE);
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelled');
    expect((await call('GET', `${base(US)}/v1/jobs/${job.id}`, ALICE)).body.status).toBe('cancelled');
  });

  it('answers 404 for an id naming a region the environment does not have', async () => {
    const r = await call('GET', `${base(EU)}/v1/jobs/${newJobId('sa-east-1')}`, ALICE);
    expect(r.status).toBe(404);
  });

  it('deduplicates an Idempotency-Key retried in another region: one job, wherever the key is sent', async () => {
    const key = `retry-${prefix}`;
    const first = await call('POST', `${base(EU)}/v1/jobs`, ALICE, chatBody('once'), { 'idempotency-key': key });
    const second = await call('POST', `${base(US)}/v1/jobs`, ALICE, chatBody('once'), { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    // the job lives in the key's registrar region, whichever region was asked first
    const regions = RegionsSchema.parse({ self: EU, peers: { [US]: { url: base(US) } } });
    expect(homeRegionOf(first.body.id)).toBe(registrarRegion(regions, ownerOf('alice'), hashIdempotencyKey(key)));
    // the same key with another body is still a conflict, across regions too
    const conflict = await call('POST', `${base(US)}/v1/jobs`, ALICE, chatBody('different'), { 'idempotency-key': key });
    expect(conflict.status).toBe(409);
  });

  it('answers 503 naming the home region with a Retry-After while it is down, never 404, and the job again once it is back', async () => {
    const { body: job } = await call('POST', `${base(EU)}/v1/jobs`, ALICE, chatBody());
    expect(homeRegionOf(job.id)).toBe(EU);
    // a key registered in EU, for a keyed submission sent to US while EU is down
    const regions = RegionsSchema.parse({ self: US, peers: { [EU]: { url: base(EU) } } });
    let n = 0;
    while (registrarRegion(regions, ownerOf('alice'), hashIdempotencyKey(`eu-key-${n}`)) !== EU) n++;
    await proxies[EU]!.drain();
    proxies[EU] = undefined;

    const poll = await call('GET', `${base(US)}/v1/jobs/${job.id}`, ALICE);
    expect(poll.status).toBe(503);
    expect(poll.headers['retry-after']).toBe('7');
    expect(poll.body.error.code).toBe('home_region_unavailable');
    expect(poll.body.region).toBe(EU);
    expect(poll.body.error.message).toContain('region eu-west-1');

    const keyed = await call('POST', `${base(US)}/v1/jobs`, ALICE, chatBody(), { 'idempotency-key': `eu-key-${n}` });
    expect(keyed.status).toBe(503);
    expect(keyed.body.region).toBe(EU);

    // jobs without a key are accepted by the surviving region
    const fresh = await call('POST', `${base(US)}/v1/jobs`, ALICE, chatBody());
    expect(fresh.status).toBe(202);
    expect(homeRegionOf(fresh.body.id)).toBe(US);

    await start(EU);
    const back = await waitFor('the poll answered again', 10_000, async () => {
      const r = await call('GET', `${base(US)}/v1/jobs/${job.id}`, ALICE);
      return r.status === 200 ? r : undefined;
    });
    expect(back.body.id).toBe(job.id);
    expect(back.body.status).toBe('queued');
  });
});

describe('readiness of a region', () => {
  let sim: Simulator;
  let spill: Simulator;
  afterEach(async () => {
    await sim?.close().catch(() => undefined);
    await spill?.close().catch(() => undefined);
  });

  async function regionProxy(localUrl: string, spillUrl: string): Promise<{ proxy: Proxy; url: string }> {
    const health = { intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 1, healthyThreshold: 1, path: '/health' };
    const config = ProxyConfigSchema.parse({
      server: { port: 0, host: '127.0.0.1' },
      auth: 'none',
      pools: {
        local: { upstreams: [{ url: localUrl, region: EU }], health },
        spill: { upstreams: [{ url: spillUrl, region: US }], health },
      },
      routes: [{ model: 'sim-model', pools: ['local', 'spill'] }],
      regions: { self: EU, peers: { [US]: { url: spillUrl } } },
      logging: { level: 'silent', accessLog: false },
    });
    const proxy = createProxy(config, { logger: silent });
    return { proxy, url: (await proxy.listen()).url };
  }

  const readyz = async (url: string) => (await request(`${url}/readyz`)).statusCode;

  it('is lost when the region\'s own model servers are all gone, even though another region could take its traffic', async () => {
    sim = await startSimulator({ slots: 2, tokensPerSecond: 0, outputTokens: 2 });
    spill = await startSimulator({ slots: 2, tokensPerSecond: 0, outputTokens: 2 });
    const { proxy, url } = await regionProxy(sim.url, spill.url);
    try {
      await waitFor('ready', 5_000, async () => (await readyz(url)) === 200);
      await sim.close();
      await waitFor('not ready', 5_000, async () => (await readyz(url)) === 503);
      // requests still succeed through the spill pool meanwhile
      const r = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) });
      await r.body.text();
      expect(r.statusCode).toBe(200);
    } finally {
      await proxy.drain();
    }
  });

  it('is kept while the region is merely saturated: requests spill to the other region', async () => {
    sim = await startSimulator({ slots: 1, tokensPerSecond: 5, outputTokens: 50 });
    spill = await startSimulator({ slots: 8, tokensPerSecond: 0, outputTokens: 2 });
    const { proxy, url } = await regionProxy(sim.url, spill.url);
    try {
      await waitFor('ready', 5_000, async () => (await readyz(url)) === 200);
      const busy = Array.from({ length: 6 }, () =>
        request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) }).then(async (r) => {
          await r.body.text();
          return r.statusCode;
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(await readyz(url)).toBe(200);
      expect((await Promise.all(busy)).every((s) => s === 200)).toBe(true);
    } finally {
      await proxy.drain();
    }
  });
});
