import { FakeClock } from '../../../../runtime/common/clock';
import type { z } from 'zod';
import { PoolSchema } from '../../../../runtime/common/config/upstream';
import { UpstreamPool } from '../../../../runtime/common/upstream/upstream-pool';
import { parseAdmissionConfig } from '../../../../runtime/proxy/admission/config';
import { PoolAdmission } from '../../../../runtime/proxy/admission/pool-admission';

/** A pool of static members (nothing is contacted: no scraping, no Redis, no health probes). */
function admission(pool: z.input<typeof PoolSchema>) {
  const clock = new FakeClock(1_000);
  const p = new UpstreamPool('p', PoolSchema.parse({ health: { enabled: false }, ...pool }), { clock, random: () => 0.5, env: {} });
  const pa = new PoolAdmission(p, parseAdmissionConfig({ saturation: { enabled: false } }), { clock });
  return { pool: p, controller: pa.controller, clock };
}

const twoMembers = {
  // health checks on (never started here): a refused connection may mark a member down
  health: { enabled: true },
  upstreams: [
    { url: 'http://10.0.0.1:8000', name: 'a', slots: 1 },
    { url: 'http://10.0.0.2:8000', name: 'b', slots: 1 },
  ],
};

describe('PoolAdmission', () => {
  it('gives each member its slots as this (single) replica\'s part, and none to a member that does not serve', () => {
    const { pool, controller } = admission({
      upstreams: [
        { url: 'http://10.0.0.1:8000', name: 'a', slots: 8 },
        { url: 'http://10.0.0.2:8000', name: 'b', slots: 4 },
      ],
    });
    expect(controller.limit).toBe(12);
    expect(pool.members.map((u) => u.share)).toEqual([8, 4]);
    for (let i = 0; i < 3; i++) pool.members[1].health.record(false);
    expect(controller.limit).toBe(8);
    expect(pool.members.map((u) => u.share)).toEqual([8, undefined]);
  });

  it('moves the requests waiting for the pool on at once when its last member stops serving (no membership change, no deadline)', async () => {
    const { pool, controller } = admission(twoMembers);
    const held = [controller.tryAcquireNow('critical'), controller.tryAcquireNow('critical')];
    expect(held.every((p) => p !== undefined)).toBe(true);
    const waiting = controller.acquire({ cls: 'critical' });
    // the members' pods die: a refused connection each (the fake clock never moves: nothing times out)
    expect(pool.markRefused(pool.members[0])).toBe(true);
    expect(controller.limit).toBe(1);
    expect(pool.markRefused(pool.members[1])).toBe(true);
    expect(controller.limit).toBe(0);
    await expect(waiting).resolves.toMatchObject({ kind: 'shed', reason: 'no_capacity' });
  });

  it('hands a member\'s slots back to the waiters as soon as its breaker closes or its health returns, without a completion', async () => {
    const { pool, controller } = admission(twoMembers);
    pool.markRefused(pool.members[1]);
    expect(controller.tryAcquireNow('high')).toBeDefined();
    const waiting = controller.acquire({ cls: 'high' });
    let settled = false;
    void waiting.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    // two good probes bring it back (healthyThreshold 2, the default)
    pool.members[1].health.record(true);
    pool.members[1].health.record(true);
    pool.servingChanged(); // what the health checker calls on a verdict change
    await expect(waiting).resolves.toMatchObject({ kind: 'permit' });
  });

  it('does not mark a refused member down when no health check could bring it back (health checks off: passive checks only)', () => {
    const { pool, controller } = admission({ ...twoMembers, health: { enabled: false } });
    expect(pool.markRefused(pool.members[0])).toBe(false);
    expect(pool.members[0].healthy).toBe(true);
    expect(controller.limit).toBe(2);
  });
});
