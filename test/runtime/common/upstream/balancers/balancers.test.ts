import { FakeClock, seededRandom } from '../../../../../runtime/common/clock';
import { CircuitBreakerSchema, HealthCheckSchema, UpstreamSchema } from '../../../../../runtime/common/config/upstream';
import { ConsistentHashBalancer, LeastOutstandingBalancer, WeightedRoundRobinBalancer } from '../../../../../runtime/common/upstream/balancers';
import { Upstream } from '../../../../../runtime/common/upstream/upstream';

function upstreams(...weights: number[]): Upstream[] {
  return weights.map(
    (weight, i) =>
      new Upstream('p', UpstreamSchema.parse({ url: `http://10.0.0.${i + 1}:8000`, name: `u${i}`, weight }), {}, CircuitBreakerSchema.parse({}), HealthCheckSchema.parse({}), new FakeClock()),
  );
}

function counts(picks: Upstream[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p.name] = (out[p.name] ?? 0) + 1;
  return out;
}

describe('WeightedRoundRobinBalancer', () => {
  it('spreads picks exactly by weight and interleaves them smoothly', () => {
    const members = upstreams(5, 1, 1);
    const b = new WeightedRoundRobinBalancer();
    const picks = Array.from({ length: 7 }, () => b.pick(members).name);
    expect(picks).toEqual(['u0', 'u0', 'u1', 'u0', 'u2', 'u0', 'u0']);
    expect(counts(Array.from({ length: 700 }, () => b.pick(members)))).toEqual({ u0: 500, u1: 100, u2: 100 });
  });

  it('keeps proportions among the remaining members when one is excluded', () => {
    const members = upstreams(3, 1, 1);
    const b = new WeightedRoundRobinBalancer();
    const subset = [members[0], members[2]];
    expect(counts(Array.from({ length: 400 }, () => b.pick(subset)))).toEqual({ u0: 300, u2: 100 });
  });
});

describe('LeastOutstandingBalancer', () => {
  it('prefers the less loaded of the two sampled members', () => {
    const members = upstreams(1, 1);
    members[0].outstanding = 10;
    const b = new LeastOutstandingBalancer(seededRandom(7));
    for (let i = 0; i < 50; i++) expect(b.pick(members).name).toBe('u1');
  });

  it('never picks the most loaded member of three or more (power of two choices)', () => {
    const members = upstreams(1, 1, 1, 1);
    members.forEach((m, i) => (m.outstanding = i * 3));
    const b = new LeastOutstandingBalancer(seededRandom(3));
    const picked = counts(Array.from({ length: 400 }, () => b.pick(members)));
    expect(picked.u3).toBeUndefined();
    expect(picked.u0).toBeGreaterThan(picked.u2 ?? 0);
  });

  it('compares load relative to weight', () => {
    const members = upstreams(4, 1);
    members[0].outstanding = 3;
    members[1].outstanding = 1;
    const b = new LeastOutstandingBalancer(seededRandom(1));
    expect(b.pick(members).name).toBe('u0');
  });
});

describe('ConsistentHashBalancer', () => {
  it('sends the same user to the same member every time', () => {
    const members = upstreams(1, 1, 1, 1);
    const b = new ConsistentHashBalancer(members, 1.25, 100);
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const first = b.pick(members, user);
      for (let i = 0; i < 20; i++) expect(b.pick(members, user)).toBe(first);
    }
  });

  it('spreads many users over all members', () => {
    const members = upstreams(1, 1, 1, 1);
    const b = new ConsistentHashBalancer(members, 1.25, 100);
    const spread = counts(Array.from({ length: 2_000 }, (_, i) => b.pick(members, `user-${i}`)));
    for (const name of ['u0', 'u1', 'u2', 'u3']) expect(spread[name]).toBeGreaterThan(300);
  });

  it('moves only the users of a removed member', () => {
    const members = upstreams(1, 1, 1, 1);
    const b = new ConsistentHashBalancer(members, 1.25, 100);
    const before = new Map(Array.from({ length: 500 }, (_, i) => [`user-${i}`, b.pick(members, `user-${i}`)] as const));
    const without = members.filter((m) => m.name !== 'u2');
    for (const [user, was] of before) {
      const now = b.pick(without, user);
      if (was.name !== 'u2') expect(now).toBe(was);
      else expect(now.name).not.toBe('u2');
    }
  });

  it('moves a hot user off an overloaded member (bounded load)', () => {
    const members = upstreams(1, 1, 1, 1);
    const b = new ConsistentHashBalancer(members, 1.25, 100);
    const home = b.pick(members, 'hot-user');
    home.outstanding = 10;
    const next = b.pick(members, 'hot-user');
    expect(next).not.toBe(home);
    home.outstanding = 0;
    expect(b.pick(members, 'hot-user')).toBe(home);
  });
});
