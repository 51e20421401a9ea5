/**
 * Coalesces identical concurrent work: the first caller for a key (the leader) runs it, callers
 * arriving while it runs (followers) get the leader's result or error. At most `maxWaiters`
 * followers per key; beyond that a caller runs its own work (`overflow`), so one hot key
 * cannot pile up unbounded waiters behind one slow upstream call.
 */
export type FlightRole = 'leader' | 'follower' | 'overflow';

export interface FlightResult<T> {
  readonly value: T;
  readonly role: FlightRole;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, { promise: Promise<T>; waiters: number }>();

  constructor(private readonly maxWaiters: number) {}

  /** Keys with work in flight. */
  get inflight(): number {
    return this.flights.size;
  }

  async run(key: string, work: () => Promise<T>): Promise<FlightResult<T>> {
    const existing = this.flights.get(key);
    if (existing) {
      if (existing.waiters >= this.maxWaiters) return { value: await work(), role: 'overflow' };
      existing.waiters++;
      return { value: await existing.promise, role: 'follower' };
    }
    const promise = (async () => work())();
    this.flights.set(key, { promise, waiters: 0 });
    try {
      return { value: await promise, role: 'leader' };
    } finally {
      // no other flight of this key can have started meanwhile: callers of a key in flight follow it
      this.flights.delete(key);
    }
  }
}
