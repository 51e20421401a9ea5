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
  return { pool: p, controller: pa.controller };
}

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
});
