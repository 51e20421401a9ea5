import { FakeClock } from '../../../../runtime/common/clock';
import { parseCacheConfig } from '../../../../runtime/proxy/cache/config';
import { LruTtlCache } from '../../../../runtime/proxy/cache/lru';
import { cacheability, canonicalJson, requestCacheKey } from '../../../../runtime/proxy/cache/request-key';
import { decode, encode, ResponseCache, type CachedResponse } from '../../../../runtime/proxy/cache/response-cache';
import { SingleFlight } from '../../../../runtime/proxy/cache/single-flight';

const body = (extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0, ...extra });

describe('cacheability', () => {
  it('caches temperature-0 requests and opt-ins, never streams or sampled ones', () => {
    expect(cacheability(body(), undefined)).toEqual({ cacheable: true, reason: 'deterministic' });
    expect(cacheability(body({ temperature: 0, seed: 7 }), undefined).cacheable).toBe(true);
    expect(cacheability(body({ temperature: undefined }), undefined)).toEqual({ cacheable: false, reason: 'sampling' });
    expect(cacheability(body({ temperature: 0.7, seed: 7 }), undefined)).toEqual({ cacheable: false, reason: 'sampling' });
    expect(cacheability(body({ temperature: 0.7 }), 'on')).toEqual({ cacheable: true, reason: 'opt_in' });
    expect(cacheability(body(), 'off')).toEqual({ cacheable: false, reason: 'opt_out' });
    expect(cacheability(body({ stream: true }), 'on')).toEqual({ cacheable: false, reason: 'streaming' });
    expect(cacheability('text', undefined)).toEqual({ cacheable: false, reason: 'not_json' });
  });
});

describe('request cache key', () => {
  const key = (b: Record<string, unknown>, apiKey = 'k1', shareAcrossKeys = false, path = '/v1/chat/completions') =>
    requestCacheKey({ path, body: b, apiKey, shareAcrossKeys });

  it('ignores key order, nulls and fields that do not change the answer', () => {
    expect(key(body())).toBe(key({ temperature: 0, messages: [{ content: 'hi', role: 'user' }], model: 'm', user: 'u1', stream: false, top_p: null }));
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe('{"a":[{"d":2}],"b":1}');
  });

  it('changes with model, messages, output parameters, path and API key', () => {
    const base = key(body());
    expect(key(body({ model: 'other' }))).not.toBe(base);
    expect(key(body({ messages: [{ role: 'user', content: 'hi!' }] }))).not.toBe(base);
    expect(key(body({ max_tokens: 5 }))).not.toBe(base);
    expect(key(body({ some_vendor_param: 1 }))).not.toBe(base);
    expect(key(body(), 'k2')).not.toBe(base);
    expect(key(body(), 'k1', false, '/v1/completions')).not.toBe(base);
    expect(key(body(), 'k1', true)).toBe(key(body(), 'k2', true));
  });
});

describe('LruTtlCache', () => {
  it('evicts the least recently used entry at capacity', () => {
    const c = new LruTtlCache<number>(2, 1_000, 0, new FakeClock());
    c.set('a', 1);
    c.set('b', 2);
    c.get('a');
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')?.value).toBe(1);
    expect(c.get('c')?.value).toBe(3);
  });

  it('turns stale after the TTL and disappears after the stale window', () => {
    const clock = new FakeClock();
    const c = new LruTtlCache<number>(10, 1_000, 500, clock);
    c.set('a', 1);
    clock.advance(999);
    expect(c.get('a')).toMatchObject({ fresh: true });
    clock.advance(1);
    expect(c.get('a')).toMatchObject({ fresh: false, value: 1 });
    clock.advance(500);
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
  });
});

describe('LruTtlCache edges', () => {
  it('ages an entry copied with an earlier storedAt from that time, not from its arrival', () => {
    const clock = new FakeClock(10_000);
    const c = new LruTtlCache<number>(10, 1_000, 500, clock);
    c.set('a', 1, 9_200);
    expect(c.get('a')).toEqual({ value: 1, fresh: true, storedAt: 9_200 });
    clock.advance(200);
    expect(c.get('a')).toEqual({ value: 1, fresh: false, storedAt: 9_200 });
    clock.advance(499);
    expect(c.get('a')?.value).toBe(1);
    clock.advance(1);
    expect(c.get('a')).toBeUndefined();
  });

  it('replaces a key in place (no eviction of another) and makes it the most recent', () => {
    const c = new LruTtlCache<number>(2, 1_000, 0, new FakeClock());
    c.set('a', 1);
    c.set('b', 2);
    c.set('a', 3);
    expect(c.size).toBe(2);
    c.set('c', 4); // evicts b, the least recently used
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')?.value).toBe(3);
    c.delete('a');
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(1);
  });
});

describe('ResponseCache (L1 only)', () => {
  const answer: CachedResponse = { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"ok":1}') };

  it('serves fresh answers and keeps expired ones for stale-if-error only', async () => {
    const clock = new FakeClock();
    const lookups: string[] = [];
    const cache = new ResponseCache(parseCacheConfig({ l1: { ttlMs: 1_000 }, l2: { enabled: false } }), clock, undefined, {
      onLookup: (r) => lookups.push(r),
    });
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('k', answer);
    expect(await cache.get('k')).toMatchObject({ level: 'l1', fresh: true });
    clock.advance(1_500);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.getStale('k')).toMatchObject({ fresh: false, ageMs: 1_500 });
    expect(lookups).toEqual(['miss', 'hit_l1', 'miss', 'stale']);
  });

  it('does not cache errors or oversized answers', async () => {
    const cache = new ResponseCache(parseCacheConfig({ maxBodyBytes: 4, l2: { enabled: false } }), new FakeClock());
    await cache.set('a', { ...answer, status: 500 });
    await cache.set('b', answer);
    expect(await cache.getStale('a')).toBeUndefined();
    expect(await cache.getStale('b')).toBeUndefined();
  });

  it('round-trips an entry through the Redis encoding', () => {
    const { response, storedAt } = decode(encode(answer, 1_700_000_000_123));
    expect(storedAt).toBe(1_700_000_000_123);
    expect(response.status).toBe(200);
    expect(response.headers).toEqual(answer.headers);
    expect(response.body.toString()).toBe('{"ok":1}');
  });
});

describe('SingleFlight', () => {
  it('runs identical concurrent work once and shares the result', async () => {
    const sf = new SingleFlight<number>(100);
    let calls = 0;
    let finish!: (v: number) => void;
    const work = () => {
      calls++;
      return new Promise<number>((r) => (finish = r));
    };
    const all = Array.from({ length: 50 }, () => sf.run('k', work));
    finish(42);
    const results = await Promise.all(all);
    expect(calls).toBe(1);
    expect(results.filter((r) => r.role === 'leader')).toHaveLength(1);
    expect(results.filter((r) => r.role === 'follower')).toHaveLength(49);
    expect(results.every((r) => r.value === 42)).toBe(true);
    expect(sf.inflight).toBe(0);
  });

  it('lets callers beyond the waiter bound run on their own', async () => {
    const sf = new SingleFlight<string>(2);
    let calls = 0;
    const work = () => {
      calls++;
      return new Promise<string>((r) => setImmediate(() => r('v')));
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => sf.run('k', work)));
    expect(results.map((r) => r.role)).toEqual(['leader', 'follower', 'follower', 'overflow', 'overflow']);
    expect(calls).toBe(3);
  });

  it('passes the leader failure to every follower and forgets the key', async () => {
    const sf = new SingleFlight<string>(10);
    const work = () => new Promise<string>((_, rej) => setImmediate(() => rej(new Error('upstream down'))));
    const results = await Promise.allSettled([sf.run('k', work), sf.run('k', work)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(sf.inflight).toBe(0);
  });

  it('runs different keys independently, and a key again once its flight landed', async () => {
    const sf = new SingleFlight<string>(10);
    let calls = 0;
    const work = (v: string) => () => {
      calls++;
      return new Promise<string>((r) => setImmediate(() => r(v)));
    };
    const [a, b] = await Promise.all([sf.run('a', work('A')), sf.run('b', work('B'))]);
    expect([a, b]).toEqual([{ value: 'A', role: 'leader' }, { value: 'B', role: 'leader' }]);
    expect(await sf.run('a', work('A2'))).toEqual({ value: 'A2', role: 'leader' });
    expect(calls).toBe(3);
  });

  it('counts followers up to exactly maxWaiters (0: every caller runs its own work)', async () => {
    const sf = new SingleFlight<string>(0);
    const work = () => new Promise<string>((r) => setImmediate(() => r('v')));
    const results = await Promise.all([sf.run('k', work), sf.run('k', work)]);
    expect(results.map((r) => r.role)).toEqual(['leader', 'overflow']);
  });
});
