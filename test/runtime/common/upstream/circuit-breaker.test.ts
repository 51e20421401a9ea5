import { FakeClock } from '../../../../runtime/common/clock';
import { CircuitBreakerSchema } from '../../../../runtime/common/config/upstream';
import { BreakerState, CircuitBreaker } from '../../../../runtime/common/upstream/circuit-breaker';

function breaker(overrides: Record<string, number> = {}) {
  const clock = new FakeClock(1_000_000);
  const transitions: BreakerState[] = [];
  const b = new CircuitBreaker(CircuitBreakerSchema.parse(overrides), clock, (to) => transitions.push(to));
  return { b, clock, transitions };
}

describe('CircuitBreaker', () => {
  it('stays closed below the minimum volume even at 100 % errors when failures are not consecutive', () => {
    const { b } = breaker({ minRequests: 20, consecutiveFailures: 100 });
    for (let i = 0; i < 19; i++) b.onFailure();
    expect(b.state).toBe('closed');
  });

  it('opens when the error share reaches the ratio over at least minRequests', () => {
    const { b } = breaker({ minRequests: 20, errorRatio: 0.5, consecutiveFailures: 100 });
    for (let i = 0; i < 10; i++) {
      b.onSuccess();
      expect(b.state).toBe('closed');
      b.onFailure();
    }
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBeUndefined();
  });

  it('does not open when errors stay under the ratio', () => {
    const { b } = breaker({ minRequests: 20, errorRatio: 0.5, consecutiveFailures: 100 });
    for (let i = 0; i < 30; i++) {
      b.onSuccess();
      b.onSuccess();
      b.onFailure();
    }
    expect(b.state).toBe('closed');
  });

  it('opens after the configured consecutive failures regardless of volume', () => {
    const { b } = breaker({ consecutiveFailures: 5 });
    for (let i = 0; i < 4; i++) b.onFailure();
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
  });

  it('forgets errors that slid out of the window', () => {
    const { b, clock } = breaker({ minRequests: 4, errorRatio: 0.5, consecutiveFailures: 100, windowMs: 10_000 });
    b.onFailure();
    b.onFailure();
    b.onFailure();
    clock.advance(11_000);
    b.onSuccess();
    b.onSuccess();
    b.onSuccess();
    b.onFailure();
    expect(b.state).toBe('closed');
  });

  it('half-opens after openMs, admits only the configured probes, and closes after they succeed', () => {
    const { b, clock, transitions } = breaker({ consecutiveFailures: 1, openMs: 5_000, halfOpenProbes: 2 });
    b.onFailure();
    expect(b.state).toBe('open');
    clock.advance(4_999);
    expect(b.tryAcquire()).toBeUndefined();
    clock.advance(1);
    expect(b.state).toBe('half-open');
    const probes = [b.tryAcquire()!, b.tryAcquire()!];
    expect(b.tryAcquire()).toBeUndefined();
    probes[0].success();
    expect(b.state).toBe('half-open');
    probes[1].success();
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['open', 'half-open', 'closed']);
  });

  it('reopens on a failed probe and waits a full openMs again', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 5_000 });
    b.onFailure();
    clock.advance(5_000);
    b.tryAcquire()!.failure();
    expect(b.state).toBe('open');
    clock.advance(4_000);
    expect(b.state).toBe('open');
    clock.advance(1_000);
    expect(b.state).toBe('half-open');
  });

  it('returns a cancelled probe slot without deciding', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 1 });
    b.onFailure();
    clock.advance(1_000);
    const probe = b.tryAcquire()!;
    expect(b.tryAcquire()).toBeUndefined();
    probe.cancel();
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBeDefined();
  });

  it('closes from open when a forced last-resort attempt succeeds', () => {
    const { b } = breaker({ consecutiveFailures: 1 });
    b.onFailure();
    b.forceAcquire().success();
    expect(b.state).toBe('closed');
  });

  it('still counts outcomes of the oldest bucket of the window, and forgets them once it slid out', () => {
    // windowMs 10 s kept as ten 1 s buckets, the current one included: outcomes of the bucket
    // starting at t count until the bucket starting at t + 10 s takes its place
    const run = (later: number) => {
      const { b, clock } = breaker({ minRequests: 5, errorRatio: 0.5, consecutiveFailures: 100, windowMs: 10_000 });
      clock.advance(-(1_000_000 % 1_000)); // start on a bucket boundary
      b.onFailure();
      b.onFailure();
      clock.advance(5_000);
      b.onSuccess();
      clock.advance(later - 5_000);
      b.onSuccess();
      b.onFailure(); // 5 outcomes, 3 errors while the first bucket counts; 3 outcomes after
      return b.state;
    };
    expect(run(9_500)).toBe('open');
    expect(run(9_999)).toBe('open');
    expect(run(10_000)).toBe('closed');
  });

  it('forgets a bucket once its last millisecond left the window, even when no newer outcome took its place', () => {
    // ten 1 s buckets: errors recorded in [t, t + 1 s) count while the window (now - 10 s, now]
    // still holds part of that second, so up to t + 11 s if a quiet spell left its slot alone
    const run = (later: number) => {
      const { b, clock } = breaker({ minRequests: 3, errorRatio: 0.5, consecutiveFailures: 100, windowMs: 10_000 });
      clock.advance(-(1_000_000 % 1_000)); // start on a bucket boundary
      b.onFailure();
      b.onFailure();
      clock.advance(later); // quiet in between
      b.onSuccess();
      b.onFailure(); // with the two old errors: 3 of 4; without them: 2 outcomes, below minRequests
      return b.state;
    };
    expect(run(1_500)).toBe('open');
    expect(run(11_000)).toBe('closed');
  });

  it('counts failures in a row only: a success in between starts the count again', () => {
    const { b } = breaker({ consecutiveFailures: 3, minRequests: 100 });
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe('closed');
    b.onFailure();
    expect(b.state).toBe('open');
  });

  it('starts a fresh window when it closes again, so old errors cannot reopen it', () => {
    const { b, clock } = breaker({ minRequests: 3, errorRatio: 0.5, consecutiveFailures: 100, openMs: 1_000 });
    b.onFailure();
    b.onFailure();
    b.onFailure();
    expect(b.state).toBe('open');
    clock.advance(1_000);
    b.tryAcquire()!.success();
    expect(b.state).toBe('closed');
    b.onSuccess();
    b.onSuccess();
    b.onFailure(); // 1 error of 3 in the new window; with the old one kept, 4 of 7 (the probe's success included)
    expect(b.state).toBe('closed');
  });

  it('stays open for exactly openMs, and tells each state change once with where it came from', () => {
    const changes: Array<[BreakerState, BreakerState]> = [];
    const clock = new FakeClock(0);
    const b = new CircuitBreaker(CircuitBreakerSchema.parse({ consecutiveFailures: 1, openMs: 1_000 }), clock, (to, from) => changes.push([to, from]));
    b.onFailure();
    b.onFailure(); // failures while open change nothing
    clock.advance(999);
    expect(b.canAttempt()).toBe(false);
    clock.advance(1);
    expect(b.canAttempt()).toBe(true);
    expect(b.state).toBe('half-open');
    b.tryAcquire()!.success();
    expect(changes).toEqual([
      ['open', 'closed'],
      ['half-open', 'open'],
      ['closed', 'half-open'],
    ]);
  });

  it('closes from half-open only after halfOpenProbes successes, and checks without taking a probe slot', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 2 });
    b.onFailure();
    clock.advance(1_000);
    expect(b.canAttempt()).toBe(true);
    expect(b.canAttempt()).toBe(true);
    const probes = [b.tryAcquire(), b.tryAcquire(), b.tryAcquire()];
    expect(probes.map((p) => p !== undefined)).toEqual([true, true, false]);
    probes[0]!.success();
    expect(b.state).toBe('half-open');
    expect(b.canAttempt()).toBe(true); // one probe slot free again
    b.onSuccess(); // an outcome outside a probe's verdict does not count as a probe
    expect(b.state).toBe('half-open');
    probes[1]!.success();
    expect(b.state).toBe('closed');
  });

  it('counts a forced last-resort attempt in half-open as a probe', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 1 });
    b.onFailure();
    clock.advance(1_000);
    const forced = b.forceAcquire();
    expect(b.tryAcquire()).toBeUndefined();
    forced.cancel();
    expect(b.tryAcquire()).toBeDefined();
  });

  it('frees no probe slot for a cancel of an attempt allowed while closed', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 1 });
    const before = b.tryAcquire()!;
    b.onFailure();
    clock.advance(1_000);
    expect(b.tryAcquire()).toBeDefined();
    before.cancel();
    expect(b.tryAcquire()).toBeUndefined();
  });

  it('counts one verdict per permit: a probe cancelled twice frees one slot, so no extra probe goes out', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 2 });
    b.onFailure();
    clock.advance(1_000);
    const first = b.tryAcquire()!;
    b.tryAcquire()!;
    first.cancel();
    first.cancel();
    expect(b.tryAcquire()).toBeDefined();
    expect(b.tryAcquire()).toBeUndefined(); // two probes in flight, the limit
  });

  it('closes only after halfOpenProbes distinct probes succeed, however often one reports', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 2 });
    b.onFailure();
    clock.advance(1_000);
    const first = b.tryAcquire()!;
    b.tryAcquire()!;
    first.success();
    first.success();
    expect(b.state).toBe('half-open');
  });

  it('frees no slot of a new half-open period for a probe of an earlier one', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 2 });
    b.onFailure();
    clock.advance(1_000);
    const failing = b.tryAcquire()!;
    const late = b.tryAcquire()!;
    failing.failure(); // reopens
    clock.advance(1_000);
    const fresh = [b.tryAcquire()!, b.tryAcquire()!];
    late.cancel(); // from the earlier period: must not make room for a third probe
    expect(b.tryAcquire()).toBeUndefined();
    fresh[0].success();
    fresh[1].success();
    expect(b.state).toBe('closed');
  });
  it('keeps the open period from the trip: failures reported while open do not extend it', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000 });
    const late = b.tryAcquire()!;
    b.onFailure();
    expect(b.state).toBe('open');
    clock.advance(600);
    late.failure(); // an attempt allowed before the trip fails while open
    b.onFailure();
    clock.advance(400);
    expect(b.state).toBe('half-open');
  });

  it('starts each half-open period with no successful probe: a success before a failed probe does not carry over', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 2 });
    b.onFailure();
    clock.advance(1_000);
    const [good, bad] = [b.tryAcquire()!, b.tryAcquire()!];
    good.success();
    bad.failure(); // reopens
    clock.advance(1_000);
    b.tryAcquire()!.success();
    expect(b.state).toBe('half-open'); // one of two in this period
    b.tryAcquire()!.success();
    expect(b.state).toBe('closed');
  });

  it('works without a state-change listener', () => {
    const clock = new FakeClock(0);
    const b = new CircuitBreaker(CircuitBreakerSchema.parse({ consecutiveFailures: 1, openMs: 1_000, halfOpenProbes: 1 }), clock);
    b.onFailure();
    expect(b.state).toBe('open');
    clock.advance(1_000);
    b.tryAcquire()!.success();
    expect(b.state).toBe('closed');
  });

  it('reports no state change for outcomes that leave the state as it is', () => {
    const { b, transitions } = breaker({ consecutiveFailures: 3, minRequests: 100 });
    b.onSuccess();
    b.tryAcquire()!.success();
    b.onFailure();
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(transitions).toEqual([]);
  });
});
