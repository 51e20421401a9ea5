import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import type { PoolSchema } from '../../../../runtime/common/config/upstream';
import { systemClock } from '../../../../runtime/common/clock';
import type { Upstream } from '../../../../runtime/common/upstream/upstream';
import { REPLICA_HEARTBEAT_LUA, ReplicaShare } from '../../../../runtime/proxy/admission/replica-share';
import type { ClassDemand } from '../../../../runtime/proxy/admission/replica-allocation';
import { Harness, chat, eventually, metricValue, get, post, quietPool as quietPoolRecord, startHarness } from '../../../support/proxy-harness';
import { connectRedis, deleteKeys, freePort } from '../../../support/services';

jest.setTimeout(30_000);

const quietPool = (urls: string[], extra: Partial<z.input<typeof PoolSchema>> = {}) => quietPoolRecord(urls, extra) as z.input<typeof PoolSchema>;
const api = (h: Harness) => `${h.url}/v1/chat/completions`;

describe('admission as the cell runs it (capacity from the members, every pool guarded)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('does not pass the 503 of upstreams that refuse at once when full to critical callers while capacity exists (README config, no admission section)', async () => {
    // two members with 2 slots each that answer 503 at once when full; 3x their capacity at once
    h = await startHarness(
      [
        { slots: 2, queueSize: 0, tokensPerSecond: 40, outputTokens: 8 },
        { slots: 2, queueSize: 0, tokensPerSecond: 40, outputTokens: 8 },
      ],
      (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: [{ model: 'sim-model', pools: ['local'] }] }),
    );
    const replies = await Promise.all(Array.from({ length: 12 }, () => post(api(h!), chat(), { 'x-priority': 'critical', 'x-request-timeout': '10' })));
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill(200));
    const refused = h.sims.reduce((n, s) => n + s.stats().rejected, 0);
    const received = h.sims.reduce((n, s) => n + s.stats().received, 0);
    expect(received).toBeLessThanOrEqual(12 * 5); // never more than retry.maxAttempts each
    expect(refused).toBeGreaterThan(0); // the upstreams did refuse: the proxy waited for capacity instead of passing it on
  });

  it('guards every pool of a route: a saturated first pool spills critical work to the next, while low waits for the first', async () => {
    h = await startHarness(
      [
        { slots: 1, tokensPerSecond: 10, outputTokens: 8 },
        { slots: 4, tokensPerSecond: 10, outputTokens: 8 },
      ],
      (urls) => ({
        auth: 'none',
        pools: {
          local: quietPool([urls[0]], { upstreams: [{ url: urls[0], name: 'sim0', slots: 1 }] }),
          'other-region': quietPool([urls[1]], { upstreams: [{ url: urls[1], name: 'sim1', slots: 4 }] }),
        },
        routes: [{ model: 'sim-model', pools: ['local', 'other-region'] }],
      }),
    );
    const first = post(api(h), chat(), { 'x-priority': 'critical' });
    await eventually(() => h!.sims[0].stats().inFlight === 1, 2_000, 'local slot taken');
    const [critical, low] = await Promise.all([post(api(h), chat(), { 'x-priority': 'critical' }), post(api(h), chat(), { 'x-priority': 'low' })]);
    expect(critical.status).toBe(200);
    expect(critical.headers['x-sim-name']).toBe('sim1');
    expect(low.status).toBe(200);
    expect(low.headers['x-sim-name']).toBe('sim0');
    expect((await first).headers['x-sim-name']).toBe('sim0');
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_admitted_total', { pool: 'other-region', class: 'critical' })).toBe(1);
    expect(metricValue(metrics, 'surgeguard_proxy_admitted_total', { pool: 'local', class: 'low' })).toBe(1);
    expect(metricValue(metrics, 'surgeguard_proxy_concurrency_limit', { pool: 'local' })).toBe(1);
  });

  it.each([
    {
      region: 'an unreachable region, its breaker open',
      regionPool: { circuitBreaker: { consecutiveFailures: 1, openMs: 60_000 } },
      takeOut: (member: Upstream) => member.breaker.onFailure(), // its last attempt failed: open
    },
    {
      region: 'a region whose endpoint does not answer, its health checks found it down',
      regionPool: { health: { enabled: true, intervalMs: 600_000 } },
      takeOut: (member: Upstream) => member.health.markDown(), // its probes failed; nothing was sent to it yet
    },
  ])('does not spill to a later pool none of whose members takes requests ($region): the request waits for the first', async ({ regionPool, takeOut }) => {
    const dead = `http://127.0.0.1:${await freePort()}`; // nothing listens: connection refused
    h = await startHarness([{ slots: 1, tokensPerSecond: 10, outputTokens: 8 }], (urls) => ({
      auth: 'none',
      pools: {
        local: quietPool([urls[0]], { upstreams: [{ url: urls[0], name: 'sim0', slots: 1 }] }),
        'other-region': quietPool([dead], { upstreams: [{ url: dead, name: 'gone' }], ...regionPool }),
      },
      routes: [{ model: 'sim-model', pools: ['local', 'other-region'] }],
    }));
    takeOut(h.proxy.pools.get('other-region')!.members[0]);
    const first = post(api(h), chat(), { 'x-priority': 'critical' });
    await eventually(() => h!.sims[0].stats().inFlight === 1, 2_000, 'local slot taken');
    const critical = await post(api(h), chat(), { 'x-priority': 'critical' });
    expect(critical.status).toBe(200);
    expect(critical.headers['x-sim-name']).toBe('sim0');
    expect((await first).status).toBe(200);
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_admitted_total', { pool: 'other-region', class: 'critical' }) ?? 0).toBe(0);
    expect(metricValue(metrics, 'surgeguard_proxy_last_resort_attempts_total', { upstream: 'gone' }) ?? 0).toBe(0);
  });

  it('sends a request whose pool\'s pods are gone (connections refused, DNS and health checks not caught up) on to the next pool, not into the dead pods as a last resort', async () => {
    const dead = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`]; // nothing listens
    h = await startHarness([{ slots: 2, tokensPerSecond: 40, outputTokens: 8 }], (urls) => ({
      auth: 'none',
      pools: {
        // health checks on but far apart (the last probe said healthy): only the attempts find out
        local: quietPool(dead, { upstreams: dead.map((url, i) => ({ url, name: `pod${i}`, slots: 2 })), health: { enabled: true, intervalMs: 600_000 } }),
        'other-region': quietPool([urls[0]], { upstreams: [{ url: urls[0], name: 'sim0' }] }),
      },
      routes: [{ model: 'sim-model', pools: ['local', 'other-region'] }],
    }));
    const local = h.proxy.pools.get('local')!;
    const reply = await post(api(h), chat(), { 'x-priority': 'critical', 'x-request-timeout': '10' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-sim-name']).toBe('sim0');
    // each refused pod is out of the capacity at once, so the pool admits nothing more
    expect(local.members.map((u) => u.healthy)).toEqual([false, false]);
    expect(h.proxy.overload!.admission.get('local')!.limit).toBe(0);
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_last_resort_attempts_total', { upstream: 'pod0' }) ?? 0).toBe(0);
    expect(metricValue(metrics, 'surgeguard_proxy_last_resort_attempts_total', { upstream: 'pod1' }) ?? 0).toBe(0);
    // the next request goes to the other region without trying the dead pods
    const next = await post(api(h), chat(), { 'x-priority': 'critical', 'x-request-timeout': '10' });
    expect(next.status).toBe(200);
    expect(metricValue((await get(`${h.url}/metrics`)).text, 'surgeguard_proxy_admitted_total', { pool: 'local', class: 'critical' })).toBe(1);
  });

  it('keeps sending critical work to another region whose proxies shed one medium request (their Retry-After is that class\'s, not the region\'s)', async () => {
    // the other region's proxies, as they answer: a shed medium request (503, Retry-After,
    // x-surgeguard-shed: deadline), every other class served
    const seen: string[] = [];
    const region: Server = createServer((req, res) => {
      const cls = String(req.headers['x-priority']);
      seen.push(cls);
      req.resume();
      req.on('end', () => {
        if (cls === 'medium') {
          res.writeHead(503, { 'retry-after': '5', 'x-surgeguard-shed': 'deadline', 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: 'shed', type: 'service_unavailable' } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-sim-name': 'eu-west-1' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'sim-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] }));
      });
    });
    await new Promise<void>((r) => region.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(region.address() as AddressInfo).port}`;
      h = await startHarness([], () => ({
        auth: 'none',
        pools: { 'region-eu-west-1': quietPool([url], { upstreams: [{ url, name: 'eu-west-1' }] }) },
        routes: [{ model: 'sim-model', pools: ['region-eu-west-1'] }],
        admission: { pools: { 'region-eu-west-1': { saturation: { enabled: false } } } },
      }));
      const medium = await post(api(h), chat(), { 'x-priority': 'medium', 'x-request-timeout': '10' });
      expect(medium.status).toBe(503);
      expect(medium.headers['retry-after']).toBe('5');
      expect(seen).toEqual(['medium']); // not sent there again: that region shed it
      const critical = await post(api(h), chat(), { 'x-priority': 'critical', 'x-request-timeout': '10' });
      expect(critical.status).toBe(200);
      expect(critical.headers['x-sim-name']).toBe('eu-west-1');
      expect(h.proxy.pools.get('region-eu-west-1')!.members[0].coolingUntil).toBe(0);
    } finally {
      await h?.close();
      h = undefined;
      await new Promise<void>((r) => region.close(() => r()));
    }
  });

  it('learns a member\'s slots from its /metrics once it is full, and then follows them', async () => {
    h = await startHarness([{ slots: 3, queueSize: 64, tokensPerSecond: 20, outputTokens: 8 }], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      admission: { defaults: { saturation: { intervalMs: 100 } } },
    }));
    const member = h.proxy.pools.get('local')!.members[0];
    const load = Array.from({ length: 8 }, () => post(api(h!), chat()));
    await eventually(() => member.learnedSlots === 3, 5_000, 'slots learned');
    expect(h.proxy.overload!.admission.get('local')!.limit).toBe(3);
    await Promise.all(load);
  });
});

describe('replicas sharing a pool through Redis', () => {
  const prefix = `sg-test-share-${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis();
  });
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  /** One member of `slots` slots. */
  const one = (slots: number) => [{ name: 'm0', slots }];
  const share = (client: Redis, id: string, pool = 'local', expiryMs = 600) =>
    new ReplicaShare({ redis: client, key: `${prefix}admission:replicas:${pool}`, id, heartbeatMs: 100, expiryMs, clock: systemClock });

  it('divides the capacity so the shares add up to it, and gives a dead replica\'s share back after the expiry', async () => {
    const a = share(redis, 'replica-a');
    const b = share(redis, 'replica-b');
    const c = share(redis, 'replica-c');
    for (const s of [a, b, c]) s.start();
    try {
      await eventually(() => a.replicas === 3 && b.replicas === 3 && c.replicas === 3, 3_000, 'three replicas seen');
      expect([a, b, c].map((s) => s.shareOf(one(32)))).toEqual([11, 11, 10]);
      c.stop(); // the replica dies: no more heartbeats
      await eventually(() => a.replicas === 2 && b.replicas === 2, 3_000, 'dead replica expired');
      expect(a.shareOf(one(32)) + b.shareOf(one(32))).toBe(32);
    } finally {
      for (const s of [a, b, c]) s.stop();
    }
  });

  /** Two members of `slots` slots each. */
  const two = (slots: number) => [
    { name: 'pod-0', slots, inflight: 0 },
    { name: 'pod-1', slots, inflight: 0 },
  ];
  const byDemand = (id: string, pool: string, slots: number, demand: ClassDemand) =>
    new ReplicaShare({ redis, key: `${prefix}admission:replicas:${pool}`, id, heartbeatMs: 100, expiryMs: 600, clock: systemClock, members: () => two(slots), demand: () => demand });
  const d = (critical = 0, high = 0): ClassDemand => ({ critical, high, medium: 0, low: 0 });

  it('moves the shares to the replica with the critical demand, the parts of a member never adding up to more than its slots, and gives a dead replica\'s share to the others', async () => {
    const a = byDemand('replica-a', 'demand', 8, d(2, 6));
    const b = byDemand('replica-b', 'demand', 8, d(2, 6));
    const c = byDemand('replica-c', 'demand', 8, d(12));
    const all = [a, b, c];
    let live = all;
    let most = 0;
    const sampler = setInterval(() => {
      const granted = live.filter((s) => s.granted !== undefined).map((s) => s.partsOf(two(8)));
      for (const m of [0, 1]) most = Math.max(most, granted.reduce((n, p) => n + p[m], 0));
    }, 2);
    for (const s of all) s.start();
    try {
      // critical first across the replicas: c's 12 critical requests, a's and b's 2 each
      await eventually(() => a.shareOf(two(8)) === 2 && b.shareOf(two(8)) === 2 && c.shareOf(two(8)) === 12, 5_000, () => `shares by demand (${all.map((s) => s.shareOf(two(8)))})`);
      // c's 12 on the two pods as they came free (each move takes the slots free first: replica-share.test.ts)
      expect(c.partsOf(two(8)).reduce((x, y) => x + y)).toBe(12);
      c.stop(); // c dies: its parts and demand expire with it (until then a and b cannot take its slots)
      live = [a, b];
      await eventually(() => a.shareOf(two(8)) === 8 && b.shareOf(two(8)) === 8, 5_000, () => `c's share back to a and b (${[a, b].map((s) => s.shareOf(two(8)))})`);
    } finally {
      clearInterval(sampler);
      for (const s of all) s.stop();
    }
    expect(most).toBeLessThanOrEqual(8);
  });

  it('leaves a replica of an older version (presence, no demand) its equal round-robin parts', async () => {
    const old = setInterval(() => void redis.eval(REPLICA_HEARTBEAT_LUA, 1, `${prefix}admission:replicas:mixed`, 'replica-old', 600), 100);
    await redis.eval(REPLICA_HEARTBEAT_LUA, 1, `${prefix}admission:replicas:mixed`, 'replica-old', 600);
    const a = byDemand('replica-a', 'mixed', 6, d(20));
    const b = byDemand('replica-b', 'mixed', 6, d());
    a.start();
    b.start();
    try {
      // the old replica takes 12 / 3 = 4 (slots 2, 5 | 8, 11, as it computes them itself); b its floor; a the rest
      await eventually(() => a.shareOf(two(6)) === 7 && b.shareOf(two(6)) === 1, 5_000, () => `shares with an old replica (${[a, b].map((s) => s.shareOf(two(6)))})`);
      const parts = [a.partsOf(two(6)), b.partsOf(two(6))];
      expect(parts.map((p) => p[0]).reduce((x, y) => x + y) + 2).toBeLessThanOrEqual(6);
      expect(parts.map((p) => p[1]).reduce((x, y) => x + y) + 2).toBeLessThanOrEqual(6);
    } finally {
      clearInterval(old);
      a.stop();
      b.stop();
    }
  });

  it('keeps the last replica count while Redis cannot be reached', async () => {
    const a = share(redis, 'replica-x', 'other');
    const b = share(redis, 'replica-y', 'other');
    await a.beat();
    await b.beat();
    await a.beat();
    expect(a.replicas).toBe(2);
    const down = new Redis({ host: '127.0.0.1', port: 9, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    down.on('error', () => undefined);
    const cut = new ReplicaShare({ redis: down, key: `${prefix}x`, id: 'replica-x', heartbeatMs: 100, expiryMs: 600, clock: systemClock });
    // a replica that never reached Redis counts itself alone; one that did keeps its last count
    await cut.beat();
    expect(cut.replicas).toBe(1);
    expect(a.shareOf(one(10))).toBe(5);
    down.disconnect();
  });
});
