import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { FakeClock } from '../../../../runtime/common/clock';
import { parseCacheConfig } from '../../../../runtime/proxy/cache/config';
import { ResponseCache, type CacheRedis } from '../../../../runtime/proxy/cache/response-cache';
import { connectRedis, deleteKeys } from '../../../support/services';

jest.setTimeout(20_000);
const prefix = `test:cache:${randomBytes(4).toString('hex')}:`;
let redis: Redis;

beforeAll(async () => {
  redis = await connectRedis();
});
afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const answer = { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"answer":"42"}') };

describe('ResponseCache with Redis (L2)', () => {
  it('shares an answer between replicas through Redis and keeps its age', async () => {
    const clock = new FakeClock(Date.now());
    const cfg = parseCacheConfig({ l1: { ttlMs: 10_000 }, l2: { ttlMs: 60_000, keyPrefix: prefix, timeoutMs: 1_000 } });
    const a = new ResponseCache(cfg, clock, redis as unknown as CacheRedis);
    const b = new ResponseCache(cfg, clock, redis as unknown as CacheRedis);
    await a.set('k1', answer);
    const ttl = await redis.pttl(`${prefix}k1`);
    expect(ttl).toBeGreaterThan(60_000); // freshness plus the stale-if-error window
    clock.advance(5_000);
    const hit = await b.get('k1');
    expect(hit).toMatchObject({ level: 'l2', fresh: true, ageMs: 5_000 });
    expect(hit!.response.body.toString()).toBe('{"answer":"42"}');
    // Now in b's L1, but only for the rest of its L1 TTL measured from the original store.
    expect(await b.get('k1')).toMatchObject({ level: 'l1' });
    clock.advance(5_000);
    expect(await b.get('k1')).toMatchObject({ level: 'l2', fresh: true });
    clock.advance(60_000);
    expect(await b.get('k1')).toBeUndefined();
    expect(await b.getStale('k1')).toMatchObject({ fresh: false });
  });

  it('treats a failing Redis as a miss, never as an error', async () => {
    const broken: CacheRedis = { getBuffer: () => Promise.reject(new Error('down')), set: () => Promise.reject(new Error('down')) };
    const errors: unknown[] = [];
    const cache = new ResponseCache(parseCacheConfig({ l2: { keyPrefix: prefix } }), new FakeClock(), broken, { onRedisError: (e) => errors.push(e) });
    await cache.set('k', answer);
    expect(await cache.get('k')).toMatchObject({ level: 'l1' });
    expect(await cache.get('other')).toBeUndefined();
    expect(errors).toHaveLength(2);
  });
});
