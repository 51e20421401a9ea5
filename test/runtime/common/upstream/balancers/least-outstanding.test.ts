import { FakeClock } from '../../../../../runtime/common/clock';
import { CircuitBreakerSchema, HealthCheckSchema, UpstreamSchema } from '../../../../../runtime/common/config/upstream';
import { LeastOutstandingBalancer } from '../../../../../runtime/common/upstream/balancers';
import { Upstream } from '../../../../../runtime/common/upstream/upstream';

function member(name: string, weight: number, outstanding: number): Upstream {
  const u = new Upstream('p', UpstreamSchema.parse({ url: `http://10.0.0.1:8000`, name, weight }), {}, CircuitBreakerSchema.parse({}), HealthCheckSchema.parse({}), new FakeClock());
  u.outstanding = outstanding;
  return u;
}

/** A random source that answers the given draws in order. */
const draws = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length];
};

describe('LeastOutstandingBalancer', () => {
  it('picks the only candidate without drawing', () => {
    const only = member('a', 1, 7);
    const random = jest.fn(() => 0.5);
    expect(new LeastOutstandingBalancer(random).pick([only])).toBe(only);
    expect(random).not.toHaveBeenCalled();
  });

  it('compares the two sampled candidates by requests in flight per unit of weight', () => {
    // a: 4 in flight at weight 4 (1 per unit), b: 2 in flight at weight 1 (2 per unit)
    const a = member('a', 4, 4);
    const b = member('b', 1, 2);
    expect(new LeastOutstandingBalancer(draws(0, 0)).pick([a, b])).toBe(a);
    expect(new LeastOutstandingBalancer(draws(0.9, 0)).pick([a, b])).toBe(a);
  });

  it('never samples the same candidate twice', () => {
    // first draw picks index 1; the second draw (index 0 of the remaining) must land on index 0
    const idle = member('idle', 1, 0);
    const busy = member('busy', 1, 5);
    expect(new LeastOutstandingBalancer(draws(0.6, 0)).pick([idle, busy])).toBe(idle);
    const third = member('third', 1, 9);
    // draws: i = floor(0.4 * 3) = 1 (busy); j = floor(0.6 * 2) = 1 -> shifted to 2 (third)
    expect(new LeastOutstandingBalancer(draws(0.4, 0.6)).pick([idle, busy, third])).toBe(busy);
  });

  it('breaks a tie in load toward the heavier member, and toward the first sampled at equal weight', () => {
    const light = member('light', 1, 1);
    const heavy = member('heavy', 2, 2);
    expect(new LeastOutstandingBalancer(draws(0, 0)).pick([light, heavy])).toBe(heavy);
    expect(new LeastOutstandingBalancer(draws(0.9, 0)).pick([light, heavy])).toBe(heavy);
    const x = member('x', 1, 3);
    const y = member('y', 1, 3);
    expect(new LeastOutstandingBalancer(draws(0.9, 0)).pick([x, y])).toBe(y);
    expect(new LeastOutstandingBalancer(draws(0, 0)).pick([x, y])).toBe(x);
  });
});

describe('LeastOutstandingBalancer with parts of the members\' slots assigned (proxy replicas sharing a pool)', () => {
  const withShare = (name: string, share: number, outstanding: number) => {
    const u = member(name, 1, outstanding);
    u.share = share;
    return u;
  };

  it('picks the member with the most of its part free, whatever the sample draws', () => {
    const a = withShare('a', 3, 3);
    const b = withShare('b', 3, 1);
    const c = withShare('c', 2, 1);
    for (const r of [0, 0.3, 0.6, 0.99]) expect(new LeastOutstandingBalancer(draws(r)).pick([a, b, c])).toBe(b);
  });

  it('never puts more on a member than its part while another member has room in its own', () => {
    const members = [withShare('a', 3, 0), withShare('b', 3, 0), withShare('c', 2, 0), withShare('d', 3, 0)];
    const balancer = new LeastOutstandingBalancer(draws(0.1, 0.7, 0.4, 0.95));
    for (let i = 0; i < 11; i++) balancer.pick(members).outstanding++;
    expect(members.map((u) => u.outstanding)).toEqual([3, 3, 2, 3]);
  });

  it('breaks ties at random among the members with the most room', () => {
    const a = withShare('a', 3, 1);
    const b = withShare('b', 3, 1);
    expect(new LeastOutstandingBalancer(draws(0.9)).pick([a, b])).toBe(a); // 0.9 x 2 >= 1: keeps a
    expect(new LeastOutstandingBalancer(draws(0.4)).pick([a, b])).toBe(b);
  });

  it('falls back to power of two choices when every part is in use, or a member has no part', () => {
    const full = [withShare('a', 2, 2), withShare('b', 2, 3)];
    expect(new LeastOutstandingBalancer(draws(0.6, 0)).pick(full)).toBe(full[0]);
    const mixed = [withShare('a', 2, 0), member('b', 1, 5)];
    expect(new LeastOutstandingBalancer(draws(0.6, 0)).pick(mixed)).toBe(mixed[0]);
    expect(new LeastOutstandingBalancer(draws(0, 0)).pick([member('x', 1, 4), withShare('y', 4, 0)]).name).toBe('y');
  });

  it('treats a part exactly in use as full: falls back to power of two choices rather than to the first member sampled', () => {
    // a runs its 3 of 3, b its 1 of 1: no member has room, so the pick goes by load (b: 1 in flight, a: 3)
    const a = withShare('a', 3, 3);
    const b = withShare('b', 1, 1);
    // draws: i = floor(0.99 * 2) = 1 (b), j = floor(0.99 * 1) = 0 (a)
    expect(new LeastOutstandingBalancer(draws(0.99, 0.99)).pick([a, b])).toBe(b);
    expect(new LeastOutstandingBalancer(draws(0, 0)).pick([a, b])).toBe(b);
  });
});
