/**
 * Time as a dependency: the one clock of both runtimes. Every decision module (breaker, outlier
 * detector, retry budget, health state, balancers, admission, rate limiting, cache) takes a clock,
 * so tests drive time by hand (`FakeClock`) instead of sleeping, and queue timeouts, drain rates
 * and bucket refills are exact whatever the machine's speed.
 *
 * The epoch is the Unix epoch in milliseconds (`Date.now()`), for every module alike, because some
 * of these times leave the process: a cache entry's storage time is written to Redis and aged by
 * another replica, and request deadlines and job times are compared with times other processes
 * wrote. One scale means no value of one clock is ever compared with a value of another. The price
 * is that a wall-clock step (not a slew) lengthens or shortens the windows running at that moment;
 * hosts keep time with NTP/chrony slewing, and every window here is seconds long.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch; modules use differences and deadlines. */
  now(): number;
}

/** A clock that can also act when time passes (a queued request's deadline, a Redis call's timeout). */
export interface TimerClock extends Clock {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

/** Real time and real timers (unref'd: a pending timer never keeps the process alive). */
export const systemClock: TimerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Real timers on top of a clock that only reads time (for example a `FakeClock` a test moves by hand). */
export function withTimers(base: Clock): TimerClock {
  return { now: () => base.now(), setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
}

/** A clock that only moves when told to. Timers fire in deadline order during `advance`. */
export class FakeClock implements TimerClock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId: number | undefined;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= target && (t.at < nextAt || (t.at === nextAt && id < (nextId ?? Infinity)))) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId === undefined) break;
      const timer = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.current = Math.max(this.current, timer.at);
      timer.fn();
    }
    this.current = target;
  }

  /** Sets the time (forward or back) without firing timers. */
  set(ms: number): void {
    this.current = ms;
  }
}

/** Random source in [0, 1); injectable for deterministic jitter and sampling in tests. */
export type RandomSource = () => number;

/** A small seeded PRNG (mulberry32) for deterministic tests and simulations. */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
