import { PRIORITY_CLASSES, type PriorityClass } from '../../../../contract/priority';
import { FakeClock } from '../../../../runtime/common/clock';
import { parseAdmissionConfig } from '../../../../runtime/proxy/admission/config';
import { AdmissionController, type Permit } from '../../../../runtime/proxy/admission/controller';
import { combineSaturation } from '../../../../runtime/proxy/admission/saturation';

/**
 * The admission limit against a model of upstreams, on a fake clock: members with a number of
 * slots and a fixed service time, that either queue what exceeds their slots (vLLM) or refuse
 * it at once with a 503 (a server with a front limit, a hosted API). Demand is 3x capacity with
 * the 10/20/30/40 % class mix; a refused request goes back to admission, as the proxy does.
 */
type Behaviour = 'queue' | 'reject';

/** Lets the promise continuations of the step run (permits granted, requests re-admitted). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function cell(behaviour: Behaviour, opts: { slotsPerMember: number; members: number; declareSlots: boolean; demand?: number }) {
  const clock = new FakeClock();
  const serviceMs = 500;
  let members = opts.members;
  const capacityNow = () => members * opts.slotsPerMember;
  let running = 0;
  const waiting: (() => void)[] = [];
  const ctl = new AdmissionController(
    parseAdmissionConfig({ queue: { maxSize: 100_000 }, saturation: { maxWaiting: 0 } }),
    clock,
    {},
    opts.declareSlots ? () => capacityNow() : undefined,
  );
  const limits: { t: number; limit: number }[] = [];
  let served = 0;
  let refused = 0;
  let peakQueued = 0;

  const finish = (permit: Permit, startedAt: number) => {
    running--;
    served++;
    permit.release({ kind: 'success', latencyMs: clock.now() - startedAt });
    while (waiting.length > 0 && running < capacityNow()) waiting.shift()!();
  };
  const send = async (cls: PriorityClass, deadlineAt: number): Promise<void> => {
    const permit = await ctl.acquire({ cls, deadlineAt });
    if (permit.kind === 'shed') return;
    const sentAt = clock.now();
    const start = () => {
      running++;
      clock.setTimeout(() => finish(permit, sentAt), serviceMs);
    };
    if (running < capacityNow()) return start();
    if (behaviour === 'queue') {
      waiting.push(start);
      peakQueued = Math.max(peakQueued, waiting.length);
      return;
    }
    refused++;
    permit.release({ kind: 'overload', latencyMs: 1 });
    if (clock.now() < deadlineAt) return send(cls, deadlineAt); // back to admission, not to the caller
  };

  /** Runs `seconds` of 3x-capacity (or `demand` x) arrivals in 10 ms steps, with a /metrics scrape each second. */
  const run = async (seconds: number) => {
    const perStep = ((opts.demand ?? 3) * (opts.members * opts.slotsPerMember)) / (serviceMs / 1000) / 100;
    let carry = 0;
    for (let step = 0; step < seconds * 100; step++) {
      carry += perStep;
      for (; carry >= 1; carry--) {
        const cls = PRIORITY_CLASSES[[0, 1, 1, 2, 2, 2, 3, 3, 3, 3][Math.floor(Math.random() * 10)]];
        void send(cls, clock.now() + 10_000);
      }
      await flush();
      clock.advance(10);
      await flush();
      if (step % 100 === 99 && behaviour === 'queue') {
        const perMember = Array.from({ length: members }, (_, i) => ({
          running: Math.min(opts.slotsPerMember, Math.max(0, running - i * opts.slotsPerMember)),
          waiting: Math.floor(waiting.length / members) + (i < waiting.length % members ? 1 : 0),
        }));
        ctl.onSaturation(combineSaturation(perMember));
      }
      if (step % 10 === 0) limits.push({ t: clock.now(), limit: ctl.limit });
    }
  };
  const limitsSince = (t: number) => limits.filter((l) => l.t >= t).map((l) => l.limit);
  return {
    clock,
    ctl,
    run,
    limitsSince,
    setMembers: (n: number) => (members = n),
    capacityNow,
    get refused() {
      return refused;
    },
    get served() {
      return served;
    },
    /** Most requests ever queued at the upstreams at once (`queue`). */
    get peakQueued() {
      return peakQueued;
    },
  };
}

describe.each<[Behaviour, boolean]>([
  ['queue', false],
  ['reject', false],
  ['queue', true],
  ['reject', true],
])('admission limit with upstreams that %s when full (slots declared: %s)', (behaviour, declareSlots) => {
  it('converges to the capacity within a few seconds of a 3x surge and stays there', async () => {
    const c = cell(behaviour, { slotsPerMember: 8, members: 2, declareSlots });
    await c.run(4);
    const settled = c.limitsSince(c.clock.now() - 1_000);
    expect(Math.min(...settled)).toBeGreaterThanOrEqual(16 - 2);
    await c.run(6);
    const later = c.limitsSince(c.clock.now() - 6_000);
    expect(Math.max(...later)).toBeLessThanOrEqual(16 + 3);
    expect(Math.min(...later)).toBeGreaterThanOrEqual(16 - 3);
  });

  it('follows a member lost and a member added within a few seconds', async () => {
    const c = cell(behaviour, { slotsPerMember: 8, members: 4, declareSlots });
    await c.run(5);
    c.setMembers(2); // capacity 32 -> 16
    await c.run(3);
    const afterLoss = c.limitsSince(c.clock.now() - 500);
    expect(Math.max(...afterLoss)).toBeLessThanOrEqual(16 + 3);
    c.setMembers(4); // back to 32
    await c.run(declareSlots ? 1 : 8);
    const afterGain = c.limitsSince(c.clock.now() - 500);
    expect(Math.min(...afterGain)).toBeGreaterThanOrEqual(32 - 4);
  });

  if (!declareSlots) {
    it('starts small while the capacity is unknown: the first second of a surge does not flood the pool', async () => {
      const c = cell(behaviour, { slotsPerMember: 8, members: 2, declareSlots });
      await c.run(0.5);
      expect(Math.max(...c.limitsSince(0))).toBe(8); // the first round trip: the default start, half the slots
      await c.run(3.5);
      // slow start overshoots the 16 slots by at most what the upstreams complete before the
      // signal that ends it (a refusal at once; a scrape): never the 48 of a start at 64
      if (behaviour === 'queue') expect(c.peakQueued).toBeLessThanOrEqual(16);
      else expect(c.refused).toBeLessThanOrEqual(16);
    });

    it('reaches the capacity of a large pool (4 x 256 slots) within a few seconds of steady demand', async () => {
      const c = cell(behaviour, { slotsPerMember: 256, members: 4, declareSlots, demand: 1.5 });
      // slow start doubles per round trip (500 ms): 8 x 2^6 = 512 after 6, adaptive.max (1 000, the
      // ceiling while nothing is known) after 7, i.e. 3.5 s after the first requests were sent
      await c.run(3.4);
      expect(Math.max(...c.limitsSince(0))).toBe(512);
      await c.run(0.6);
      expect(Math.max(...c.limitsSince(c.clock.now() - 100))).toBeGreaterThanOrEqual(1_000);
      await c.run(2);
      expect(Math.min(...c.limitsSince(c.clock.now() - 1_000))).toBeGreaterThanOrEqual(900);
    });
  }

  if (behaviour === 'reject') {
    it('costs few refused attempts once converged (one probe per round trip at most)', async () => {
      const c = cell(behaviour, { slotsPerMember: 8, members: 2, declareSlots });
      await c.run(4);
      const refusedBefore = c.refused;
      const servedBefore = c.served;
      await c.run(10);
      expect((c.refused - refusedBefore) / (c.served - servedBefore)).toBeLessThan(0.2);
    });
  }
});
