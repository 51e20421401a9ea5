import { FakeClock } from '../../../../runtime/common/clock';
import { parseAdmissionConfig, type AdmissionConfigInput } from '../../../../runtime/proxy/admission/config';
import { AdmissionController, type Permit, type Shed, type ShedReason } from '../../../../runtime/proxy/admission/controller';
import type { PriorityClass } from '../../../../contract/priority';

const flush = () => new Promise<void>((r) => setImmediate(r));

function setup(overrides: AdmissionConfigInput = {}) {
  const clock = new FakeClock(1_000);
  const sheds: Array<[PriorityClass, ShedReason]> = [];
  const cfg = parseAdmissionConfig({
    maxConcurrency: 2,
    adaptive: { enabled: false },
    queue: { maxSize: 4, lowerClassShare: 0 },
    ...overrides,
  });
  const ctl = new AdmissionController(cfg, clock, { onShed: (c, r) => sheds.push([c, r]) });
  return { clock, ctl, sheds };
}

/** Starts an acquire and records its answer when it arrives. */
function track(p: Promise<Permit | Shed>) {
  const box: { value?: Permit | Shed } = {};
  void p.then((v) => (box.value = v));
  return box;
}

async function permit(p: Promise<Permit | Shed>): Promise<Permit> {
  const r = await p;
  if (r.kind !== 'permit') throw new Error(`expected a permit, got shed ${r.reason}`);
  return r;
}

describe('AdmissionController', () => {
  it('admits at once while slots are free and queues beyond the limit', async () => {
    const { ctl } = setup();
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const third = track(ctl.acquire({ cls: 'low' }));
    await flush();
    expect(third.value).toBeUndefined();
    expect(ctl.snapshot()).toMatchObject({ inflight: 2, inflightByClass: { low: 2, critical: 0 }, limit: 2, queued: { low: 1 } });
  });

  it('hands a freed slot to the highest class first and FIFO within a class', async () => {
    const { ctl, clock } = setup();
    const a = await permit(ctl.acquire({ cls: 'low' }));
    const b = await permit(ctl.acquire({ cls: 'low' }));
    const order: string[] = [];
    const lowWaiter = ctl.acquire({ cls: 'low' }).then(() => order.push('low'));
    const high1 = ctl.acquire({ cls: 'high' }).then(() => order.push('high-1'));
    const high2 = ctl.acquire({ cls: 'high' }).then(() => order.push('high-2'));
    const crit = ctl.acquire({ cls: 'critical' }).then((p) => {
      order.push('critical');
      return p;
    });
    clock.advance(10);
    a.release({ kind: 'success', latencyMs: 10 });
    b.release({ kind: 'success', latencyMs: 10 });
    await flush();
    expect(order).toEqual(['critical', 'high-1']);
    ((await crit) as Permit).release({ kind: 'success', latencyMs: 10 });
    await Promise.all([high2]);
    expect(order).toEqual(['critical', 'high-1', 'high-2']);
    expect(ctl.snapshot().queued.low).toBe(1);
    void lowWaiter;
    void high1;
  });

  it('evicts the newest waiter of the lowest class to admit a critical request into a full queue', async () => {
    const { ctl, sheds } = setup();
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const medium = track(ctl.acquire({ cls: 'medium' }));
    const lowOld = track(ctl.acquire({ cls: 'low' }));
    const lowNew = track(ctl.acquire({ cls: 'low' }));
    const high = track(ctl.acquire({ cls: 'high' }));
    const critical = track(ctl.acquire({ cls: 'critical' }));
    await flush();
    expect(lowNew.value).toMatchObject({ kind: 'shed', reason: 'evicted', cls: 'low' });
    expect(lowOld.value).toBeUndefined();
    expect(critical.value).toBeUndefined();
    expect(medium.value).toBeUndefined();
    expect(high.value).toBeUndefined();
    expect(sheds).toEqual([['low', 'evicted']]);
    expect(ctl.snapshot().queued).toEqual({ critical: 1, high: 1, medium: 1, low: 1 });
  });

  it('sheds lower classes before critical ones and critical only when nothing else is left', async () => {
    const { ctl, sheds } = setup({ queue: { maxSize: 2, lowerClassShare: 0 } });
    await permit(ctl.acquire({ cls: 'critical' }));
    await permit(ctl.acquire({ cls: 'critical' }));
    const low = track(ctl.acquire({ cls: 'low' }));
    const medium = track(ctl.acquire({ cls: 'medium' }));
    const c1 = track(ctl.acquire({ cls: 'critical' }));
    const c2 = track(ctl.acquire({ cls: 'critical' }));
    const c3 = track(ctl.acquire({ cls: 'critical' }));
    await flush();
    expect(sheds).toEqual([
      ['low', 'evicted'],
      ['medium', 'evicted'],
      ['critical', 'queue_full'],
    ]);
    expect(low.value).toMatchObject({ reason: 'evicted' });
    expect(medium.value).toMatchObject({ reason: 'evicted' });
    expect(c1.value).toBeUndefined();
    expect(c2.value).toBeUndefined();
    expect(c3.value).toMatchObject({ kind: 'shed', reason: 'queue_full', cls: 'critical' });
  });

  it('sheds a newcomer with queue_full when only equal or higher classes wait', async () => {
    const { ctl } = setup({ queue: { maxSize: 1, lowerClassShare: 0 } });
    await permit(ctl.acquire({ cls: 'high' }));
    await permit(ctl.acquire({ cls: 'high' }));
    track(ctl.acquire({ cls: 'high' }));
    const r = await ctl.acquire({ cls: 'low' });
    expect(r).toMatchObject({ kind: 'shed', reason: 'queue_full', cls: 'low' });
  });

  it('sheds a waiter with timeout when its deadline passes in the queue', async () => {
    const { ctl, clock } = setup({ earlyShedding: false });
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const w = track(ctl.acquire({ cls: 'medium', deadlineAt: clock.now() + 500 }));
    clock.advance(499);
    await flush();
    expect(w.value).toBeUndefined();
    clock.advance(1);
    await flush();
    expect(w.value).toMatchObject({ kind: 'shed', reason: 'timeout', queuedMs: 500 });
    expect(ctl.snapshot().queued.medium).toBe(0);
  });

  it('uses the class default deadline when the request carries none', async () => {
    const { ctl, clock } = setup({ earlyShedding: false, classDeadlineMs: { critical: 9_000, high: 5_000, medium: 3_000, low: 1_000 } });
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const low = track(ctl.acquire({ cls: 'low' }));
    const high = track(ctl.acquire({ cls: 'high' }));
    clock.advance(1_000);
    await flush();
    expect(low.value).toMatchObject({ reason: 'timeout' });
    expect(high.value).toBeUndefined();
    clock.advance(4_000);
    await flush();
    expect(high.value).toMatchObject({ reason: 'timeout' });
  });

  /** Drives `n` completions, one every `everyMs`, each reporting `latencyMs` of service. */
  async function measureDrain(ctl: AdmissionController, clock: FakeClock, n: number, everyMs: number, latencyMs = everyMs * 2) {
    for (let i = 0; i < n; i++) {
      const p = await permit(ctl.acquire({ cls: 'critical' }));
      clock.advance(everyMs);
      p.release({ kind: 'success', latencyMs });
    }
  }

  it('sheds early when the measured drain rate says the deadline cannot be met', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    // 10 completions at 500 ms intervals with 1 s latency, limit 2: drain rate is 2/s.
    await measureDrain(ctl, clock, 10, 500);
    expect(ctl.snapshot().drainRatePerSecond).toBeCloseTo(2, 5);
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    // Four waiters ahead: the fifth request needs about 2.5 s.
    for (let i = 0; i < 4; i++) track(ctl.acquire({ cls: 'medium', deadlineAt: clock.now() + 60_000 }));
    const tooShort = await ctl.acquire({ cls: 'medium', deadlineAt: clock.now() + 2_000 });
    expect(tooShort).toMatchObject({ kind: 'shed', reason: 'deadline', queuedMs: 0 });
    // Exactly the expected wait (five places at 500 ms each) is enough.
    const justEnough = track(ctl.acquire({ cls: 'medium', deadlineAt: clock.now() + 2_500 }));
    await flush();
    expect(justEnough.value).toBeUndefined();
    // A critical request jumps the medium queue, so the same short deadline is fine for it.
    const critical = track(ctl.acquire({ cls: 'critical', deadlineAt: clock.now() + 2_000 }));
    await flush();
    expect(critical.value).toBeUndefined();
  });

  it('counts the expected service time when the client deadline bounds the whole request', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    await measureDrain(ctl, clock, 10, 500); // 2/s, 1 s mean latency
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    // Nothing queued: a slot in about 0.5 s, the answer about 1 s later.
    const startOnly = track(ctl.acquire({ cls: 'high', deadlineAt: clock.now() + 1_200, deadlineKind: 'start' }));
    const mustFinish = await ctl.acquire({ cls: 'high', deadlineAt: clock.now() + 1_200, deadlineKind: 'finish' });
    await flush();
    expect(startOnly.value).toBeUndefined();
    expect(mustFinish).toMatchObject({ kind: 'shed', reason: 'deadline' });
  });

  it('does not hand a slot to a waiter that could no longer finish by its deadline', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    // Fast drain (10/s) of slow requests (1 s each): a short expected wait, a long service time.
    await measureDrain(ctl, clock, 20, 100, 1_000);
    const a = await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    // On arrival: a slot in ~0.1 s plus 1 s of service fits 1.15 s.
    const late = track(ctl.acquire({ cls: 'high', deadlineAt: clock.now() + 1_150, deadlineKind: 'finish' }));
    const patient = track(ctl.acquire({ cls: 'medium', deadlineAt: clock.now() + 60_000, deadlineKind: 'finish' }));
    await flush();
    expect(late.value).toBeUndefined();
    // The slot frees 0.2 s in, before any sweep: 0.2 + 1 s of service no longer fits.
    clock.advance(200);
    a.release({ kind: 'success', latencyMs: 1_000 });
    await flush();
    expect(late.value).toMatchObject({ kind: 'shed', reason: 'deadline', queuedMs: 200 });
    expect(patient.value).toMatchObject({ kind: 'permit', cls: 'medium' });
  });

  it('hands the slot to a waiter that can finish exactly at its deadline', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    await measureDrain(ctl, clock, 20, 100, 1_000);
    const a = await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const exact = track(ctl.acquire({ cls: 'high', deadlineAt: clock.now() + 1_200, deadlineKind: 'finish' }));
    await flush();
    expect(exact.value).toBeUndefined();
    // The slot frees 0.2 s in: 0.2 s + 1 s of service ends exactly at the deadline.
    clock.advance(200);
    a.release({ kind: 'success', latencyMs: 1_000 });
    await flush();
    expect(exact.value).toMatchObject({ kind: 'permit', cls: 'high', queuedMs: 200 });
  });

  it('re-checks queued deadlines and sheds a waiter pushed back by higher classes', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    await measureDrain(ctl, clock, 10, 500);
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const low = track(ctl.acquire({ cls: 'low', deadlineAt: clock.now() + 2_000 }));
    for (let i = 0; i < 6; i++) track(ctl.acquire({ cls: 'critical', deadlineAt: clock.now() + 60_000 }));
    clock.advance(250);
    await flush();
    expect(low.value).toMatchObject({ kind: 'shed', reason: 'deadline', queuedMs: 250 });
  });

  it('keeps re-checking queued deadlines every 250 ms while anything waits', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    await measureDrain(ctl, clock, 10, 500); // 2 per second: the first place costs 500 ms
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const w = track(ctl.acquire({ cls: 'critical', deadlineAt: clock.now() + 900 }));
    clock.advance(250); // first sweep: 250 + 500 fits 900
    await flush();
    expect(w.value).toBeUndefined();
    clock.advance(250); // second sweep: 500 + 500 no longer does, shed before its deadline
    await flush();
    expect(w.value).toMatchObject({ kind: 'shed', reason: 'deadline', queuedMs: 500 });
  });

  it('derives Retry-After from the drain rate and the queue ahead', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 9, lowerClassShare: 0 }, earlyShedding: false });
    expect(ctl.retryAfterSeconds('low')).toBe(1); // nothing measured: the minimum
    await measureDrain(ctl, clock, 10, 500); // 2 per second
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    for (let i = 0; i < 9; i++) track(ctl.acquire({ cls: 'low' }));
    const shed = await ctl.acquire({ cls: 'low' });
    // Ten requests (nine queued and this one) at two per second: five seconds.
    expect(shed).toMatchObject({ kind: 'shed', reason: 'queue_full', retryAfterSeconds: 5 });
    expect(ctl.retryAfterSeconds('critical')).toBe(1);
  });

  it('answers aborted and frees the queue place when the caller gives up', async () => {
    const { ctl } = setup();
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const ac = new AbortController();
    const w = track(ctl.acquire({ cls: 'high', signal: ac.signal }));
    ac.abort();
    await flush();
    expect(w.value).toMatchObject({ kind: 'shed', reason: 'aborted' });
    expect(ctl.snapshot().queued.high).toBe(0);
  });

  it('gives lower classes their reserved share of dispatches while higher classes wait', async () => {
    const { ctl } = setup({ maxConcurrency: 1, queue: { maxSize: 100, lowerClassShare: 0.25 } });
    let held = await permit(ctl.acquire({ cls: 'critical' }));
    const granted: Permit[] = [];
    for (let i = 0; i < 8; i++) void ctl.acquire({ cls: 'critical' }).then((p) => granted.push(p as Permit));
    for (let i = 0; i < 3; i++) void ctl.acquire({ cls: 'low' }).then((p) => granted.push(p as Permit));
    for (let i = 0; i < 8; i++) {
      held.release({ kind: 'success', latencyMs: 1 });
      await flush();
      held = granted[granted.length - 1];
    }
    // One dispatch in four goes to the oldest lower-class waiter.
    expect(granted.map((p) => p.cls)).toEqual(['critical', 'critical', 'critical', 'low', 'critical', 'critical', 'critical', 'low']);
  });

  it('gives the lower-class turn to the oldest waiter below the top, whichever lower class it is in', async () => {
    const { ctl } = setup({ maxConcurrency: 1, queue: { maxSize: 100, lowerClassShare: 0.25 } });
    let held = await permit(ctl.acquire({ cls: 'critical' }));
    const granted: Permit[] = [];
    for (let i = 0; i < 8; i++) void ctl.acquire({ cls: 'critical' }).then((p) => granted.push(p as Permit));
    void ctl.acquire({ cls: 'low' }).then((p) => granted.push(p as Permit)); // arrives first
    void ctl.acquire({ cls: 'medium' }).then((p) => granted.push(p as Permit));
    for (let i = 0; i < 8; i++) {
      held.release({ kind: 'success', latencyMs: 1 });
      await flush();
      held = granted[granted.length - 1];
    }
    expect(granted.map((p) => p.cls)).toEqual(['critical', 'critical', 'critical', 'low', 'critical', 'critical', 'critical', 'medium']);
  });

  it('serves strictly by class when no share is reserved for lower classes', async () => {
    const { ctl } = setup({ maxConcurrency: 1, queue: { maxSize: 100, lowerClassShare: 0 } });
    let held = await permit(ctl.acquire({ cls: 'critical' }));
    const granted: Permit[] = [];
    for (let i = 0; i < 2; i++) void ctl.acquire({ cls: 'low' }).then((p) => granted.push(p as Permit));
    for (let i = 0; i < 4; i++) void ctl.acquire({ cls: 'medium' }).then((p) => granted.push(p as Permit));
    for (let i = 0; i < 6; i++) {
      held.release({ kind: 'success', latencyMs: 1 });
      await flush();
      held = granted[granted.length - 1];
    }
    expect(granted.map((p) => p.cls)).toEqual(['medium', 'medium', 'medium', 'medium', 'low', 'low']);
  });

  it('does not grant more than the reserved capacity to lower classes past the threshold', async () => {
    const { ctl } = setup({
      maxConcurrency: 10,
      queue: { maxSize: 10, lowerClassShare: 0 },
      reservation: { enabled: true, threshold: 0.5, shares: { critical: 0.3, high: 0, medium: 0, low: 0 } },
    });
    for (let i = 0; i < 7; i++) await permit(ctl.acquire({ cls: 'low' }));
    const eighthLow = track(ctl.acquire({ cls: 'low' }));
    await flush();
    expect(eighthLow.value).toBeUndefined();
    for (let i = 0; i < 3; i++) await permit(ctl.acquire({ cls: 'critical' }));
    expect(ctl.inflight).toBe(10);
  });

  it('counts requests in flight by class and gives each class its count back on release', async () => {
    const { ctl } = setup({ maxConcurrency: 4 });
    const high = await permit(ctl.acquire({ cls: 'high' }));
    const lows = [await permit(ctl.acquire({ cls: 'low' })), await permit(ctl.acquire({ cls: 'low' }))];
    expect(ctl.snapshot().inflightByClass).toEqual({ critical: 0, high: 1, medium: 0, low: 2 });
    lows[0].release({ kind: 'success', latencyMs: 5 });
    high.release({ kind: 'error', latencyMs: 5 });
    expect(ctl.snapshot()).toMatchObject({ inflight: 1, inflightByClass: { critical: 0, high: 0, medium: 0, low: 1 } });
    lows[1].release({ kind: 'cancelled' });
    expect(ctl.snapshot()).toMatchObject({ inflight: 0, inflightByClass: { critical: 0, high: 0, medium: 0, low: 0 } });
  });

  it('tells the permit and the observer how long a served waiter queued', async () => {
    const clock = new FakeClock(1_000);
    const admitted: Array<[PriorityClass, number]> = [];
    const ctl = new AdmissionController(parseAdmissionConfig({ maxConcurrency: 1, adaptive: { enabled: false } }), clock, { onAdmit: (c, ms) => admitted.push([c, ms]) });
    const first = await permit(ctl.acquire({ cls: 'low' }));
    const waiter = track(ctl.acquire({ cls: 'high' }));
    clock.advance(40);
    first.release({ kind: 'success', latencyMs: 40 });
    await flush();
    expect(waiter.value).toMatchObject({ kind: 'permit', cls: 'high', queuedMs: 40 });
    expect(admitted).toEqual([
      ['low', 0],
      ['high', 40],
    ]);
  });

  it('does not count a cancelled request as a completion of the drain rate', async () => {
    const { ctl, clock } = setup();
    for (let i = 0; i < 10; i++) {
      const p = await permit(ctl.acquire({ cls: 'critical' }));
      clock.advance(500);
      p.release({ kind: 'cancelled' }); // the client went away: nothing drained
    }
    expect(ctl.snapshot().drainRatePerSecond).toBeUndefined();
    await measureDrain(ctl, clock, 5, 500); // answers count: 2 per second (limit 2 / 1 s latency)
    expect(ctl.snapshot().drainRatePerSecond).toBeCloseTo(2, 5);
  });

  it('frees one slot when a permit is released twice, so a double release lets no extra request through', async () => {
    const { ctl } = setup({ maxConcurrency: 2 });
    const first = await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const third = track(ctl.acquire({ cls: 'low' }));
    const fourth = track(ctl.acquire({ cls: 'low' }));
    await flush();
    first.release({ kind: 'success', latencyMs: 10 });
    first.release({ kind: 'success', latencyMs: 10 });
    await flush();
    expect(third.value?.kind).toBe('permit');
    expect(fourth.value).toBeUndefined();
  });

  it('keeps the waiters the sweep finds can still make their deadline, counting only those kept as ahead', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 100, lowerClassShare: 0 } });
    await measureDrain(ctl, clock, 10, 500); // 2 per second: a place in the queue costs 500 ms
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const t = clock.now();
    const doomed = track(ctl.acquire({ cls: 'critical', deadlineAt: t + 600 })); // fits on arrival (500 ms), not after 250 ms
    const behind = track(ctl.acquire({ cls: 'medium', deadlineAt: t + 1_150 })); // fits only if the doomed one is not ahead
    const patient = [0, 1, 2].map(() => track(ctl.acquire({ cls: 'low', deadlineAt: t + 60_000 })));
    await flush();
    expect(doomed.value).toBeUndefined();
    clock.advance(250); // the sweep
    await flush();
    expect(doomed.value).toMatchObject({ kind: 'shed', reason: 'deadline', queuedMs: 250 });
    expect(behind.value).toBeUndefined();
    expect(patient.map((w) => w.value)).toEqual([undefined, undefined, undefined]);
    expect(ctl.snapshot().queued).toEqual({ critical: 0, high: 0, medium: 1, low: 3 });
    clock.advance(250); // the next sweep keeps them too
    await flush();
    expect(ctl.snapshot().queued).toEqual({ critical: 0, high: 0, medium: 1, low: 3 });
  });

  it('applies reservations from exactly the threshold on, not before', async () => {
    const { ctl } = setup({
      maxConcurrency: 10,
      queue: { maxSize: 10, lowerClassShare: 0 },
      // past 5 in flight, low may use only 4 of 10 (6 kept for critical): so low stops at exactly 5
      reservation: { enabled: true, threshold: 0.5, shares: { critical: 0.6, high: 0, medium: 0, low: 0 } },
    });
    for (let i = 0; i < 5; i++) await permit(ctl.acquire({ cls: 'low' }));
    const sixth = track(ctl.acquire({ cls: 'low' }));
    await flush();
    expect(sixth.value).toBeUndefined();
    expect(ctl.tryAcquireNow('high')).toBeUndefined();
    expect(ctl.tryAcquireNow('critical')).toMatchObject({ kind: 'permit' });
  });

  it('hands a slot to the highest class when the lower-class turn is blocked by a reservation', async () => {
    const { ctl } = setup({
      maxConcurrency: 10,
      queue: { maxSize: 10, lowerClassShare: 0.5 },
      reservation: { enabled: true, threshold: 0.5, shares: { critical: 0.3, high: 0, medium: 0, low: 0 } },
    });
    for (let i = 0; i < 7; i++) await permit(ctl.acquire({ cls: 'low' }));
    const held = [0, 1, 2].map(() => ctl.tryAcquireNow('critical')!);
    expect(ctl.inflight).toBe(10);
    const low = track(ctl.acquire({ cls: 'low' }));
    const c1 = track(ctl.acquire({ cls: 'critical' }));
    const c2 = track(ctl.acquire({ cls: 'critical' }));
    held[0].release({ kind: 'success', latencyMs: 1 });
    await flush();
    expect(c1.value).toMatchObject({ kind: 'permit', cls: 'critical' }); // earns the lower class its turn
    held[1].release({ kind: 'success', latencyMs: 1 });
    await flush();
    // the low waiter's turn, but 9 in flight is past low's 7 reserved-free slots: critical goes
    expect(low.value).toBeUndefined();
    expect(c2.value).toMatchObject({ kind: 'permit', cls: 'critical' });
  });

  it('clears the timers of waiters it serves or sheds, and keeps sweeping only while anything waits', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 10, lowerClassShare: 0 } });
    const a = await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    const waiter = track(ctl.acquire({ cls: 'low', deadlineAt: clock.now() + 10_000 }));
    expect(clock.pendingTimers).toBe(2); // its deadline and the sweep
    a.release({ kind: 'success', latencyMs: 5 });
    await flush();
    expect(waiter.value).toMatchObject({ kind: 'permit' });
    expect(clock.pendingTimers).toBe(1); // the sweep, which does not re-arm on an empty queue
    clock.advance(250);
    expect(clock.pendingTimers).toBe(0);
  });
  it('sheds with timeout at once a request whose deadline is already now, even with a slot free, and admits one a millisecond later', async () => {
    const { ctl, clock } = setup();
    expect(await ctl.acquire({ cls: 'critical', deadlineAt: clock.now() })).toMatchObject({ kind: 'shed', reason: 'timeout', queuedMs: 0 });
    expect(await ctl.acquire({ cls: 'critical', deadlineAt: clock.now() + 1 })).toMatchObject({ kind: 'permit' });
    expect(ctl.inflight).toBe(1);
  });

  it('answers aborted at once to a caller that gave up before asking, even with a slot free', async () => {
    const { ctl, sheds } = setup();
    const ac = new AbortController();
    ac.abort();
    expect(await ctl.acquire({ cls: 'critical', signal: ac.signal })).toMatchObject({ kind: 'shed', reason: 'aborted', queuedMs: 0 });
    expect(ctl.inflight).toBe(0);
    expect(sheds).toEqual([['critical', 'aborted']]);
  });

  it('rounds Retry-After up to whole seconds and keeps it within its bounds', async () => {
    const { ctl, clock } = setup({ queue: { maxSize: 20, lowerClassShare: 0 }, earlyShedding: false, retryAfter: { minSeconds: 2, maxSeconds: 8 } });
    await measureDrain(ctl, clock, 10, 500); // 2 per second
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    for (let i = 0; i < 10; i++) track(ctl.acquire({ cls: 'low' }));
    expect(ctl.retryAfterSeconds('low')).toBe(6); // 11 at 2 per second: 5.5 s
    expect(ctl.retryAfterSeconds('critical')).toBe(2); // 0.5 s, raised to the minimum
    for (let i = 0; i < 10; i++) track(ctl.acquire({ cls: 'low' }));
    expect(ctl.retryAfterSeconds('low')).toBe(8); // 10.5 s, capped at the maximum
  });

  it('leaves a waiter that cannot make its deadline in the queue until it times out when early shedding is off', async () => {
    const { ctl, clock } = setup({ earlyShedding: false, queue: { maxSize: 100, lowerClassShare: 0 } });
    await measureDrain(ctl, clock, 10, 500); // 2 per second
    await permit(ctl.acquire({ cls: 'low' }));
    await permit(ctl.acquire({ cls: 'low' }));
    for (let i = 0; i < 6; i++) track(ctl.acquire({ cls: 'critical', deadlineAt: clock.now() + 60_000 }));
    const low = track(ctl.acquire({ cls: 'low', deadlineAt: clock.now() + 2_000 })); // 7 ahead: 3.5 s
    clock.advance(250); // a sweep
    await flush();
    expect(low.value).toBeUndefined();
    clock.advance(1_750);
    await flush();
    expect(low.value).toMatchObject({ kind: 'shed', reason: 'timeout', queuedMs: 2_000 });
  });
});

describe('AdmissionController with the pool\'s capacity known', () => {
  it('keeps the limit at the share when one member answers 503 while the pool has room, and hands the slot to the next waiter', async () => {
    const clock = new FakeClock(1_000);
    const ctl = new AdmissionController(parseAdmissionConfig({ queue: { lowerClassShare: 0 } }), clock, {}, () => 11);
    const held: Permit[] = [];
    for (let i = 0; i < 11; i++) held.push(await permit(ctl.acquire({ cls: 'high' })));
    const waiter = track(ctl.acquire({ cls: 'critical' }));
    await flush();
    expect(waiter.value).toBeUndefined();
    held[0].release({ kind: 'overload', latencyMs: 2 }); // one member was full (requests stacked on it)
    await flush();
    expect(ctl.limit).toBe(11);
    expect(waiter.value?.kind).toBe('permit');
    expect(ctl.inflight).toBe(11);
  });

  it('still lowers the limit for 503s while the capacity is unknown (the adaptive limit finds it), and tells the observer why', async () => {
    const clock = new FakeClock(1_000);
    const changes: Array<[number, string]> = [];
    const ctl = new AdmissionController(parseAdmissionConfig({ adaptive: { initial: 11 } }), clock, { onLimitChange: (l, cause) => changes.push([l, cause]) }, () => undefined);
    const held: Permit[] = [];
    for (let i = 0; i < 11; i++) held.push(await permit(ctl.acquire({ cls: 'high' })));
    held[0].release({ kind: 'overload', latencyMs: 2 });
    expect(ctl.limit).toBe(10);
    expect(changes).toEqual([[10, 'overload']]);
  });

  it('keeps a slot that appears without a completion for the waiters: a newcomer queues behind them, and capacityChanged hands it out at once', async () => {
    const clock = new FakeClock(1_000);
    let capacity = 1;
    const ctl = new AdmissionController(parseAdmissionConfig({ queue: { lowerClassShare: 0 } }), clock, {}, () => capacity);
    await permit(ctl.acquire({ cls: 'high' }));
    const first = track(ctl.acquire({ cls: 'medium' }));
    await flush();
    capacity = 2; // a member came, not yet announced: a slot is free while `first` waits
    expect(ctl.tryAcquireNow('medium')).toBeUndefined();
    expect(ctl.tryAcquireNow('low')).toBeUndefined();
    const second = track(ctl.acquire({ cls: 'medium' }));
    await flush();
    expect(second.value).toBeUndefined();
    expect(first.value).toBeUndefined();
    ctl.capacityChanged();
    await flush();
    expect(first.value).toMatchObject({ kind: 'permit', cls: 'medium' });
    expect(second.value).toBeUndefined();
    expect(ctl.inflight).toBe(2);
  });

  it('gives a freed slot to the lender instead of its waiter when the lender takes it (capacity one lower), and to the waiter once the lender declines', async () => {
    const clock = new FakeClock(1_000);
    let capacity = 2;
    const asked: PriorityClass[] = [];
    const lender = (cls: PriorityClass) => {
      asked.push(cls);
      if (capacity <= 1) return false;
      capacity--; // the slot went to a more urgent request at another replica
      return true;
    };
    const ctl = new AdmissionController(parseAdmissionConfig({ queue: { lowerClassShare: 0 } }), clock, {}, () => capacity, lender);
    const a = await permit(ctl.acquire({ cls: 'high' }));
    const b = await permit(ctl.acquire({ cls: 'low' }));
    expect(asked).toEqual([]); // a free slot and nobody waiting: no lending on the way in
    const waiter = track(ctl.acquire({ cls: 'low' }));
    await flush();
    a.release({ kind: 'success', latencyMs: 100 });
    await flush();
    expect(asked).toEqual(['low']);
    expect(waiter.value).toBeUndefined();
    expect(ctl.limit).toBe(1);
    b.release({ kind: 'success', latencyMs: 100 });
    await flush();
    expect(asked).toEqual(['low', 'low']);
    expect(waiter.value).toMatchObject({ kind: 'permit', cls: 'low' });
  });

  it('treats the zero drain rate of a pool with no capacity as unknown: the minimum Retry-After and no early shed', async () => {
    const clock = new FakeClock(1_000);
    let capacity = 2;
    const ctl = new AdmissionController(parseAdmissionConfig({ queue: { lowerClassShare: 0 }, retryAfter: { minSeconds: 2, maxSeconds: 30 } }), clock, {}, () => capacity);
    for (let i = 0; i < 2; i++) {
      const p = await permit(ctl.acquire({ cls: 'high' }));
      clock.advance(1_000);
      p.release({ kind: 'success', latencyMs: 1_000 }); // a mean latency, too few completions to measure a rate
    }
    capacity = 0; // every member gone: limit / latency is 0 per second
    ctl.capacityChanged();
    expect(ctl.limit).toBe(0);
    expect(ctl.snapshot().drainRatePerSecond).toBe(0);
    expect(ctl.retryAfterSeconds('high')).toBe(2);
    const waiter = track(ctl.acquire({ cls: 'high', deadlineAt: clock.now() + 5_000 }));
    await flush();
    expect(waiter.value).toBeUndefined(); // waits for capacity (or capacityChanged's no_capacity)
    capacity = 2; // the members are back
    ctl.capacityChanged();
    await flush();
    expect(waiter.value).toMatchObject({ kind: 'permit', cls: 'high' });
  });

  it('sheds every waiter with no_capacity when the last member goes, and keeps them while any capacity is left', async () => {
    const clock = new FakeClock(1_000);
    let capacity = 2;
    const ctl = new AdmissionController(parseAdmissionConfig({ queue: { lowerClassShare: 0 } }), clock, {}, () => capacity);
    const held = [await permit(ctl.acquire({ cls: 'high' })), await permit(ctl.acquire({ cls: 'high' }))];
    const critical = track(ctl.acquire({ cls: 'critical' }));
    const medium = track(ctl.acquire({ cls: 'medium' }));
    await flush();
    capacity = 1; // one member of two left: the waiters can still be served
    ctl.capacityChanged();
    await flush();
    expect(critical.value).toBeUndefined();
    expect(medium.value).toBeUndefined();
    capacity = 0; // no member serves: nothing to wait for
    ctl.capacityChanged();
    await flush();
    expect(critical.value).toMatchObject({ kind: 'shed', reason: 'no_capacity' });
    expect(medium.value).toMatchObject({ kind: 'shed', reason: 'no_capacity' });
    expect(ctl.snapshot().queued).toEqual({ critical: 0, high: 0, medium: 0, low: 0 });
    held.forEach((p) => p.release({ kind: 'cancelled' }));
    expect(ctl.inflight).toBe(0);
  });
});
