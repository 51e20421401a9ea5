import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { systemClock } from '../../../../runtime/common/clock';
import { parseRateLimitConfig, type RateLimitConfigInput } from '../../../../runtime/proxy/ratelimit/config';
import { RateLimiter, type RateLimitLogger } from '../../../../runtime/proxy/ratelimit/rate-limiter';
import { runTokenBucket, TOKEN_BUCKET_SHA } from '../../../../runtime/proxy/ratelimit/redis-script';
import { connectRedis, deleteKeys, PrivateRedis } from '../../../support/services';

jest.setTimeout(30_000);

const prefix = `test:ratelimit:${randomBytes(4).toString('hex')}:`;
let shared: Redis;

beforeAll(async () => {
  shared = await connectRedis();
});

afterAll(async () => {
  await deleteKeys(shared, prefix);
  shared.disconnect();
});

function limiter(redis: Redis, input: RateLimitConfigInput = {}, logger?: RateLimitLogger) {
  return new RateLimiter(
    parseRateLimitConfig({ ...input, redis: { keyPrefix: prefix, timeoutMs: 200, retryIntervalMs: 100, ...input.redis } }),
    redis,
    systemClock,
    logger,
  );
}

function recordingLogger() {
  const lines: string[] = [];
  return { lines, logger: { warn: (_: object, m: string) => lines.push(`warn ${m}`), info: (_: object, m: string) => lines.push(`info ${m}`) } };
}

describe('RateLimiter on real Redis', () => {
  it('shares one bucket between two proxy instances', async () => {
    const a = limiter(shared, { requests: { low: { ratePerSecond: 0.001, burst: 20 } } });
    const b = limiter(shared, { requests: { low: { ratePerSecond: 0.001, burst: 20 } } });
    const subject = `user-${randomBytes(4).toString('hex')}`;
    const decisions = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).check({ subject, cls: 'low' })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(20);
    expect(decisions.every((d) => d.source === 'redis')).toBe(true);
    const refused = decisions.find((d) => !d.allowed)!;
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // One key per decision, and the API key itself never appears in Redis.
    const keys = await shared.keys(`${prefix}*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain(subject);
    expect(keys[0]).toBe(a.keyFor(subject));
    expect(await shared.pttl(keys[0])).toBeGreaterThan(0);
  });

  it('computes the same decisions in Lua as the local arithmetic, refill included', async () => {
    const key = `${prefix}lua-${randomBytes(4).toString('hex')}`;
    const args = { rRate: 50, rBurst: 5, rCost: 1, kRate: 0, kBurst: 0, kCost: 0, mode: 'take' as const };
    const first = [];
    for (let i = 0; i < 6; i++) first.push(await runTokenBucket(shared, key, args));
    expect(first.map((r) => r.allowed)).toEqual([true, true, true, true, true, false]);
    expect(first[5].retryAfterMs).toBeGreaterThan(0);
    expect(first[5].retryAfterMs).toBeLessThanOrEqual(20);
    await new Promise((r) => setTimeout(r, 60)); // 50/s: about 3 tokens back
    const after = await runTokenBucket(shared, key, args);
    expect(after.allowed).toBe(true);
    expect(after.requestsLeft).toBeGreaterThanOrEqual(1);
    expect(after.requestsLeft).toBeLessThan(5);
  });

  it('charges and corrects the token bucket with reported usage', async () => {
    const cfg = {
      requests: { medium: { ratePerSecond: 1_000, burst: 1_000 } },
      tokens: { enabled: true, limits: { medium: { ratePerSecond: 0.001, burst: 1_000 } } },
    };
    const rl = limiter(shared, cfg);
    const req = { subject: `tok-${randomBytes(4).toString('hex')}`, cls: 'medium' as const, estimatedTokens: 700 };
    expect((await rl.check(req)).allowed).toBe(true);
    expect((await rl.check(req)).allowed).toBe(false);
    await rl.correctTokens(req, 200); // refund 500: 800 left
    expect((await rl.check(req)).allowed).toBe(true);
  });

  it('reloads the script after NOSCRIPT (script cache flushed, e.g. after a failover)', async () => {
    const priv = await PrivateRedis.start();
    const client = new Redis({ port: priv.port, host: '127.0.0.1' });
    try {
      const rl = limiter(client);
      expect((await rl.check({ subject: 's', cls: 'low' })).source).toBe('redis');
      expect(await client.script('EXISTS', TOKEN_BUCKET_SHA)).toEqual([1]);
      await client.script('FLUSH');
      expect(await client.script('EXISTS', TOKEN_BUCKET_SHA)).toEqual([0]);
      expect((await rl.check({ subject: 's', cls: 'low' })).source).toBe('redis');
      expect(await client.script('EXISTS', TOKEN_BUCKET_SHA)).toEqual([1]);
    } finally {
      client.disconnect();
      await priv.stop();
    }
  });

  it('falls back to local buckets when Redis stops, logs once, and recovers when it returns', async () => {
    const priv = await PrivateRedis.start();
    const client = new Redis({ port: priv.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => undefined);
    const { lines, logger } = recordingLogger();
    const modes: string[] = [];
    const rl = new RateLimiter(
      parseRateLimitConfig({ replicas: 4, redis: { keyPrefix: prefix, timeoutMs: 100, retryIntervalMs: 100 } }),
      client,
      systemClock,
      logger,
      { onModeChange: (m) => modes.push(m) },
    );
    try {
      expect((await rl.check({ subject: 'u', cls: 'low' })).source).toBe('redis');
      await priv.stop();

      // Degraded: local bucket with a quarter of the burst (20 / 4 replicas), critical fails open.
      const local = [];
      for (let i = 0; i < 8; i++) local.push(await rl.check({ subject: 'u', cls: 'low' }));
      expect(rl.mode).toBe('local');
      expect(local.filter((d) => d.source === 'local' && d.allowed)).toHaveLength(5);
      expect(local.some((d) => d.source === 'local' && !d.allowed)).toBe(true);
      expect((await rl.check({ subject: 'u', cls: 'critical' })).allowed).toBe(true);
      expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);

      await priv.start();
      const deadline = Date.now() + 10_000;
      let last;
      do {
        await new Promise((r) => setTimeout(r, 120));
        last = await rl.check({ subject: 'v', cls: 'high' });
      } while (last.source !== 'redis' && Date.now() < deadline);
      expect(last.source).toBe('redis');
      expect(rl.mode).toBe('redis');
      expect(modes).toEqual(['local', 'redis']);
      expect(lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith('info'))).toHaveLength(1);
    } finally {
      client.disconnect();
      await priv.stop();
    }
  });

  it('falls back when Redis is slow rather than waiting for it', async () => {
    const slow = {
      evalsha: () => new Promise<unknown>((r) => setTimeout(() => r([1, '1', '0', 0]), 500)),
      eval: () => new Promise<unknown>(() => undefined),
    };
    const rl = new RateLimiter(parseRateLimitConfig({ redis: { keyPrefix: prefix, timeoutMs: 30, retryIntervalMs: 60_000 } }), slow, systemClock);
    const started = Date.now();
    const d = await rl.check({ subject: 'w', cls: 'medium' });
    expect(d).toMatchObject({ allowed: true, source: 'local' });
    expect(Date.now() - started).toBeLessThan(400);
    expect(rl.mode).toBe('local');
  });
});
