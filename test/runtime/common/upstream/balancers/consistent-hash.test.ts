import { FakeClock } from '../../../../../runtime/common/clock';
import { CircuitBreakerSchema, HealthCheckSchema, UpstreamSchema } from '../../../../../runtime/common/config/upstream';
import { ConsistentHashBalancer, fnv1a32 } from '../../../../../runtime/common/upstream/balancers/consistent-hash';
import { Upstream } from '../../../../../runtime/common/upstream/upstream';

function upstreams(...weights: number[]): Upstream[] {
  return weights.map(
    (weight, i) =>
      new Upstream('p', UpstreamSchema.parse({ url: `http://10.0.0.${i + 1}:8000`, name: `u${i}`, weight }), {}, CircuitBreakerSchema.parse({}), HealthCheckSchema.parse({}), new FakeClock()),
  );
}

describe('fnv1a32', () => {
  it('hashes the same text to the same 32-bit value in every process and version (users keep their member across restarts)', () => {
    expect(['', 'a', 'user-1', 'user-2'].map(fnv1a32)).toEqual([2872998923, 444641715, 2005895916, 853201105]);
  });
});

describe('ConsistentHashBalancer', () => {
  it('sends requests without a user key to the least loaded candidate, the first of equals', () => {
    const [a, b, c] = upstreams(1, 1, 1);
    const balancer = new ConsistentHashBalancer([a, b, c], 1.25, 50);
    a.outstanding = 3;
    b.outstanding = 1;
    c.outstanding = 1;
    expect(balancer.pick([a, b, c], undefined)).toBe(b);
    b.outstanding = 2;
    expect(balancer.pick([a, b, c], undefined)).toBe(c);
    expect(balancer.pick([a], undefined)).toBe(a);
  });

  it('sends a keyed request to the only candidate whatever its load', () => {
    const [a, b] = upstreams(1, 1);
    const balancer = new ConsistentHashBalancer([a, b], 1.25, 50);
    b.outstanding = 100;
    expect(balancer.pick([b], 'user-1')).toBe(b);
  });

  it('gives a member of weight 3 about three times the users of a member of weight 1', () => {
    const [light, heavy] = upstreams(1, 3);
    const balancer = new ConsistentHashBalancer([light, heavy], 100, 100);
    let onHeavy = 0;
    for (let i = 0; i < 4_000; i++) if (balancer.pick([light, heavy], `user-${i}`) === heavy) onHeavy++;
    expect(onHeavy / 4_000).toBeGreaterThan(0.68);
    expect(onHeavy / 4_000).toBeLessThan(0.82);
  });

  it('maps a key past the last ring point to the first point of the ring', () => {
    const members = upstreams(1, 1, 1);
    const virtualNodes = 20;
    const balancer = new ConsistentHashBalancer(members, 100, virtualNodes);
    const points = members.flatMap((u) => Array.from({ length: virtualNodes }, (_, v) => ({ point: fnv1a32(`${u.name}#${v}`), u })));
    const last = Math.max(...points.map((p) => p.point));
    const first = points.reduce((x, y) => (y.point < x.point ? y : x));
    let key = '';
    for (let i = 0; key === '' && i < 1_000_000; i++) if (fnv1a32(`k${i}`) > last) key = `k${i}`;
    expect(key).not.toBe('');
    expect(balancer.pick(members, key)).toBe(first.u);
  });

  it('takes the home member while it is below the bound and moves on when it reaches it exactly', () => {
    const [a, b] = upstreams(1, 1);
    const balancer = new ConsistentHashBalancer([a, b], 1.25, 100);
    const home = balancer.pick([a, b], 'user-7');
    const other = home === a ? b : a;
    home.outstanding = 1; // total 1: bound ceil(1.25 x 2 / 2) = 2
    expect(balancer.pick([a, b], 'user-7')).toBe(home);
    home.outstanding = 2; // total 2: bound ceil(1.25 x 3 / 2) = 2, reached
    expect(balancer.pick([a, b], 'user-7')).toBe(other);
  });

  it('skips ring points of members that are not candidates when only some are', () => {
    const members = upstreams(1, 1, 1);
    const balancer = new ConsistentHashBalancer(members, 1.25, 50);
    const home = balancer.pick(members, 'user-3');
    const rest = members.filter((m) => m !== home);
    const picked = balancer.pick(rest, 'user-3');
    expect(rest).toContain(picked);
  });

  it('moves only the users of a member that stops being a candidate, each to the next candidate clockwise on the ring', () => {
    // what consistent hashing is for: a member drained or broken sends its users on, the others keep theirs
    const members = upstreams(1, 1, 1, 1);
    const virtualNodes = 5;
    const balancer = new ConsistentHashBalancer(members, 100, virtualNodes);
    const points = members
      .flatMap((u) => Array.from({ length: virtualNodes }, (_, v) => ({ point: fnv1a32(`${u.name}#${v}`), u })))
      .sort((x, y) => x.point - y.point);
    const [gone, ...rest] = [members[2], members[0], members[1], members[3]];
    let moved = 0;
    for (const key of Array.from({ length: 400 }, (_, i) => `user-${i}`)) {
      const before = balancer.pick(members, key);
      const after = balancer.pick(rest, key);
      if (before !== gone) {
        expect(after).toBe(before);
        continue;
      }
      moved++;
      const clockwise = [...points.filter((p) => p.point >= fnv1a32(key)), ...points].find((p) => p.u !== gone)!.u;
      expect(after).toBe(clockwise);
    }
    expect(moved).toBeGreaterThan(40); // the removed member held a fair share of the users
  });

  it('falls back to the least loaded candidate when no candidate is on its ring', () => {
    // (candidates are a subset of the members the ring was built from, except in this test)
    const [a, b, c, d, e] = upstreams(1, 1, 1, 1, 1);
    const balancer = new ConsistentHashBalancer([a, b, c], 1.25, 50);
    d.outstanding = 2;
    e.outstanding = 1;
    expect(balancer.pick([d, e], 'user-1')).toBe(e);
  });
  it('places each member at the points "<name>#0" to "<name>#(virtualNodes x weight - 1)", a key going to the first point at or after its hash', () => {
    // the ring's layout is what keeps users on their member across restarts and versions
    const members = upstreams(1, 2, 1);
    const virtualNodes = 3;
    const balancer = new ConsistentHashBalancer(members, 100, virtualNodes);
    const labels = members.flatMap((u) => Array.from({ length: virtualNodes * u.weight }, (_, v) => ({ label: `${u.name}#${v}`, u })));
    const points = labels.map(({ label, u }) => ({ point: fnv1a32(label), u })).sort((x, y) => x.point - y.point);
    const expected = (key: string) => (points.find((p) => p.point >= fnv1a32(key)) ?? points[0]).u;
    for (const key of Array.from({ length: 300 }, (_, i) => `user-${i}`)) expect(balancer.pick(members, key)).toBe(expected(key));
    // a key that hashes exactly onto a ring point belongs to that point's member
    for (const { label, u } of labels) expect(balancer.pick(members, label)).toBe(u);
  });
});
