import { FakeClock } from '../../../../runtime/common/clock';
import { RetryBudgetSchema } from '../../../../runtime/common/config/upstream';
import { RetryBudget } from '../../../../runtime/common/upstream/retry-budget';

describe('RetryBudget', () => {
  it('always allows minConcurrent retries in flight, even with no traffic', () => {
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0, minConcurrent: 3 }), new FakeClock());
    const permits = [budget.tryAcquireRetry(), budget.tryAcquireRetry(), budget.tryAcquireRetry()];
    expect(permits.every((p) => p !== undefined)).toBe(true);
    expect(budget.tryAcquireRetry()).toBeUndefined();
    permits[0]!.done();
    expect(budget.tryAcquireRetry()).toBeDefined();
  });

  it('frees a retry slot once however often its permit is declared done', () => {
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0, minConcurrent: 2 }), new FakeClock());
    const first = budget.tryAcquireRetry()!;
    const second = budget.tryAcquireRetry()!;
    first.done();
    first.done(); // a second call must not free the slot the second retry still holds
    expect(budget.stats.retriesInFlight).toBe(1);
    expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeUndefined();
    second.done();
    expect(budget.stats.retriesInFlight).toBe(1);
  });

  it('caps retries at the ratio of requests in the window once the floor is used', () => {
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0.2, minConcurrent: 0 }), new FakeClock(0));
    for (let i = 0; i < 100; i++) budget.onRequest();
    let granted = 0;
    for (let i = 0; i < 100; i++) if (budget.tryAcquireRetry() !== undefined) granted++;
    expect(granted).toBe(20);
  });

  it('refills as old requests and retries slide out of the window', () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0.5, minConcurrent: 0, windowMs: 10_000 }), clock);
    for (let i = 0; i < 10; i++) budget.onRequest();
    for (let i = 0; i < 5; i++) expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeUndefined();
    clock.advance(11_000);
    expect(budget.stats).toEqual({ requests: 0, retries: 0, retriesInFlight: 5 });
    for (let i = 0; i < 4; i++) budget.onRequest();
    expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeUndefined();
  });

  it('forgets only the buckets that slid out: half a window later, the newer half still counts', () => {
    const clock = new FakeClock(0);
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0.5, minConcurrent: 0, windowMs: 10_000 }), clock);
    for (let i = 0; i < 4; i++) budget.onRequest();
    clock.advance(5_000);
    for (let i = 0; i < 6; i++) budget.onRequest();
    expect(budget.stats.requests).toBe(10);
    clock.advance(5_500); // t = 10.5 s: the bucket of t = 0 (a tenth of the window) still overlaps it
    expect(budget.stats.requests).toBe(10);
    clock.advance(500); // t = 11 s: that bucket has slid out, the one of t = 5 s is in
    expect(budget.stats.requests).toBe(6);
    const granted = [budget.tryAcquireRetry(), budget.tryAcquireRetry(), budget.tryAcquireRetry(), budget.tryAcquireRetry()];
    expect(granted.map((p) => p !== undefined)).toEqual([true, true, true, false]);
  });

  it('allows a retry that brings retries exactly to the ratio, not one more', () => {
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0.25, minConcurrent: 0 }), new FakeClock(0));
    for (let i = 0; i < 8; i++) budget.onRequest();
    expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeDefined(); // 2 retries = 0.25 x 8
    expect(budget.tryAcquireRetry()).toBeUndefined();
  });
  it('counts the window the same at a wall-clock time as at t = 0 (buckets are placed by real time)', () => {
    // the proxy's clock reads Date.now(): a bucket's start must be a time, not just a slot number
    const clock = new FakeClock(Date.UTC(2026, 11, 5, 12, 0, 0));
    const budget = new RetryBudget(RetryBudgetSchema.parse({ ratio: 0.5, minConcurrent: 0, windowMs: 10_000 }), clock);
    for (let i = 0; i < 4; i++) budget.onRequest();
    clock.advance(9_000);
    expect(budget.stats.requests).toBe(4);
    expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeDefined();
    expect(budget.tryAcquireRetry()).toBeUndefined();
    clock.advance(2_000); // t + 11 s: the requests' bucket slid out; the retries' bucket (t + 9 s) still counts
    expect(budget.stats).toEqual({ requests: 0, retries: 2, retriesInFlight: 2 });
  });
});
