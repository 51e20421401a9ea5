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
    expect(b.tryAcquire()).toBe(false);
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
    expect(b.tryAcquire()).toBe(false);
    clock.advance(1);
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.onSuccess();
    expect(b.state).toBe('half-open');
    b.onSuccess();
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['open', 'half-open', 'closed']);
  });

  it('reopens on a failed probe and waits a full openMs again', () => {
    const { b, clock } = breaker({ consecutiveFailures: 1, openMs: 5_000 });
    b.onFailure();
    clock.advance(5_000);
    expect(b.tryAcquire()).toBe(true);
    b.onFailure();
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
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.onCancel();
    expect(b.state).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
  });

  it('closes from open when a forced last-resort attempt succeeds', () => {
    const { b } = breaker({ consecutiveFailures: 1 });
    b.onFailure();
    b.forceAcquire();
    b.onSuccess();
    expect(b.state).toBe('closed');
  });
});
