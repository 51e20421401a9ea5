import type { Clock as BaseClock } from '../../common/clock';

/**
 * Time as the overload-control modules see it: the shared `Clock` of runtime/common plus
 * timers, because admission and rate limiting must act when time passes (a queued request's
 * deadline, a Redis call's timeout), not only read it. Production code passes `systemClock`;
 * tests pass a `FakeClock` and move time by hand, so queue timeouts, drain rates and bucket
 * refills are exact and never depend on the machine's speed.
 */
export interface Clock extends BaseClock {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly id: number } | ReturnType<typeof setTimeout>;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A clock that only moves when told to. Timers fire in deadline order during `advance`. */
export class FakeClock implements Clock {
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
}

/**
 * Like `systemClock` but on the wall-clock scale (`Date.now()`), for times shared between
 * replicas, such as the storage time of a cache entry kept in Redis.
 */
export const wallClock: Clock = { ...systemClock, now: () => Date.now() };

/** Real timers on top of a clock that only reads time (the shared `Clock` of runtime/common). */
export function withTimers(base: BaseClock): Clock {
  return { now: () => base.now(), setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
}
