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
