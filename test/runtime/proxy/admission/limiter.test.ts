import { FakeClock } from '../../../../runtime/common/clock';
import { parseAdmissionConfig, type AdmissionConfigInput } from '../../../../runtime/proxy/admission/config';
import { AimdLimiter } from '../../../../runtime/proxy/admission/limiter';
import { readVllmMetrics, combineSaturation } from '../../../../runtime/proxy/admission/saturation';

function setup(input: AdmissionConfigInput = {}) {
  const clock = new FakeClock();
  const changes: number[] = [];
  const limiter = new AimdLimiter(
    parseAdmissionConfig({ maxConcurrency: 100, ...input, adaptive: { decreaseCooldownMs: 1_000, backoffRatio: 0.5, ...input.adaptive } }),
    clock,
    (l) => changes.push(l),
  );
  return { clock, limiter, changes };
}

/** Ends slow start the way the upstreams do: a 503 at the limit `initial` (the limit drops by one). */
function pastSlowStart(input: AdmissionConfigInput & { adaptive: { initial: number } }) {
  const s = setup(input);
  s.limiter.onSample({ kind: 'overload', inflight: input.adaptive.initial });
  s.changes.length = 0;
  return s;
}

describe('AimdLimiter', () => {
  it('starts at the initial limit while the capacity is unknown, and at the capacity once known', () => {
    expect(setup().limiter.limit).toBe(8);
    expect(setup({ adaptive: { initial: 10 } }).limiter.limit).toBe(10);
    const clock = new FakeClock();
    expect(new AimdLimiter(parseAdmissionConfig({}), clock, undefined, () => 24).limit).toBe(24);
  });

  it('drops to the concurrency an upstream refused at once on a 503/429, each rejection of a burst counting for one request', () => {
    const { limiter, changes } = setup({ adaptive: { initial: 64 } });
    limiter.onSample({ kind: 'overload', inflight: 40 });
    expect(limiter.limit).toBe(39);
    limiter.onSample({ kind: 'overload', inflight: 39 });
    limiter.onSample({ kind: 'overload', inflight: 38 });
    expect(limiter.limit).toBe(37);
    limiter.onSample({ kind: 'overload', inflight: 50 }); // a later report of more in flight does not raise it
    expect(limiter.limit).toBe(37);
    expect(changes).toEqual([39, 38, 37]);
  });

  it('never goes below the configured minimum', () => {
    const { limiter, clock } = setup({ adaptive: { min: 4 } });
    for (let i = 0; i < 20; i++) {
      limiter.onSample({ kind: 'overload', inflight: 1 });
      clock.advance(1_000);
    }
    expect(limiter.limit).toBe(4);
  });

  it('after slow start, grows by one per round trip (a limit\'s worth of completions) while the limit is in use, up to the cap', () => {
    const { limiter } = pastSlowStart({ adaptive: { initial: 11 } });
    for (let i = 0; i < 10; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 10 });
    expect(limiter.limit).toBe(11);
    for (let i = 0; i < 5_000; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 100 });
    expect(limiter.limit).toBe(100);
  });

  it('after slow start, counts a whole round trip at the new limit before each further step', () => {
    const { limiter } = pastSlowStart({ adaptive: { initial: 11 } });
    for (let i = 0; i < 10; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 10 });
    expect(limiter.limit).toBe(11);
    for (let i = 0; i < 10; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 11 });
    expect(limiter.limit).toBe(11); // ten of the eleven completions of a round trip at 11
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 11 });
    expect(limiter.limit).toBe(12);
  });

  it('starts counting the round trip afresh after a cut', () => {
    const { limiter } = pastSlowStart({ adaptive: { initial: 11 } });
    for (let i = 0; i < 9; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 10 });
    limiter.onSample({ kind: 'overload', inflight: 10 }); // to 9; the nine completions counted before do not carry over
    expect(limiter.limit).toBe(9);
    for (let i = 0; i < 8; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 9 });
    expect(limiter.limit).toBe(9);
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 9 });
    expect(limiter.limit).toBe(10);
  });

  it('keeps a whole-number limit when a backoff leaves a fraction', () => {
    const { limiter } = setup({ adaptive: { initial: 25 }, saturation: { enabled: true, maxWaiting: 0 } });
    limiter.onSaturation({ waiting: 5 }, 25);
    limiter.onSaturation({ waiting: 5 }, 25); // 25 x 0.5 = 12.5
    expect(limiter.limit).toBe(12);
  });

  it('does not grow while the pool is not using its limit (application-limited)', () => {
    const { limiter } = setup({ adaptive: { initial: 10 } });
    for (let i = 0; i < 50; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 9 });
    expect(limiter.limit).toBe(10);
  });

  it('ignores errors that say nothing about capacity', () => {
    const { limiter } = setup({ adaptive: { initial: 10 } });
    for (let i = 0; i < 10; i++) limiter.onSample({ kind: 'error', latencyMs: 5, inflight: 10 });
    limiter.onSample({ kind: 'cancelled', inflight: 10 });
    expect(limiter.limit).toBe(10);
  });

  it('backs off when smoothed latency climbs far above its baseline', () => {
    const { limiter, clock } = setup({ adaptive: { initial: 40, latencyTolerance: 2 } });
    for (let i = 0; i < 20; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 40 });
    for (let i = 0; i < 30 && limiter.limit >= 40; i++) {
      clock.advance(10);
      limiter.onSample({ kind: 'success', latencyMs: 1_000, inflight: 40 });
    }
    expect(limiter.limit).toBe(20);
  });

  it('reads latency as overload only strictly above both tolerance x baseline and baseline + slack', () => {
    const { limiter } = setup({ adaptive: { initial: 40, latencyTolerance: 4, latencySlackMs: 100 } });
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 1 }); // baseline 100: the bar is max(400, 200)
    limiter.onSample({ kind: 'success', latencyMs: 3_100, inflight: 1 }); // smoothed exactly 400
    expect(limiter.limit).toBe(40);
    limiter.onSample({ kind: 'success', latencyMs: 3_100, inflight: 1 }); // smoothed 670
    expect(limiter.limit).toBe(20);
    const fast = setup({ adaptive: { initial: 40, latencyTolerance: 4, latencySlackMs: 100 } }).limiter;
    fast.onSample({ kind: 'success', latencyMs: 10, inflight: 1 }); // baseline 10: the bar is max(40, 110)
    fast.onSample({ kind: 'success', latencyMs: 1_010, inflight: 1 }); // smoothed exactly 110
    expect(fast.limit).toBe(40);
    fast.onSample({ kind: 'success', latencyMs: 1_010, inflight: 1 }); // smoothed 200
    expect(fast.limit).toBe(20);
  });

  it('does not read a few milliseconds of jitter on a fast upstream as overload', () => {
    // A millisecond baseline (cache-warm or tiny answers) plus the proxy's own event-loop delay
    // under CPU load: 4x the baseline, yet far below any real queueing at a model server.
    const { limiter, clock } = setup({ adaptive: { initial: 40 } });
    for (let i = 0; i < 20; i++) limiter.onSample({ kind: 'success', latencyMs: 0.5, inflight: 40 });
    const before = limiter.limit;
    for (let i = 0; i < 50; i++) {
      clock.advance(10);
      limiter.onSample({ kind: 'success', latencyMs: 8, inflight: 40 });
    }
    expect(limiter.limit).toBeGreaterThanOrEqual(before);
    for (let i = 0; i < 50 && limiter.limit >= before; i++) {
      clock.advance(10);
      limiter.onSample({ kind: 'success', latencyMs: 400, inflight: 40 });
    }
    expect(limiter.limit).toBeLessThan(before);
  });

  it('on sustained saturation drops to the share of its requests the upstreams run, and does not grow until it clears', () => {
    const { limiter, clock } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 0 } });
    limiter.onSaturation({ waiting: 1, running: 16 }, 40); // one blip: stop growing, no cut
    expect(limiter.limit).toBe(40);
    limiter.onSaturation({ waiting: 0, running: 16 }, 40);
    limiter.onSaturation({ waiting: 24, running: 16 }, 40);
    expect(limiter.limit).toBe(40);
    limiter.onSaturation({ waiting: 24, running: 16 }, 40); // second in a row: 40 x 16/40
    expect(limiter.limit).toBe(16);
    for (let i = 0; i < 40; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 16 });
    expect(limiter.limit).toBe(16);
    clock.advance(1_000);
    limiter.onSaturation({ waiting: 0, kvCacheUsage: 0.99 }, 16); // a full KV cache with nobody waiting is a busy GPU, not overload
    for (let i = 0; i < 16; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 16 });
    expect(limiter.limit).toBe(17);
  });

  it('re-measures the latency baseline per window, keeping the lowest of the current and the previous one', () => {
    const { limiter, clock } = setup({ adaptive: { initial: 40, baselineWindowMs: 1_000, latencyTolerance: 100 } });
    expect(limiter.baselineLatencyMs).toBeUndefined();
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 1 });
    expect(limiter.baselineLatencyMs).toBe(100);
    clock.advance(1_000); // exactly one window later: a new window starts, the old minimum is the previous one
    limiter.onSample({ kind: 'success', latencyMs: 200, inflight: 1 }); // smoothed 110
    expect(limiter.baselineLatencyMs).toBe(100);
    clock.advance(999);
    limiter.onSample({ kind: 'success', latencyMs: 200, inflight: 1 }); // smoothed 119, same window
    expect(limiter.baselineLatencyMs).toBe(100);
    clock.advance(1); // the window of the 100 ms minimum is now two windows old: forgotten
    limiter.onSample({ kind: 'success', latencyMs: 200, inflight: 1 }); // smoothed 127.1
    expect(limiter.baselineLatencyMs).toBeCloseTo(110, 9);
  });

  it('leaves the latency baseline as it was on a completion that carries no latency', () => {
    const { limiter } = setup({ adaptive: { initial: 40 } });
    limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 1 });
    limiter.onSample({ kind: 'success', inflight: 1 });
    expect(limiter.baselineLatencyMs).toBe(100);
  });

  it('decreases on latency or saturation at most once per cooldown, and again exactly a cooldown later', () => {
    const { limiter, clock } = setup({ adaptive: { initial: 64 }, saturation: { enabled: true, maxWaiting: 0 } });
    const saturate = () => limiter.onSaturation({ waiting: 10, running: 10 }, limiter.limit);
    saturate();
    saturate(); // sustained: 64 x 10/20
    expect(limiter.limit).toBe(32);
    clock.advance(999);
    saturate();
    expect(limiter.limit).toBe(32);
    clock.advance(1);
    saturate();
    expect(limiter.limit).toBe(16);
  });

  it('reads saturation strictly above maxWaiting on the least-queued member, and a full KV cache only while requests wait', () => {
    const { limiter } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 2, maxKvCacheUsage: 0.9 } });
    const twice = (signal: Parameters<typeof limiter.onSaturation>[0]) => {
      limiter.onSaturation(signal, 40);
      limiter.onSaturation(signal, 40);
    };
    twice({ waiting: 10, minWaiting: 2, running: 40 }); // at maxWaiting: not saturated
    twice({ waiting: 10, kvCacheUsage: 0.9, minKvCacheUsage: 0.9, minWaiting: 1, running: 40 }); // at maxKvCacheUsage: not saturated
    twice({ waiting: 10, kvCacheUsage: 1, minKvCacheUsage: 0.91, minWaiting: 0, running: 40 }); // a member with nobody waiting: imbalance
    twice({ waiting: 10, kvCacheUsage: 1, minKvCacheUsage: 0.5, minWaiting: 1, running: 40 }); // one member's cache full: imbalance
    expect(limiter.limit).toBe(40);
    twice({ waiting: 10, kvCacheUsage: 0.95, minKvCacheUsage: 0.91, minWaiting: 1, running: 40 }); // every member full and waiting: 40 x 40/50
    expect(limiter.limit).toBe(32);
  });

  it('backs off by backoffRatio on sustained saturation when the upstreams do not report running requests', () => {
    const { limiter } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 0 } });
    limiter.onSaturation({ waiting: 5 }, 40);
    limiter.onSaturation({ waiting: 5 }, 40);
    expect(limiter.limit).toBe(20); // backoffRatio 0.5 in these tests
  });

  it('follows the capacity the members make known: lost at once, added at once', () => {
    const clock = new FakeClock();
    let capacity: number | undefined = 32;
    const limiter = new AimdLimiter(parseAdmissionConfig({}), clock, undefined, () => capacity);
    expect(limiter.limit).toBe(32);
    capacity = 16; // two of four members gone
    expect(limiter.limit).toBe(16);
    limiter.onSaturation({ waiting: 4, minWaiting: 1, running: 12, slots: 16, kvCacheUsage: 1 }, 16);
    limiter.onSaturation({ waiting: 4, minWaiting: 1, running: 12, slots: 16, kvCacheUsage: 1 }, 16); // the adaptive value below the capacity...
    expect(limiter.limit).toBe(12);
    capacity = 24; // ...rises with capacity added
    expect(limiter.limit).toBe(20);
    capacity = 0; // no member serves
    expect(limiter.limit).toBe(0);
    capacity = 8;
    expect(limiter.limit).toBe(8);
  });

  it('reports a change only when the whole-number limit moves', () => {
    const { limiter, changes } = setup({ adaptive: { initial: 19, backoffRatio: 0.9 }, saturation: { enabled: true, maxWaiting: 0 } });
    limiter.onSaturation({ waiting: 5 }, 19);
    limiter.onSaturation({ waiting: 5 }, 19); // 19 x 0.9 = 17.1
    expect(limiter.limit).toBe(17);
    limiter.onSample({ kind: 'overload', inflight: 18 }); // a cut to 17: the value moves, the limit does not
    expect(limiter.limit).toBe(17);
    expect(changes).toEqual([17]);
  });

  it('backs off from the limit in force after members are lost, not from the value it had before', () => {
    const clock = new FakeClock();
    let capacity = 20;
    const limiter = new AimdLimiter(parseAdmissionConfig({ adaptive: { backoffRatio: 0.5 }, saturation: { maxWaiting: 0 } }), clock, undefined, () => capacity);
    expect(limiter.limit).toBe(20);
    capacity = 8; // three members of five gone
    expect(limiter.limit).toBe(8);
    limiter.onSaturation({ waiting: 5 }, 8);
    limiter.onSaturation({ waiting: 5 }, 8); // what they run unknown: 8 x 0.5
    expect(limiter.limit).toBe(4);
  });

  it('does not take the unknown-capacity bound for capacity: slots made known above adaptive.max are reached one step per completion', () => {
    const clock = new FakeClock();
    let capacity: number | undefined = undefined; // no member has said its slots yet
    const limiter = new AimdLimiter(parseAdmissionConfig({ adaptive: { initial: 8, max: 8 } }), clock, undefined, () => capacity);
    expect(limiter.limit).toBe(8);
    capacity = 12; // the members declare their slots: above the bound the limit probed under
    expect(limiter.limit).toBe(8);
    for (let i = 0; i < 4; i++) limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 8 });
    expect(limiter.limit).toBe(12);
  });

  describe('with the capacity known (configured or learned slots), the share is authoritative', () => {
    const known = (capacity: () => number | undefined, input: AdmissionConfigInput = {}) => {
      const clock = new FakeClock();
      const changes: string[] = [];
      const limiter = new AimdLimiter(parseAdmissionConfig({ saturation: { maxWaiting: 0 }, ...input }), clock, (l, cause) => changes.push(`${cause}:${l}`), capacity);
      return { clock, limiter, changes };
    };
    /** Four 8-slot members, each with the given running/waiting, as the scraper combines them. */
    const pool = (running: number, waiting: number, kvCacheUsage?: number) =>
      combineSaturation(Array.from({ length: 4 }, () => ({ running, waiting, slots: 8, ...(kvCacheUsage === undefined ? {} : { kvCacheUsage }) })));

    it('does not cut the limit for a 503 from one member while this replica is within its share (the pool had room)', () => {
      const { limiter, changes } = known(() => 11);
      for (const inflight of [11, 10, 9, 11]) limiter.onSample({ kind: 'overload', latencyMs: 1, inflight });
      expect(limiter.limit).toBe(11);
      expect(changes).toEqual([]);
    });

    it('does not lose capacity to waiting that does not exceed the slots (a request between two scheduler steps)', () => {
      const { limiter, clock, changes } = known(() => 32);
      for (let i = 0; i < 5; i++) {
        limiter.onSaturation(pool(7, 1), 32); // every member shows one waiting, 32 held of 32 slots
        clock.advance(1_000);
      }
      expect(limiter.limit).toBe(32);
      expect(changes).toEqual([]);
    });

    it('still cuts on real over-admission: the members hold more than their slots on two scrapes in a row', () => {
      const { limiter, changes } = known(() => 11);
      limiter.onSaturation(pool(8, 2), 11); // 40 held of 32 slots: one scrape is a sample
      expect(limiter.limit).toBe(11);
      limiter.onSaturation(pool(8, 2), 11); // sustained: this replica keeps 11 x 32/40
      expect(limiter.limit).toBe(8);
      expect(changes).toEqual(['saturation:8']);
    });

    it('cuts when the members run fewer than their slots while requests wait with the KV cache full', () => {
      const { limiter } = known(() => 32);
      limiter.onSaturation(pool(6, 1, 0.99), 32);
      limiter.onSaturation(pool(6, 1, 0.99), 32); // 32 x 24/28
      expect(limiter.limit).toBe(27);
    });

    it('with a full KV cache, keeps what the members run even when they hold exactly their slots', () => {
      const { limiter } = known(() => 32);
      limiter.onSaturation(pool(7, 1, 0.99), 32);
      limiter.onSaturation(pool(7, 1, 0.99), 32); // 32 held of 32 slots, 28 running: 32 x 28/32
      expect(limiter.limit).toBe(28);
    });

    it('reads waiting on every member as saturation when the members do not say what they run (held unknown)', () => {
      const { limiter } = known(() => 32);
      limiter.onSaturation({ waiting: 8, minWaiting: 2, slots: 32 }, 32);
      limiter.onSaturation({ waiting: 8, minWaiting: 2, slots: 32 }, 32); // backoffRatio 0.9: 28.8
      expect(limiter.limit).toBe(28);
    });

    it('returns to a known ceiling one step per completion once the signal clears, not one per round trip', () => {
      const { limiter, clock, changes } = known(() => 11);
      limiter.onSaturation(pool(8, 2), 11);
      limiter.onSaturation(pool(8, 2), 11);
      expect(limiter.limit).toBe(8);
      limiter.onSample({ kind: 'success', latencyMs: 750, inflight: 8 }); // still saturated: no growth
      expect(limiter.limit).toBe(8);
      clock.advance(1_000);
      limiter.onSaturation(pool(8, 0), 8);
      for (let i = 0; i < 3; i++) limiter.onSample({ kind: 'success', latencyMs: 750, inflight: 8 - i });
      expect(limiter.limit).toBe(11);
      for (let i = 0; i < 20; i++) limiter.onSample({ kind: 'success', latencyMs: 750, inflight: 11 });
      expect(limiter.limit).toBe(11); // never above the known capacity
      expect(changes).toEqual(['saturation:8', 'growth:9', 'growth:10', 'growth:11']);
    });

    it('cuts on a 503 while holding more than a share that has just shrunk, down to the share', () => {
      let capacity = 16;
      const { limiter } = known(() => capacity);
      capacity = 11; // a replica joined
      limiter.onSample({ kind: 'overload', latencyMs: 1, inflight: 16 });
      expect(limiter.limit).toBe(11);
    });
  });

  it('resumes its adaptive value when members serve again after none did, slots known or not', () => {
    const clock = new FakeClock();
    let capacity: number | undefined;
    const limiter = new AimdLimiter(parseAdmissionConfig({ adaptive: { initial: 20 } }), clock, undefined, () => capacity);
    limiter.onSample({ kind: 'overload', latencyMs: 1, inflight: 13 });
    expect(limiter.limit).toBe(12);
    capacity = 0; // every member gone
    expect(limiter.limit).toBe(0);
    limiter.onSample({ kind: 'overload', latencyMs: 1, inflight: 3 }); // its last requests failing: nothing to learn
    capacity = undefined; // back, slots still unknown: where it stood, not the unknown-capacity bound
    expect(limiter.limit).toBe(12);
  });

  it('takes the capacity of members found after start-up at once, even before its first look', () => {
    const clock = new FakeClock();
    let capacity: number | undefined = 0; // started before discovery resolved any member
    const limiter = new AimdLimiter(parseAdmissionConfig({}), clock, undefined, () => capacity);
    capacity = 10; // the first resolution answers; nobody has read the limit yet
    expect(limiter.limit).toBe(10);
  });

  it('caps at a hand-set maxConcurrency, and stays there when adaptation is off', () => {
    const { limiter } = setup({ adaptive: { enabled: false } });
    limiter.onSample({ kind: 'overload', inflight: 100 });
    expect(limiter.limit).toBe(100);
    const clock = new FakeClock();
    expect(new AimdLimiter(parseAdmissionConfig({ maxConcurrency: 10 }), clock, undefined, () => 32).limit).toBe(10);
  });

  describe('slow start while the capacity is unknown', () => {
    /** One round trip at the limit: every request in flight completes, each finding the limit in use. */
    const roundTrip = (limiter: AimdLimiter, latencyMs: number | null = 500) => {
      const start = limiter.limit;
      for (let i = 0; i < start; i++) limiter.onSample({ kind: 'success', latencyMs: latencyMs ?? undefined, inflight: limiter.limit });
    };

    it('starts at 8 by default (one small model server\'s slots), at adaptive.min when that is higher, and at adaptive.initial when set', () => {
      const start = (input: AdmissionConfigInput) => new AimdLimiter(parseAdmissionConfig(input), new FakeClock()).limit;
      expect(start({})).toBe(8);
      expect(start({ adaptive: { min: 12 } })).toBe(12);
      expect(start({ adaptive: { initial: 64 } })).toBe(64);
      expect(start({ adaptive: { initial: 3, min: 2 } })).toBe(3);
      expect(start({ maxConcurrency: 5 })).toBe(5);
      expect(start({ saturation: { enabled: false } })).toBe(64); // a pool not scraped: the fixed start
      expect(start({ saturation: { enabled: false }, adaptive: { min: 80, max: 100 } })).toBe(80);
    });

    it('does not slow start a pool that is not scraped (nothing would end it in time): one step per round trip', () => {
      const { limiter } = setup({ maxConcurrency: undefined, saturation: { enabled: false }, adaptive: {} });
      expect(limiter.limit).toBe(64);
      roundTrip(limiter);
      expect(limiter.limit).toBe(65);
      const set = setup({ maxConcurrency: undefined, saturation: { enabled: false }, adaptive: { initial: 8 } }).limiter;
      roundTrip(set);
      expect(set.limit).toBe(9);
    });

    it('refuses a start set below adaptive.min, and takes a min above the default start without a start set', () => {
      expect(() => parseAdmissionConfig({ adaptive: { initial: 4, min: 6 } })).toThrow('admission.adaptive.min must not exceed admission.adaptive.initial');
      expect(parseAdmissionConfig({ adaptive: { min: 20 } }).adaptive.initial).toBeUndefined();
    });

    it('grows by one per completion that found the limit in use: it doubles per round trip', () => {
      const { limiter, changes } = setup({ maxConcurrency: undefined, adaptive: {} });
      expect(limiter.limit).toBe(8);
      roundTrip(limiter);
      expect(limiter.limit).toBe(16);
      roundTrip(limiter);
      expect(limiter.limit).toBe(32);
      expect(changes.slice(0, 3)).toEqual([9, 10, 11]);
    });

    it('does not grow while the limit is not in use (application-limited)', () => {
      const { limiter } = setup({ maxConcurrency: undefined, adaptive: {} });
      for (let i = 0; i < 50; i++) limiter.onSample({ kind: 'success', latencyMs: 500, inflight: 7 });
      expect(limiter.limit).toBe(8);
      limiter.onSample({ kind: 'success', latencyMs: 500, inflight: 8 });
      expect(limiter.limit).toBe(9);
    });

    it('reaches a pool of 4 x 256 slots from the default start in 7 round trips', () => {
      const tripsTo = (limiter: AimdLimiter, target: number) => {
        let trips = 0;
        for (; limiter.limit < target && trips < 20; trips++) roundTrip(limiter);
        return trips;
      };
      const { limiter } = setup({ maxConcurrency: undefined, adaptive: { max: 4_096 } });
      expect(tripsTo(limiter, 1_024)).toBe(7); // 8 x 2^7 = 1 024
      expect(limiter.limit).toBe(1_024);
      // with the default adaptive.max (1 000), the ceiling while nothing is known, in as many
      const bounded = setup({ maxConcurrency: undefined, adaptive: {} }).limiter;
      expect(tripsTo(bounded, 1_000)).toBe(7);
      roundTrip(bounded);
      expect(bounded.limit).toBe(1_000);
    });

    it('ends at the first 503 (like TCP\'s ssthresh): from then on one step per round trip', () => {
      const { limiter, changes } = setup({ maxConcurrency: undefined, adaptive: {} });
      roundTrip(limiter);
      roundTrip(limiter); // 32
      limiter.onSample({ kind: 'overload', inflight: 25 }); // the upstreams refused the 25th: to 24
      expect(limiter.limit).toBe(24);
      for (let i = 0; i < 23; i++) limiter.onSample({ kind: 'success', latencyMs: 500, inflight: 24 });
      expect(limiter.limit).toBe(24);
      limiter.onSample({ kind: 'success', latencyMs: 500, inflight: 24 });
      expect(limiter.limit).toBe(25);
      expect(changes.slice(-2)).toEqual([24, 25]);
    });

    it('ends at a 503 that does not lower the limit (the refusal is the signal, not the cut)', () => {
      const { limiter } = setup({ maxConcurrency: undefined, adaptive: {} });
      limiter.onSample({ kind: 'overload', inflight: 9 }); // inflight - 1 = 8: no lower than the limit
      expect(limiter.limit).toBe(8);
      for (let i = 0; i < 7; i++) limiter.onSample({ kind: 'success', latencyMs: 500, inflight: 8 });
      expect(limiter.limit).toBe(8);
      limiter.onSample({ kind: 'success', latencyMs: 500, inflight: 8 });
      expect(limiter.limit).toBe(9);
    });

    it('pauses while one scrape reports saturation, and ends at sustained saturation', () => {
      const { limiter, clock } = setup({ maxConcurrency: undefined, adaptive: {}, saturation: { maxWaiting: 0 } });
      roundTrip(limiter); // 16
      limiter.onSaturation({ waiting: 2, minWaiting: 1, running: 16 }, 16); // one scrape: no growth, no cut
      roundTrip(limiter);
      expect(limiter.limit).toBe(16);
      limiter.onSaturation({ waiting: 0, minWaiting: 0, running: 16 }, 16); // cleared: slow start goes on
      roundTrip(limiter);
      expect(limiter.limit).toBe(32);
      limiter.onSaturation({ waiting: 16, minWaiting: 8, running: 16 }, 32);
      limiter.onSaturation({ waiting: 16, minWaiting: 8, running: 16 }, 32); // sustained: 32 x 16/32
      expect(limiter.limit).toBe(16);
      clock.advance(2_000);
      limiter.onSaturation({ waiting: 0, minWaiting: 0, running: 16 }, 16);
      roundTrip(limiter);
      expect(limiter.limit).toBe(17); // additive from here
    });

    it('ends at a cut for latency', () => {
      const { limiter } = setup({ maxConcurrency: undefined, adaptive: { initial: 40, latencyTolerance: 2 } });
      limiter.onSample({ kind: 'success', latencyMs: 100, inflight: 1 });
      for (let i = 0; i < 30 && limiter.limit >= 40; i++) limiter.onSample({ kind: 'success', latencyMs: 1_000, inflight: 1 });
      expect(limiter.limit).toBe(20);
      roundTrip(limiter, null); // completions that carry no latency: only the growth rule decides
      expect(limiter.limit).toBe(21);
    });

    it('ends once the members make a capacity known: back to unknown, it grows one step per round trip', () => {
      const clock = new FakeClock();
      let capacity: number | undefined;
      const limiter = new AimdLimiter(parseAdmissionConfig({}), clock, undefined, () => capacity);
      roundTrip(limiter); // 16
      capacity = 24; // slots learned
      expect(limiter.limit).toBe(16);
      roundTrip(limiter);
      expect(limiter.limit).toBe(24);
      capacity = undefined; // a member of unknown slots joined: the pool's capacity is unknown again
      roundTrip(limiter);
      expect(limiter.limit).toBe(25);
    });

    it('is not ended by a pool that has no member yet (a capacity of 0 says nothing of the slots)', () => {
      const clock = new FakeClock();
      let capacity: number | undefined = 0; // discovery has not resolved a member yet
      const limiter = new AimdLimiter(parseAdmissionConfig({}), clock, undefined, () => capacity);
      expect(limiter.limit).toBe(0);
      capacity = undefined; // members found, slots not known
      expect(limiter.limit).toBe(8);
      roundTrip(limiter);
      expect(limiter.limit).toBe(16);
    });

    it('stays under maxConcurrency and adaptive.max', () => {
      const capped = setup({ maxConcurrency: 20, adaptive: {} }).limiter;
      for (let i = 0; i < 5; i++) roundTrip(capped);
      expect(capped.limit).toBe(20);
      const bounded = setup({ maxConcurrency: undefined, adaptive: { max: 30 } }).limiter;
      for (let i = 0; i < 5; i++) roundTrip(bounded);
      expect(bounded.limit).toBe(30);
    });
  });
});

describe('vLLM saturation metrics', () => {
  it('reads waiting, running and KV-cache usage from a Prometheus exposition', () => {
    const text = [
      '# HELP vllm:num_requests_waiting Number of requests waiting.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{model_name="m",engine="0"} 3.0',
      'vllm:num_requests_waiting{model_name="m",engine="1"} 2',
      'vllm:num_requests_running{model_name="m"} 8.0',
      'vllm:gpu_cache_usage_perc{model_name="m"} 0.42',
      'process_cpu_seconds_total 12.5',
    ].join('\n');
    expect(readVllmMetrics(text).figures).toEqual({ waiting: 5, running: 8, kvCacheUsage: 0.42 });
    expect(readVllmMetrics('vllm:kv_cache_usage_perc 0.9\n').figures).toEqual({ waiting: 0, running: 0, kvCacheUsage: 0.9 });
  });

  it('sums waiting over a pool and keeps the worst and the least KV-cache usage', () => {
    expect(
      combineSaturation([
        { waiting: 1, running: 4, kvCacheUsage: 0.3 },
        { waiting: 2, running: 4, kvCacheUsage: 0.8 },
        { waiting: 0, running: 1 },
      ]),
    ).toEqual({ waiting: 3, minWaiting: 0, running: 9, kvCacheUsage: 0.8, minKvCacheUsage: 0 });
  });

  it('does not read one full member (its KV cache full, requests queued at it) next to members with room as saturation', () => {
    // what bench:cell's queue scenario scraped half the time: requests stacked on one pod
    const { limiter } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 0, maxKvCacheUsage: 0.95 } });
    const oneFull = combineSaturation([
      { waiting: 2, running: 8, kvCacheUsage: 1 },
      { waiting: 0, running: 6, kvCacheUsage: 0.75 },
      { waiting: 0, running: 8, kvCacheUsage: 1 },
      { waiting: 0, running: 7, kvCacheUsage: 0.875 },
    ]);
    for (let i = 0; i < 3; i++) limiter.onSaturation(oneFull, 40);
    expect(limiter.limit).toBe(40);
  });

  it('does not call a pool saturated while one member still has room', () => {
    const { limiter } = setup({ adaptive: { initial: 40 }, saturation: { enabled: true, maxWaiting: 0 } });
    for (let i = 0; i < 3; i++) limiter.onSaturation(combineSaturation([{ waiting: 4, running: 8 }, { waiting: 0, running: 7 }]), 40);
    expect(limiter.limit).toBe(40);
    for (let i = 0; i < 2; i++) limiter.onSaturation(combineSaturation([{ waiting: 4, running: 8 }, { waiting: 1, running: 8 }]), 21);
    expect(limiter.limit).toBe(16);
  });
});
