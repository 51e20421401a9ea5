import { createHash, randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { z } from 'zod';
import type { PoolSchema } from '../../../../runtime/common/config/upstream';
import { Harness, chat, eventually, get, metricValue, post, quietPool as quietPoolRecord, startHarness, type Reply } from '../../../support/proxy-harness';
import { connectRedis, deleteKeys, PrivateRedis } from '../../../support/services';

jest.setTimeout(30_000);

/** The shared helper's quiet pool, typed as pool config input. */
const quietPool = (urls: string[]) => quietPoolRecord(urls) as z.input<typeof PoolSchema>;
const api = (h: Harness) => `${h.url}/v1/chat/completions`;
const run = randomBytes(4).toString('hex');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * One pool `local`, admission with a fixed limit of 1 and a small queue, strict priority. Each
 * answer takes `serviceMs` (4 tokens), long enough for a test to line up its queue meanwhile.
 */
function admissionHarness(queueSize: number, serviceMs: number) {
  return startHarness([{ slots: 1, tokensPerSecond: 4_000 / serviceMs, outputTokens: 4 }], (urls) => ({
    auth: 'none',
    pools: { local: quietPool(urls) },
    routes: [{ model: 'sim-model', pools: ['local'] }],
    admission: { defaults: { maxConcurrency: 1, adaptive: { enabled: false }, queue: { maxSize: queueSize, lowerClassShare: 0 } } },
  }));
}

function expectShed(r: Reply, reasons: string[]) {
  expect(r.status).toBe(503);
  expect(reasons).toContain(r.headers['x-surgeguard-shed']);
  const retryAfter = Number(r.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(r.json()).toMatchObject({ error: { type: 'service_unavailable', code: 'overloaded' } });
}

describe('proxy overload control against simulators', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('sheds low-priority requests first and keeps serving critical ones under overload', async () => {
    h = await admissionHarness(4, 800);
    const send = (cls: string) => post(api(h!), chat(), { 'x-priority': cls });
    const first = send('low'); // takes the only slot
    await eventually(() => h!.proxy.overload.admission.get('local')!.inflight === 1, 3_000, 'first request admitted');
    const lows = Array.from({ length: 6 }, () => send('low')); // 4 queue, 2 are refused at once
    await eventually(() => h!.proxy.overload.admission.get('local')!.snapshot().queued.low === 4, 3_000, 'low queue filled');
    const criticals = Array.from({ length: 3 }, () => send('critical')); // each evicts a queued low
    const [firstReply, lowReplies, criticalReplies] = await Promise.all([first, Promise.all(lows), Promise.all(criticals)]);

    expect(firstReply.status).toBe(200);
    expect(criticalReplies.map((r) => r.status)).toEqual([200, 200, 200]);
    const shedLows = lowReplies.filter((r) => r.status === 503);
    expect(shedLows).toHaveLength(5); // 2 queue_full + 3 evicted; the oldest queued low is served
    for (const r of shedLows) expectShed(r, ['queue_full', 'evicted']);
    expect(lowReplies.filter((r) => r.status === 200)).toHaveLength(1);
    // The upstream never saw more than the admitted concurrency.
    expect(h.sims[0].stats().peakInFlight).toBe(1);

    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_shed_total', { pool: 'local', class: 'low', reason: 'evicted' })).toBe(3);
    expect(metricValue(metrics, 'surgeguard_proxy_shed_total', { pool: 'local', class: 'low', reason: 'queue_full' })).toBe(2);
    expect(metricValue(metrics, 'surgeguard_proxy_shed_total', { class: 'critical' })).toBeUndefined();
    expect(metricValue(metrics, 'surgeguard_proxy_concurrency_limit', { pool: 'local' })).toBe(1);
  });

  it('sheds early, with a Retry-After, a request whose X-Request-Timeout cannot be met', async () => {
    h = await admissionHarness(50, 200);
    const send = (headers: Record<string, string>) => post(api(h!), chat(), { 'x-priority': 'medium', ...headers });
    // Measure the drain rate: about 5 requests/s through one 200 ms slot.
    await Promise.all(Array.from({ length: 6 }, () => send({})));
    const queued = Array.from({ length: 10 }, () => send({}));
    await eventually(() => h!.proxy.overload.admission.get('local')!.snapshot().queued.medium >= 8, 3_000, 'queue built up');
    const hurried = await send({ 'x-request-timeout': '0.5' });
    expectShed(hurried, ['deadline']);
    expect(Number(hurried.headers['retry-after'])).toBeGreaterThanOrEqual(2);
    expect((await Promise.all(queued)).every((r) => r.status === 200)).toBe(true);
  });

  it('holds the slot of a streamed answer until the stream ends', async () => {
    h = await admissionHarness(10, 600);
    const ctl = h.proxy.overload.admission.get('local')!;
    const stream = post(api(h), chat({ stream: true }), { 'x-priority': 'low' });
    await eventually(() => ctl.inflight === 1, 3_000, 'stream admitted');
    const next = post(api(h), chat(), { 'x-priority': 'critical' });
    await eventually(() => ctl.snapshot().queued.critical === 1, 3_000, 'second request queued');
    const streamed = await stream;
    expect(streamed.status).toBe(200);
    expect(streamed.text).toContain('data: [DONE]');
    expect((await next).status).toBe(200);
    expect(h.sims[0].stats().peakInFlight).toBe(1);
    await eventually(() => ctl.inflight === 0, 3_000, 'slots returned');
  });

  it('frees the queue place of a client that disconnects while waiting', async () => {
    h = await admissionHarness(10, 600);
    const ctl = h.proxy.overload.admission.get('local')!;
    const first = post(api(h), chat(), { 'x-priority': 'high' });
    await eventually(() => ctl.inflight === 1, 3_000, 'first admitted');
    const gone = new AbortController();
    const abandoned = request(api(h), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-priority': 'high' },
      body: JSON.stringify(chat()),
      signal: gone.signal,
    }).catch((err: Error) => err);
    await eventually(() => ctl.snapshot().queued.high === 1, 3_000, 'second queued');
    gone.abort();
    await abandoned;
    await eventually(() => ctl.snapshot().queued.high === 0, 3_000, 'queue place freed');
    expect((await first).status).toBe(200);
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_shed_total', { class: 'high', reason: 'aborted' })).toBe(1);
    expect(h.sims[0].stats().received).toBe(1);
  });

  it('serves the second identical deterministic request from the cache', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      cache: { l2: { enabled: false } },
    }));
    const body = chat({ temperature: 0, messages: [{ role: 'user', content: 'cache me' }] });
    const a = await post(api(h), body);
    const b = await post(api(h), body);
    expect(a.status).toBe(200);
    expect(a.headers['x-surgeguard-cache']).toBe('miss');
    expect(b.status).toBe(200);
    expect(b.headers['x-surgeguard-cache']).toBe('hit');
    expect(b.text).toBe(a.text);
    expect(h.sims[0].stats().received).toBe(1);
    // Sampled requests are not cached.
    const c = await post(api(h), chat({ temperature: 0.8 }));
    expect(c.headers['x-surgeguard-cache']).toBeUndefined();
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_cache_lookups_total', { result: 'hit_l1' })).toBe(1);
    expect(metricValue(metrics, 'surgeguard_proxy_cache_lookups_total', { result: 'miss' })).toBe(1);
  });

  it('coalesces 50 identical concurrent requests into one upstream call', async () => {
    h = await startHarness([{ tokensPerSecond: 10, outputTokens: 4 }], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      cache: { l2: { enabled: false } },
    }));
    const body = chat({ temperature: 0, messages: [{ role: 'user', content: 'everyone asks this' }] });
    const replies = await Promise.all(Array.from({ length: 50 }, () => post(api(h!), body)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(replies.map((r) => r.text)).size).toBe(1);
    expect(h.sims[0].stats().received).toBe(1);
    const statuses = replies.map((r) => r.headers['x-surgeguard-cache']);
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced' || s === 'hit')).toHaveLength(49);
  });

  it('serves a stale cached answer, marked, when the upstream fails', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      cache: { l1: { ttlMs: 100 }, l2: { enabled: false } },
    }));
    const body = chat({ temperature: 0, messages: [{ role: 'user', content: 'keep serving me' }] });
    const fresh = await post(api(h), body);
    expect(fresh.status).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    h.sims[0].configure({ forceStatus: { status: 500 } });
    const stale = await post(api(h), body);
    expect(stale.status).toBe(200);
    expect(stale.headers['x-surgeguard-cache']).toBe('stale');
    expect(Number(stale.headers.age)).toBeGreaterThanOrEqual(0);
    expect(stale.text).toBe(fresh.text);
    // Without a cached answer the failure goes through.
    const other = await post(api(h), chat({ temperature: 0, messages: [{ role: 'user', content: 'never seen' }] }));
    expect(other.status).toBe(500);
  });

  it('routes users to canary pools by weight and reports the variant', async () => {
    h = await startHarness([{}, {}], (urls) => ({
      auth: 'none',
      pools: { stable: quietPool([urls[0]]), canary: quietPool([urls[1]]) },
      routes: [{ model: 'sim-model', pools: ['stable', 'canary'] }],
      canary: { models: { 'sim-model': [{ pool: 'stable', weight: 50 }, { pool: 'canary', weight: 50, variant: 'v2' }] } },
    }));
    const seen = new Map<string, string>();
    for (let u = 0; u < 20; u++) {
      for (let i = 0; i < 2; i++) {
        const r = await post(api(h), chat(), { 'x-user-id': `user-${u}` });
        const variant = String(r.headers['x-surgeguard-canary']);
        expect(seen.get(`user-${u}`) ?? variant).toBe(variant); // stable per user
        seen.set(`user-${u}`, variant);
        expect(r.headers['x-sim-name']).toBe(variant === 'v2' ? 'sim1' : 'sim0');
      }
    }
    expect(new Set(seen.values())).toEqual(new Set(['stable', 'v2']));
  });
});

describe('proxy rate limits shared through Redis', () => {
  const prefix = `test:overload:${run}:`;
  let h: Harness | undefined;
  let shared: Awaited<ReturnType<typeof connectRedis>>;
  beforeAll(async () => {
    shared = await connectRedis();
  });
  afterAll(async () => {
    await deleteKeys(shared, `surgeguard:${prefix}`);
    shared.disconnect();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('shares one bucket between two proxy replicas', async () => {
    const config = (urls: string[]) => ({
      auth: { keys: [{ name: `shared-${run}`, sha256: sha('secret-b'), tier: 'medium' as const }] },
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      redis: { host: '127.0.0.1', port: 6379 },
      rateLimit: { requests: { medium: { ratePerSecond: 0.2, burst: 3 } }, replicas: 2, redis: { keyPrefix: prefix } },
    });
    const a = await startHarness([{}], config);
    const b = await startHarness([{}], config);
    try {
      const auth = { authorization: 'Bearer secret-b' };
      const order = [a, b, a, b];
      const statuses = [];
      for (const replica of order) statuses.push((await post(api(replica), chat(), auth)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps answering on local buckets while Redis is down and returns to Redis when it is back', async () => {
    const priv = await PrivateRedis.start();
    const lines: string[] = [];
    try {
      h = await startHarness(
        [{}],
        (urls) => ({
          auth: { keys: [{ name: `outage-${run}`, sha256: sha('secret-c'), tier: 'low' as const, maxClass: 'critical' as const }] },
          pools: { local: quietPool(urls) },
          routes: [{ model: 'sim-model', pools: ['local'] }],
          redis: { host: '127.0.0.1', port: priv.port },
          rateLimit: { requests: { low: { ratePerSecond: 0.1, burst: 4 } }, replicas: 2, redis: { timeoutMs: 200, retryIntervalMs: 100 } },
        }),
        { logLines: lines },
      );
      const auth = { authorization: 'Bearer secret-c' };
      const fallback = async () => metricValue((await get(`${h!.url}/metrics`)).text, 'surgeguard_proxy_ratelimit_fallback', {});
      expect((await post(api(h), chat(), auth)).status).toBe(200);
      expect(await fallback()).toBe(0);

      await priv.stop();
      // Local buckets hold half the burst (2 of 4, two replicas): no errors, then 429s; critical passes.
      const during = [];
      for (let i = 0; i < 4; i++) during.push((await post(api(h), chat(), auth)).status);
      expect(during).toEqual([200, 200, 429, 429]);
      expect((await post(api(h), chat(), { ...auth, 'x-priority': 'critical' })).status).toBe(200);
      expect(await fallback()).toBe(1);
      expect(lines.filter((l) => l.includes('Redis unavailable'))).toHaveLength(1);

      await priv.start();
      await eventually(
        async () => {
          await post(api(h!), chat(), { ...auth, 'x-priority': 'high' });
          return (await fallback()) === 0;
        },
        10_000,
        'rate limiter back on Redis',
      );
      expect(lines.filter((l) => l.includes('shared buckets restored'))).toHaveLength(1);
    } finally {
      await h?.close();
      h = undefined;
      await priv.stop();
    }
  });

  it('charges model tokens up front and refunds what the answer did not use', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: { keys: [{ name: `tokens-${run}`, sha256: sha('secret-d'), tier: 'medium' as const }] },
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      redis: { host: '127.0.0.1', port: 6379 },
      rateLimit: {
        requests: { medium: { ratePerSecond: 100, burst: 100 } },
        tokens: { enabled: true, limits: { medium: { ratePerSecond: 0.01, burst: 300 } } },
        redis: { keyPrefix: prefix },
      },
    }));
    const auth = { authorization: 'Bearer secret-d' };
    // Estimated 800/4 + 4 = 204 tokens; the simulator reports 8 prompt + 4 completion = 12.
    const body = chat({ messages: [{ role: 'user', content: 'x'.repeat(800) }], max_tokens: 4 });
    expect((await post(api(h), body, auth)).status).toBe(200); // 300 - 204 = 96 left, then +192
    await eventually(async () => {
      // The proxy's keys live under the shared `redis.keyPrefix` (default surgeguard:).
      const r = await shared.hget(`surgeguard:${h!.proxy.overload.rateLimiter.keyFor(`tokens-${run}`)}`, 'k');
      return Number(r) > 250;
    }, 3_000, 'usage refund');
    expect((await post(api(h), body, auth)).status).toBe(200); // without the refund: 96 < 204, a 429
    const big = await post(api(h), chat({ messages: [{ role: 'user', content: 'x'.repeat(800) }], max_tokens: 400 }), auth);
    expect(big.status).toBe(429);
  });

  it('answers 429 with Retry-After once a key exhausts its bucket; a key allowed critical gets the critical limit', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: { keys: [{ name: `team-${run}`, sha256: sha('secret-a'), tier: 'low', maxClass: 'critical' }] },
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      redis: { host: '127.0.0.1', port: 6379 },
      rateLimit: { requests: { low: { ratePerSecond: 0.5, burst: 2 }, critical: { ratePerSecond: 1_000, burst: 1_000 } }, redis: { keyPrefix: prefix } },
    }));
    const auth = { authorization: 'Bearer secret-a' };
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await post(api(h), chat(), auth));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 429]);
    const limited = statuses[2];
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(2);
    expect(limited.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    expect((await post(api(h), chat(), { ...auth, 'x-priority': 'critical' })).status).toBe(200);
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_ratelimit_decisions_total', { class: 'low', source: 'redis', allowed: 'false' })).toBe(1);
    expect(metricValue(metrics, 'surgeguard_proxy_ratelimit_fallback', {})).toBe(0);
    expect(metricValue(metrics, 'surgeguard_proxy_shed_total', { class: 'low', reason: 'rate_limited' })).toBe(1);
  });
  it('holds a key with its own rateLimit to it in every class, and never limits a key configured with rateLimit none', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: {
        keys: [
          { name: `quota-${run}`, sha256: sha('secret-q'), tier: 'critical', rateLimit: { ratePerSecond: 0.01, burst: 2 } },
          { name: `service-${run}`, sha256: sha('secret-s'), tier: 'low', rateLimit: 'none' },
        ],
      },
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      redis: { host: '127.0.0.1', port: 6379 },
      // class limits that would refuse the service key's third request
      rateLimit: { requests: { low: { ratePerSecond: 0.01, burst: 2 }, critical: { ratePerSecond: 1_000, burst: 1_000 } }, redis: { keyPrefix: prefix } },
    }));
    const quota = { authorization: 'Bearer secret-q' };
    // the key's own bucket (burst 2), not the critical class's 1,000, whatever class it asks for
    const asked = ['critical', 'low', 'critical'];
    const statuses = [];
    for (const cls of asked) statuses.push((await post(api(h), chat(), { ...quota, 'x-priority': cls })).status);
    expect(statuses).toEqual([200, 200, 429]);
    const service = [];
    for (let i = 0; i < 5; i++) service.push((await post(api(h), chat(), { authorization: 'Bearer secret-s' })).status);
    expect(service).toEqual([200, 200, 200, 200, 200]);
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_ratelimit_decisions_total', { class: 'low', source: 'redis', allowed: 'false' })).toBeUndefined();
  });
});
