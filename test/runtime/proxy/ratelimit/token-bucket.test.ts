import { FakeClock } from '../../../../runtime/common/clock';
import { parseRateLimitConfig } from '../../../../runtime/proxy/ratelimit/config';
import { RateLimiter } from '../../../../runtime/proxy/ratelimit/rate-limiter';
import { adjust, refill, scaleForReplicas, take, type BucketState } from '../../../../runtime/proxy/ratelimit/token-bucket';
import { estimateRequestTokens, reportedUsage } from '../../../../runtime/proxy/ratelimit/tokens';

const limit = { ratePerSecond: 10, burst: 20 };

describe('token bucket arithmetic', () => {
  it('allows a burst of 20 at once and refuses the 21st', () => {
    let s: BucketState | undefined;
    for (let i = 0; i < 20; i++) {
      const r = take(s, limit, 0);
      expect(r.allowed).toBe(true);
      s = r.state;
    }
    const refused = take(s, limit, 0);
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it('refills at the rate, capped at the burst', () => {
    const empty: BucketState = { tokens: 0, updatedAt: 0 };
    expect(refill(empty, limit, 250)).toBeCloseTo(2.5);
    expect(refill(empty, limit, 60_000)).toBe(20);
    expect(take(empty, limit, 99).allowed).toBe(false);
    expect(take(empty, limit, 100).allowed).toBe(true);
  });

  it('sustains exactly the rate once the burst is spent', () => {
    let s: BucketState | undefined;
    let allowed = 0;
    for (let t = 0; t < 10_000; t += 10) {
      const r = take(s, limit, t);
      if (r.allowed) allowed++;
      s = r.state;
    }
    // 20 burst + 10/s for 9.99 s
    expect(allowed).toBe(20 + 99);
  });

  it('admits a cost above the burst only from a full bucket and leaves a debt', () => {
    const big = take(undefined, { ratePerSecond: 100, burst: 1_000 }, 0, 1_500);
    expect(big).toMatchObject({ allowed: true, remaining: -500 });
    const next = take(big.state, { ratePerSecond: 100, burst: 1_000 }, 1_000, 10);
    expect(next).toMatchObject({ allowed: false, retryAfterMs: 4_100 }); // -400 after 1 s, 410 more needed at 100/s
  });

  it('applies usage corrections as spend or refund, capped at the burst', () => {
    const s = adjust({ tokens: 100, updatedAt: 0 }, { ratePerSecond: 1, burst: 1_000 }, 0, -300);
    expect(s.tokens).toBe(400);
    expect(adjust(s, { ratePerSecond: 1, burst: 1_000 }, 0, -5_000).tokens).toBe(1_000);
    expect(adjust(s, { ratePerSecond: 1, burst: 1_000 }, 0, 600).tokens).toBe(-200);
  });

  it('allows a take that leaves exactly zero tokens and refuses one that needs a fraction more', () => {
    const r = take({ tokens: 3, updatedAt: 0 }, limit, 0, 3);
    expect(r).toEqual({ allowed: true, state: { tokens: 0, updatedAt: 0 }, remaining: 0, retryAfterMs: 0 });
    expect(take({ tokens: 2.5, updatedAt: 0 }, limit, 0, 3)).toEqual({ allowed: false, state: { tokens: 2.5, updatedAt: 0 }, remaining: 2.5, retryAfterMs: 50 });
  });

  it('does not refill backwards when a clock steps back', () => {
    expect(refill({ tokens: 5, updatedAt: 1_000 }, limit, 500)).toBe(5);
  });

  it('treats fewer than one replica, or a fraction, as whole replicas', () => {
    expect(scaleForReplicas(limit, 0)).toEqual(limit);
    expect(scaleForReplicas(limit, 2.7)).toEqual({ ratePerSecond: 5, burst: 10 });
  });

  it('gives each replica its share of the limit for the local fallback', () => {
    expect(scaleForReplicas(limit, 4)).toEqual({ ratePerSecond: 2.5, burst: 5 });
    expect(scaleForReplicas(limit, 100)).toEqual({ ratePerSecond: 0.1, burst: 1 });
  });
});

describe('token estimates', () => {
  it('counts prompt characters / 4 plus max_tokens', () => {
    const body = { messages: [{ role: 'user', content: 'x'.repeat(400) }, { role: 'user', content: [{ type: 'text', text: 'y'.repeat(40) }] }], max_tokens: 50 };
    expect(estimateRequestTokens(body, 256)).toBe(110 + 50);
    expect(estimateRequestTokens({ prompt: 'abcd' }, 256)).toBe(1 + 256);
  });

  it('reads usage reported by the upstream', () => {
    expect(reportedUsage({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })).toBe(15);
    expect(reportedUsage({ usage: { prompt_tokens: 10, completion_tokens: 5 } })).toBe(15);
    expect(reportedUsage({})).toBeUndefined();
  });
});

describe('RateLimiter without Redis (local buckets)', () => {
  it('limits per key, across its classes, with the replica share of the limit', async () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(parseRateLimitConfig({ replicas: 2 }), undefined, clock);
    expect(rl.mode).toBe('local');
    const results: boolean[] = [];
    for (let i = 0; i < 12; i++) results.push((await rl.check({ subject: 'key-a', cls: 'low' })).allowed);
    expect(results.filter(Boolean)).toHaveLength(10); // burst 20 / 2 replicas
    expect((await rl.check({ subject: 'key-b', cls: 'low' })).allowed).toBe(true);
    // another class is the same bucket: cycling X-Priority does not multiply the limit
    expect((await rl.check({ subject: 'key-a', cls: 'high' })).allowed).toBe(false);
    expect((await rl.check({ subject: 'key-a', cls: 'medium' })).allowed).toBe(false);
    const refused = await rl.check({ subject: 'key-a', cls: 'low' });
    expect(refused).toMatchObject({ allowed: false, source: 'local', retryAfterSeconds: 1 });
    clock.advance(200); // 5/s per replica: one token
    expect((await rl.check({ subject: 'key-a', cls: 'low' })).allowed).toBe(true);
  });

  it('never refuses critical traffic while the shared bucket is unavailable', async () => {
    const rl = new RateLimiter(parseRateLimitConfig({}), undefined, new FakeClock());
    for (let i = 0; i < 100; i++) expect((await rl.check({ subject: 'k', cls: 'critical' })).allowed).toBe(true);
    expect((await rl.check({ subject: 'k', cls: 'critical' })).source).toBe('fail_open');
  });

  it('limits model tokens when token limits are on and refunds unused estimates', async () => {
    const clock = new FakeClock();
    const cfg = parseRateLimitConfig({
      requests: { critical: limit, high: limit, medium: limit, low: { ratePerSecond: 1_000, burst: 1_000 } },
      tokens: { enabled: true, limits: { critical: limit, high: limit, medium: limit, low: { ratePerSecond: 10, burst: 1_000 } } },
    });
    const rl = new RateLimiter(cfg, undefined, clock);
    const req = { subject: 'k', cls: 'low' as const, estimatedTokens: 600 };
    expect((await rl.check(req)).allowed).toBe(true);
    expect((await rl.check(req)).allowed).toBe(false); // 400 left
    await rl.correctTokens(req, 100); // the first answer used 100, refund 500
    expect((await rl.check(req)).allowed).toBe(true);
  });

  it('lets everything through when disabled', async () => {
    const rl = new RateLimiter(parseRateLimitConfig({ enabled: false }), undefined, new FakeClock());
    for (let i = 0; i < 50; i++) expect((await rl.check({ subject: 'k', cls: 'low' })).allowed).toBe(true);
  });
});
