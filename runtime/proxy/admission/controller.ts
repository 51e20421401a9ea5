import { onAbort, type AbortSource } from '../../common/cancellation';
import { PRIORITY_CLASSES, priorityRank, type PriorityClass } from '../../../contract/priority';
import type { TimerClock, TimerHandle } from '../../common/clock';
import type { AdmissionConfig } from './config';
import { DrainMeter } from './drain-meter';
import { AimdLimiter, type CapacitySource, type LimitChangeCause, type SampleKind, type SaturationSignal } from './limiter';
import { PriorityWaitQueue, type QueueEntry } from './priority-queue';

/** Why a request was not admitted. */
export type ShedReason =
  /** The queue was full and nothing of a lower class was waiting to make room. */
  | 'queue_full'
  /** Evicted from the queue to make room for a higher class. */
  | 'evicted'
  /** The measured drain rate says the deadline cannot be met: shed early instead of timing out. */
  | 'deadline'
  /** The deadline passed while waiting. */
  | 'timeout'
  /** The caller gave up (client disconnected). */
  | 'aborted'
  /** No pool it may use has any capacity (every member gone): nothing to wait for. */
  | 'no_capacity';

export interface AcquireContext {
  readonly cls: PriorityClass;
  /** Absolute deadline on the admission clock; the class default applies when absent. */
  readonly deadlineAt?: number;
  /**
   * `start` (default): the deadline bounds the wait for a slot (the class default).
   * `finish`: the whole request must be answered by then (the client's `X-Request-Timeout`),
   * so early shedding also counts the expected service time: a request that would start but
   * not finish in time is shed before it costs upstream capacity.
   */
  readonly deadlineKind?: 'start' | 'finish';
  /** Aborting removes the waiter from the queue and answers `aborted`. */
  readonly signal?: AbortSource;
}

export interface ReleaseOutcome {
  readonly kind: SampleKind;
  /** Time spent at the upstream (not in the queue). */
  readonly latencyMs?: number;
}

export interface Permit {
  readonly kind: 'permit';
  readonly cls: PriorityClass;
  /** Time spent waiting in the queue. */
  readonly queuedMs: number;
  /** Returns the slot and feeds the adaptive limit. Idempotent. */
  release(outcome: ReleaseOutcome): void;
}

export interface Shed {
  readonly kind: 'shed';
  readonly cls: PriorityClass;
  readonly reason: ShedReason;
  /** Seconds after which a retry has a fair chance, from the measured drain rate. */
  readonly retryAfterSeconds: number;
  readonly queuedMs: number;
}

/** Hooks for metrics and logs; all optional, all cheap when absent. */
export interface AdmissionObserver {
  onAdmit?(cls: PriorityClass, queuedMs: number): void;
  onShed?(cls: PriorityClass, reason: ShedReason): void;
  onLimitChange?(limit: number, cause: LimitChangeCause): void;
}

export interface AdmissionSnapshot {
  readonly limit: number;
  readonly inflight: number;
  readonly inflightByClass: Readonly<Record<PriorityClass, number>>;
  readonly queued: Readonly<Record<PriorityClass, number>>;
  readonly drainRatePerSecond: number | undefined;
}

/**
 * Asked when a free slot is about to go to a waiter of class `cls`: true when the slot was given
 * to a more urgent request elsewhere (another replica's, `ReplicaShare.lend`), in which case the
 * capacity this controller follows is one lower. It must answer false once nothing is left to give.
 */
export type SlotLender = (cls: PriorityClass) => boolean;

interface Waiter extends QueueEntry {
  readonly finish: boolean;
  readonly resolve: (r: Permit | Shed) => void;
  timer?: TimerHandle;
  /** Removes the abort listener. */
  unlisten?: () => void;
}

/**
 * Admission control for one upstream pool. It answers "now, later or never":
 * `acquire` resolves at once with a permit when a slot is free, later when one frees up, or
 * with a shed answer (never) when the request cannot be served in time. Each permit must be
 * released with the outcome of the upstream attempt, which drives the adaptive limit.
 *
 * Order of decisions: a free slot and nobody of equal or higher class waiting -> permit now;
 * otherwise queue (evicting the newest waiter of the lowest class below it when full) unless
 * the drain rate says the deadline cannot be met; a waiter is shed when its deadline passes
 * or becomes unreachable. Critical requests are shed only when no lower class is left.
 */
export class AdmissionController {
  private readonly limiter: AimdLimiter;
  private readonly drain: DrainMeter;
  private readonly queue: PriorityWaitQueue<Waiter>;
  private readonly inflightByClass: Record<PriorityClass, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  private inflightTotal = 0;
  private seq = 0;
  private sweepTimer: TimerHandle | undefined;

  constructor(
    private readonly cfg: AdmissionConfig,
    private readonly clock: TimerClock,
    private readonly observer: AdmissionObserver = {},
    capacity?: CapacitySource,
    private readonly lend?: SlotLender,
  ) {
    this.limiter = new AimdLimiter(
      cfg,
      clock,
      (l, cause) => {
        observer.onLimitChange?.(l, cause);
        this.pump();
      },
      capacity,
    );
    this.drain = new DrainMeter(clock);
    this.queue = new PriorityWaitQueue<Waiter>(cfg.queue.maxSize, cfg.queue.lowerClassShare);
  }

  get limit(): number {
    return this.limiter.limit;
  }

  get inflight(): number {
    return this.inflightTotal;
  }

  snapshot(): AdmissionSnapshot {
    const queued = { critical: 0, high: 0, medium: 0, low: 0 };
    for (const c of PRIORITY_CLASSES) queued[c] = this.queue.sizeOf(c);
    return {
      limit: this.limit,
      inflight: this.inflightTotal,
      inflightByClass: { ...this.inflightByClass },
      queued,
      drainRatePerSecond: this.drain.ratePerSecond(this.limit),
    };
  }

  /**
   * What this replica asks of the pool per class: requests in flight plus requests queued. The
   * replicas share the pool's capacity by it (`ReplicaShare`), in class order.
   */
  demand(): Record<PriorityClass, number> {
    const d = { critical: 0, high: 0, medium: 0, low: 0 };
    for (const c of PRIORITY_CLASSES) d[c] = this.inflightByClass[c] + this.queue.sizeOf(c);
    return d;
  }

  /** Feeds vLLM-style saturation signals scraped from the pool's upstreams. */
  onSaturation(signal: SaturationSignal): void {
    this.limiter.onSaturation(signal, this.inflightTotal);
    this.pump();
  }

  /**
   * The capacity may have changed (members came or went, slots learned): hand out what is free.
   * When no member serves any more, the waiters have nothing to wait for: each is shed with
   * `no_capacity` at once, so that it moves on to the route's next pool (another region, a
   * provider) or gets its 503 now, instead of waiting for a pod until its deadline.
   */
  capacityChanged(): void {
    if (this.limit === 0) {
      for (const w of [...this.queue.entries()]) this.dropWaiter(w, 'no_capacity');
      return;
    }
    this.pump();
  }

  /** A permit now if a slot is free and nobody of this class or above waits; never queues. */
  tryAcquireNow(cls: PriorityClass): Permit | undefined {
    return this.nobodyAheadOf(cls) && this.hasRoomFor(cls) ? this.grant(cls, 0) : undefined;
  }

  acquire(ctx: AcquireContext): Promise<Permit | Shed> {
    const now = this.clock.now();
    const cls = ctx.cls;
    const deadlineAt = ctx.deadlineAt ?? now + this.cfg.classDeadlineMs[cls];
    if (ctx.signal?.aborted) return Promise.resolve(this.shed(cls, 'aborted', 0));
    if (deadlineAt <= now) return Promise.resolve(this.shed(cls, 'timeout', 0));
    if (this.nobodyAheadOf(cls) && this.hasRoomFor(cls)) return Promise.resolve(this.grant(cls, 0));

    // Early shedding: the queue ahead of this request cannot drain before its deadline.
    const finish = ctx.deadlineKind === 'finish';
    if (this.cfg.earlyShedding && !this.canMeet(deadlineAt, this.aheadOnArrival(cls), finish)) {
      return Promise.resolve(this.shed(cls, 'deadline', 0));
    }
    if (this.queue.isFull) {
      const victim = this.queue.victimFor(cls);
      if (!victim) return Promise.resolve(this.shed(cls, 'queue_full', 0));
      this.dropWaiter(victim, 'evicted');
    }

    return new Promise<Permit | Shed>((resolve) => {
      const waiter: Waiter = { cls, deadlineAt, finish, enqueuedAt: now, seq: this.seq++, resolve };
      waiter.timer = this.clock.setTimeout(() => this.dropWaiter(waiter, 'timeout'), deadlineAt - now);
      if (ctx.signal) waiter.unlisten = onAbort(ctx.signal, () => this.dropWaiter(waiter, 'aborted'));
      this.queue.push(waiter);
      this.scheduleSweep();
    });
  }

  /** `Retry-After` in seconds for a caller of class `cls` turned away now. */
  retryAfterSeconds(cls: PriorityClass): number {
    const { minSeconds, maxSeconds } = this.cfg.retryAfter;
    const rate = this.drain.ratePerSecond(this.limit);
    if (rate === undefined || rate <= 0) return minSeconds;
    const ahead = this.aheadOnArrival(cls) + 1;
    return Math.max(minSeconds, Math.min(maxSeconds, Math.ceil(ahead / rate)));
  }

  private nobodyAheadOf(cls: PriorityClass): boolean {
    const rank = priorityRank(cls);
    for (let r = 0; r <= rank; r++) if (this.queue.sizeOf(PRIORITY_CLASSES[r]) > 0) return false;
    return true;
  }

  private aheadOnArrival(cls: PriorityClass): number {
    const rank = priorityRank(cls);
    let n = 0;
    for (let r = 0; r <= rank; r++) n += this.queue.sizeOf(PRIORITY_CLASSES[r]);
    return n;
  }

  /** Whether a request with `ahead` waiters before it can start (or finish) before `deadlineAt`. */
  private canMeet(deadlineAt: number, ahead: number, finish: boolean): boolean {
    const rate = this.drain.ratePerSecond(this.limit);
    if (rate === undefined || rate <= 0) return true; // nothing measured yet: do not guess
    const expectedWaitMs = ((ahead + 1) * 1000) / rate;
    const serviceMs = finish ? (this.drain.meanLatencyMs ?? 0) : 0;
    return this.clock.now() + expectedWaitMs + serviceMs <= deadlineAt;
  }

  /** Whether a slot is free for `cls`, honouring per-class reservations past the threshold. */
  private hasRoomFor(cls: PriorityClass): boolean {
    const limit = this.limit;
    if (this.inflightTotal >= limit) return false;
    const r = this.cfg.reservation;
    if (!r.enabled || this.inflightTotal < limit * r.threshold) return true;
    // Past the threshold, class c may only use what is not reserved for the classes above it
    // (all of the limit, a whole number of slots, when nothing above it has a share).
    let reservedAbove = 0;
    for (let i = 0; i < priorityRank(cls); i++) reservedAbove += r.shares[PRIORITY_CLASSES[i]];
    return this.inflightTotal < Math.floor(limit * (1 - reservedAbove));
  }

  private grant(cls: PriorityClass, queuedMs: number): Permit {
    this.inflightTotal++;
    this.inflightByClass[cls]++;
    this.observer.onAdmit?.(cls, queuedMs);
    let released = false;
    return {
      kind: 'permit',
      cls,
      queuedMs,
      release: (outcome: ReleaseOutcome) => {
        if (released) return;
        released = true;
        this.inflightTotal--;
        this.inflightByClass[cls]--;
        if (outcome.kind !== 'cancelled') this.drain.record(outcome.latencyMs);
        this.limiter.onSample({ kind: outcome.kind, latencyMs: outcome.latencyMs, inflight: this.inflightTotal + 1 });
        this.pump();
      },
    };
  }

  private shed(cls: PriorityClass, reason: ShedReason, queuedMs: number): Shed {
    this.observer.onShed?.(cls, reason);
    return { kind: 'shed', cls, reason, retryAfterSeconds: this.retryAfterSeconds(cls), queuedMs };
  }

  private dropWaiter(w: Waiter, reason: ShedReason): void {
    if (!this.queue.remove(w)) return;
    this.detach(w);
    w.resolve(this.shed(w.cls, reason, this.clock.now() - w.enqueuedAt));
  }

  private detach(w: Waiter): void {
    if (w.timer !== undefined) this.clock.clearTimeout(w.timer);
    w.unlisten?.();
  }

  /** Hands free slots to waiters in queue order. */
  private pump(): void {
    while (this.queue.size > 0) {
      const next = this.queue.peek()!;
      if (next.finish && this.cfg.earlyShedding && this.clock.now() + (this.drain.meanLatencyMs ?? 0) > next.deadlineAt) {
        // It would start but not finish in time: the slot goes to someone it can help.
        this.dropWaiter(next, 'deadline');
        continue;
      }
      let chosen: Waiter | undefined;
      if (this.hasRoomFor(next.cls)) chosen = next;
      else {
        // A lower-class pick blocked by a reservation must not block the highest class (when
        // the pick is the highest class itself, this asks the same question again: no room).
        const top = this.queue.entries().next().value as Waiter;
        if (this.hasRoomFor(top.cls)) chosen = top;
      }
      if (!chosen) return;
      // class order across replicas: the slot goes to a more urgent request waiting at another
      // replica (the capacity is one lower now; the loop asks again with it)
      if (this.lend?.(chosen.cls)) continue;
      if (chosen === next) this.queue.shift();
      else this.queue.remove(chosen);
      this.detach(chosen);
      chosen.resolve(this.grant(chosen.cls, this.clock.now() - chosen.enqueuedAt));
    }
  }

  /** Periodically re-checks queued deadlines against the drain rate while anything waits. */
  private scheduleSweep(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      this.pump(); // capacity may have come back without a completion (a member added)
      this.sweep();
      if (this.queue.size > 0) this.scheduleSweep();
    }, 250);
  }

  private sweep(): void {
    if (!this.cfg.earlyShedding) return;
    let ahead = 0;
    for (const w of this.queue.entries()) {
      if (!this.canMeet(w.deadlineAt, ahead, w.finish)) this.dropWaiter(w, 'deadline');
      else ahead++;
    }
  }
}
