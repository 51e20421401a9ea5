import { FakeClock } from '../../../../runtime/common/clock';
import { REPLICA_HEARTBEAT_LUA, REPLICA_SHARES_LUA, ReplicaShare } from '../../../../runtime/proxy/admission/replica-share';
import type { ClassDemand } from '../../../../runtime/proxy/admission/replica-allocation';
import type { ShareMember } from '../../../../runtime/proxy/admission/replica-share';
import type { ScriptRunner } from '../../../../runtime/proxy/ratelimit/redis-script';

/**
 * The share decisions of ReplicaShare, with a scripted Redis (the heartbeat's answer is given):
 * the real heartbeat script against Redis is in cell-admission.test.ts.
 */
type Answer = unknown[] | Error | Promise<unknown[]>;

/**
 * A scripted Redis: the presence script answers `answers` in turn; the share script answers
 * `shareAnswers` in turn, and when none is scripted grants every part asked for, with no other
 * replica (a Redis this replica has to itself).
 */
function scripted(answers: Answer[], shareAnswers: Answer[] = []) {
  const calls: Array<Array<string | number>> = [];
  const shareCalls: Array<Array<string | number>> = [];
  const redis: ScriptRunner = {
    evalsha: () => Promise.reject(new Error('not used')),
    eval: (script, _n, ...args) => {
      if (script === REPLICA_SHARES_LUA) {
        shareCalls.push(args);
        const granted = String(args[4])
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => l.split('\t'))
          .map(([name, , , want, inflight]) => `\n${name}\t${want}\t${inflight}`)
          .join('');
        const next = shareAnswers.shift() ?? [`1 ${String(args[3])}${granted}`];
        return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
      }
      expect(script).toBe(REPLICA_HEARTBEAT_LUA);
      calls.push(args);
      const next = answers.shift() ?? new Error('no answer scripted');
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  };
  return { redis, calls, shareCalls };
}

/** Lets the scripted heartbeat answer (promise callbacks only; the fake clock holds every timer). */
const settled = () => new Promise<void>((r) => setImmediate(r));

/** Advances the clock to 1 ms before `ms` from now, expecting no heartbeat yet, then to `ms`, expecting exactly one more. */
function expectBeatAfter(clock: FakeClock, calls: readonly unknown[], ms: number): void {
  const before = calls.length;
  clock.advance(ms - 1);
  expect(calls).toHaveLength(before);
  clock.advance(1);
  expect(calls).toHaveLength(before + 1);
}

const d = (critical = 0, high = 0, medium = 0, low = 0): ClassDemand => ({ critical, high, medium, low });
/** `n` members of `slots` slots each, named m0, m1, ..., with `inflight` of this replica's requests on each. */
const pool = (n: number, slots: number, inflight = 0): ShareMember[] => Array.from({ length: n }, (_, i) => ({ name: `m${i}`, slots, inflight }));
/** An entry of another replica as the share script stores it. */
const entry = (demand: ClassDemand, parts: number[], inflight: number[] = parts.map(() => 0)) =>
  `1 ${demand.critical} ${demand.high} ${demand.medium} ${demand.low}${parts.map((p, i) => `\nm${i}\t${p}\t${inflight[i]}`).join('')}`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function share(answers: Answer[], id = 'b', more: { shares?: Answer[]; members?: () => ShareMember[] | undefined; demand?: () => ClassDemand; byDemand?: boolean } = {}) {
  const { redis, calls, shareCalls } = scripted(answers, more.shares);
  const changes: number[] = [];
  const errors: unknown[] = [];
  let shareChanges = 0;
  const clock = new FakeClock(0);
  const s = new ReplicaShare({
    redis,
    key: 'admission:replicas:p',
    id,
    heartbeatMs: 100,
    expiryMs: 300,
    clock,
    members: more.members,
    byDemand: more.byDemand,
    demand: more.demand,
    onChange: (n) => changes.push(n),
    onShareChange: () => shareChanges++,
    onError: (e) => errors.push(e),
  });
  return { s, calls, shareCalls, changes, errors, clock, shareChanges: () => shareChanges };
}

describe('ReplicaShare', () => {
  it('takes all the capacity while it counts itself alone', () => {
    const { s } = share([]);
    expect(s.replicas).toBe(1);
    expect(s.shareOf(pool(1, 7))).toBe(7);
  });

  it('splits the capacity by replica id: the first capacity mod n replicas take one more, and the shares add up', async () => {
    const all = ['c', 'a', 'b'];
    const shares = await Promise.all(
      all.map(async (id) => {
        const { s } = share([['c', 'a', 'b']], id);
        await s.beat();
        return [id, s.shareOf(pool(1, 8))] as const;
      }),
    );
    expect(Object.fromEntries(shares)).toEqual({ a: 3, b: 3, c: 2 });
    expect(shares.reduce((n, [, k]) => n + k, 0)).toBe(8);
  });

  it('gives every replica an equal share when the capacity divides evenly', async () => {
    const { s } = share([['a', 'b', 'c']], 'c');
    await s.beat();
    expect(s.shareOf(pool(1, 9))).toBe(3);
  });

  it('keeps at least one slot per replica while there is any capacity, and none without capacity', async () => {
    const { s } = share([['a', 'b', 'c']], 'c');
    await s.beat();
    expect(s.shareOf(pool(1, 1))).toBe(1);
    expect(s.shareOf(pool(1, 0))).toBe(0);
    expect(s.shareOf(pool(1, -3))).toBe(0);
  });

  it('counts itself when the heartbeat answer misses it, and sends its id and the expiry', async () => {
    const { s, calls } = share([['a', 'c']], 'b');
    await s.beat();
    expect(s.replicas).toBe(3);
    expect(calls[0]).toEqual(['admission:replicas:p', 'b', 300]);
    expect(s.shareOf(pool(1, 5))).toBe(2); // b is second of a, b, c: 5 = 2 + 2 + 1
  });

  it('tells about a change of the replica count only, and keeps the last count when Redis fails', async () => {
    const { s, changes, errors } = share([['a', 'b'], ['b', 'a'], new Error('down'), ['b']]);
    await s.beat();
    await s.beat();
    await s.beat();
    expect(s.replicas).toBe(2);
    expect(errors).toHaveLength(1);
    await s.beat();
    expect(changes).toEqual([2, 1]);
  });

  it('beats every heartbeatMs once started, only once when started twice, and not after stop', async () => {
    const { s, calls, clock } = share([['b'], ['b'], ['b'], ['b']]);
    s.start();
    s.start();
    await settled();
    expect(calls).toHaveLength(1);
    expect(clock.pendingTimers).toBe(1);
    expectBeatAfter(clock, calls, 100);
    await settled();
    s.stop();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(calls).toHaveLength(2);
  });

  it('schedules no heartbeat after stop, even when stopped while a heartbeat waits for Redis', async () => {
    const { s, calls, clock } = share([['b'], ['b']]);
    s.start(); // the first heartbeat is now waiting for its answer
    s.stop();
    await settled();
    expect(calls).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    expect(calls).toHaveLength(1);
  });

  it('beats again when started after a stop', async () => {
    const { s, calls, clock } = share([['b'], ['b'], ['b']]);
    s.start();
    await settled();
    s.stop();
    s.start();
    await settled();
    expect(calls).toHaveLength(2);
    clock.advance(100);
    expect(calls).toHaveLength(3);
    s.stop();
  });
});

describe('ReplicaShare by demand, member by member (scripted Redis)', () => {
  it('publishes its demand per class and, per member, the slots, the slots left to older replicas, the part it wants and its requests in flight', async () => {
    const { s, shareCalls } = share([['b']], 'b', { members: () => pool(2, 8, 3), demand: () => d(3, 2, 1, 0) });
    await s.beat();
    // alone: it wants every slot; nothing is left to anyone else
    expect(shareCalls[0]).toEqual(['admission:replicas:p:shares', 'b', 300, '3 2 1 0', 'm0\t8\t0\t8\t3\nm1\t8\t0\t8\t3']);
    expect(s.partsOf(pool(2, 8))).toEqual([8, 8]);
    expect(s.granted).toBe(16);
  });

  it('asks for its part of the allocation by demand in class order over the view of its last heartbeat, spread over the members', async () => {
    let demand = d(12);
    const others: Answer = ['', 'a', entry(d(2, 6), [4, 4]), 'c', entry(d(2, 6), [2, 2])];
    const { s, shareCalls } = share([['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']], 'b', {
      members: () => pool(2, 8),
      demand: () => demand,
      shares: [others, others, others],
    });
    await s.beat();
    // the first heartbeat knows no other replica's entry: a and c keep their equal round-robin
    // parts (a: slots 0, 3, 6 | 9, 12, 15; c: 2, 5 | 8, 11, 14), b asks for its own (1, 4, 7 | 10, 13)
    expect(shareCalls[0][4]).toBe('m0\t8\t5\t3\t0\nm1\t8\t6\t2\t0');
    await s.beat();
    // critical first across the replicas: a 2, c 2, b its 12, dealt 6 + 6 over the two members
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t6\t0\nm1\t8\t0\t6\t0');
    demand = d(0, 1);
    await s.beat();
    // b now asks one high request: its floor; the high demand of a and c takes the rest
    expect(sum(String(shareCalls[2][4]).split('\n').map((l) => Number(l.split('\t')[3])))).toBe(1);
  });

  it('takes the parts Redis granted; a member lost takes its part with it, a member added is shared equally until the next heartbeat', async () => {
    const { s } = share([['a', 'b']], 'b', { members: () => pool(2, 8), shares: [[entry(d(), [5, 2]), 'a', entry(d(), [3, 6])]] });
    await s.beat();
    expect(s.partsOf(pool(2, 8))).toEqual([5, 2]);
    expect(s.shareOf(pool(2, 8))).toBe(7);
    expect(s.partsOf([{ name: 'm1', slots: 8 }])).toEqual([2]);
    // m2 added: b is second of a, b: slots 1, 3, 5, 7 of it
    expect(s.partsOf([...pool(2, 8), { name: 'm2', slots: 8 }])).toEqual([5, 2, 4]);
    // a member whose slots fell below the part granted: no more than its slots
    expect(s.partsOf([{ name: 'm0', slots: 3 }])).toEqual([3]);
  });

  it('keeps at least one slot while there is capacity, though granted none, and none without capacity', async () => {
    const { s } = share([['a', 'b']], 'b', { members: () => pool(1, 8), shares: [[entry(d(), [0]), 'a', entry(d(9), [8])]] });
    await s.beat();
    expect(s.partsOf(pool(1, 8))).toEqual([0]);
    expect(s.shareOf(pool(1, 8))).toBe(1);
    expect(s.shareOf(pool(1, 0))).toBe(0);
    expect(s.shareOf([])).toBe(0);
  });

  it('leaves older replicas (presence, no entry) their equal round-robin parts and deals the rest by demand', async () => {
    const others: Answer = ['', 'a', entry(d(1), [1, 0])];
    const { s, shareCalls } = share([['a', 'b', 'old'], ['a', 'b', 'old']], 'b', { members: () => pool(2, 6), demand: () => d(20), shares: [others, others] });
    await s.beat();
    await s.beat();
    // old is third of a, b, old: slots 2, 5, 8, 11 of 12 = 2 of m0, 2 of m1; a asks 1; b the other 7
    expect(shareCalls[1][4]).toBe('m0\t6\t2\t3\t0\nm1\t6\t2\t4\t0');
  });

  it('tells that the parts may have moved on every answered heartbeat, not on a failed one', async () => {
    const { s, shareChanges } = share([['b'], ['b'], new Error('down')], 'b', { members: () => pool(1, 4) });
    await s.beat();
    await s.beat();
    await s.beat();
    expect(shareChanges()).toBe(2);
  });

  it('keeps its last parts while Redis is unreachable for up to the expiry, then takes the equal parts of the last count', async () => {
    const { s, clock, errors } = share([['a', 'b'], new Error('down'), new Error('down')], 'b', {
      members: () => pool(2, 8),
      shares: [[entry(d(), [6, 6]), 'a', entry(d(), [2, 2])]],
    });
    await s.beat();
    clock.advance(100);
    await s.beat();
    expect(s.partsOf(pool(2, 8))).toEqual([6, 6]);
    expect(errors).toHaveLength(1);
    clock.advance(201); // 301 ms since the last grant: past the 300 ms expiry
    expect(s.partsOf(pool(2, 8))).toEqual([4, 4]);
    expect(s.shareOf(pool(2, 8))).toBe(8);
  });

  it('takes its equal parts when no member was known at its last heartbeat', async () => {
    const { s } = share([['a', 'b', 'c']], 'c', { members: () => undefined });
    await s.beat();
    expect(s.granted).toBeUndefined();
    expect(s.shareOf(pool(1, 8))).toBe(2);
  });

  it('skips another replica\'s entry it cannot read instead of failing the heartbeat (it counts as an older replica)', async () => {
    const { s, errors, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(1, 10), shares: [['1 0 0 0 0\nm0\t4\t0', 'a', 'garbage']] });
    await s.beat();
    await s.beat();
    expect(errors).toHaveLength(0);
    // a's round-robin part (5 of 10) is left to it
    expect(String(shareCalls[1][4]).split('\t')[2]).toBe('5');
  });

  it('keeps its parts while the allocation is within one slot of them (no hand-over for one slot)', async () => {
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', {
      members: () => pool(2, 8),
      demand: () => d(9),
      shares: [[entry(d(9), [5, 3]), 'a', entry(d(8), [3, 5])]],
    });
    await s.beat();
    await s.beat();
    // the allocation says 8 or 9 for b (it holds 8): it asks for exactly what it holds, member by member
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t5\t0\nm1\t8\t0\t3\t0');
  });

  it('beats sooner while a hand-over is in progress (a part asked for and not granted yet), at the heartbeat again once it is done', async () => {
    const { s, calls, clock } = share([['b'], ['b'], ['b'], ['b']], 'b', {
      members: () => pool(1, 8),
      // alone it asks for all 8: granted 2 (another replica's requests still hold the rest), then all
      shares: [[entry(d(), [2])], [entry(d(), [8])]],
    });
    s.start();
    await settled();
    await settled();
    expect(calls).toHaveLength(1);
    expectBeatAfter(clock, calls, 50); // a quarter of the heartbeat, no less than 50 ms
    await settled();
    await settled();
    expectBeatAfter(clock, calls, 100);
    s.stop();
  });

  it('reads another replica\'s demand per class from its entry (critical, high, medium, low after the time)', async () => {
    // a's 10 critical requests come before b's 10 high ones: b is left 6 of the 16 slots
    const others: Answer = ['', 'a', entry(d(10), [8, 0])];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(2, 8), demand: () => d(0, 10), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(sum(String(shareCalls[1][4]).split('\n').map((l) => Number(l.split('\t')[3])))).toBe(6);
  });

  it('counts another replica whose entry has fewer than four demand figures, or a demand that is not a number, as an older replica (its round-robin parts left to it)', async () => {
    // a and c publish parts, but a's first line lacks a class and c's has a non-number
    const others: Answer = ['', 'a', '1 0 0 0\nm0\t3\t0', 'c', '1 0 x 0 0\nm0\t3\t0'];
    const { s, shareCalls, errors } = share([['a', 'b', 'c'], ['a', 'b', 'c']], 'b', { members: () => pool(1, 9), demand: () => d(9), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(errors).toHaveLength(0);
    // a (first of three) and c (third) are left slots 0, 3, 6 and 2, 5, 8: 6 of the 9; b asks the rest
    expect(shareCalls[1][4]).toBe('m0\t9\t6\t3\t0');
  });

  it('skips a part line of its grant without a member name or with a part that is not a number (that member takes its equal part)', async () => {
    const { s } = share([['a', 'b']], 'b', { members: () => pool(2, 8), shares: [['1 0 0 0 0\n\t5\t0\nm0\tx\t0\nm1\t3\t0', 'a', entry(d(), [4, 5])]] });
    await s.beat();
    expect(s.granted).toBe(3);
    // m0 granted nothing readable: b's round-robin part of it (b second of a, b: slots 1, 3, 5, 7)
    expect(s.partsOf(pool(2, 8))).toEqual([4, 3]);
  });

  it('counts another replica whose part lines are all unreadable as an older replica', async () => {
    const others: Answer = ['', 'a', '1 0 0 0 0\n\t4\t0', 'c', '1 0 0 0 0\nm0\tx\t0'];
    const { s, shareCalls } = share([['a', 'b', 'c'], ['a', 'b', 'c']], 'b', { members: () => pool(1, 9), demand: () => d(9), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(shareCalls[1][4]).toBe('m0\t9\t6\t3\t0');
  });

  it('holds its grant up to exactly the expiry after the heartbeat that took it, and takes the equal parts just past it', async () => {
    const { s, clock } = share([['a', 'b']], 'b', { members: () => pool(2, 8), shares: [[entry(d(), [6, 6]), 'a', entry(d(), [2, 2])]] });
    clock.advance(100);
    await s.beat(); // granted at 100 ms
    clock.advance(300);
    expect(s.partsOf(pool(2, 8))).toEqual([6, 6]);
    clock.advance(1);
    expect(s.partsOf(pool(2, 8))).toEqual([4, 4]);
  });

  it('ranks a replica heard of only through its share entry (its presence not seen yet) by id among the others', async () => {
    // presence answers b and c; a's entry comes with the shares: a, b, c by id, c (third, no
    // entry: an older replica) is left slots 2 and 5 of the 8
    const others: Answer = ['', 'a', entry(d(1), [1])];
    const { s, shareCalls } = share([['c', 'b'], ['c', 'b']], 'b', { members: () => pool(1, 8), demand: () => d(9), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(String(shareCalls[1][4]).split('\t')[2]).toBe('2');
  });

  // b holds 4 + 3 of 8 + 8, both replicas want 8 critical: b's allocation is 8, one slot short
  it.each([
    ['asks for the slot short on the first member the others leave room on, not on a full one', [4, 4], 'm0\t8\t0\t4\t0\nm1\t8\t0\t4\t0'],
    ['asks for one slot only, on the member with room where its part is furthest below its dealt part, when several have room', [3, 4], 'm0\t8\t0\t4\t0\nm1\t8\t0\t4\t0'],
    ['asks for no more than it holds when the others leave no room on any member', [4, 5], 'm0\t8\t0\t4\t0\nm1\t8\t0\t3\t0'],
  ])('within one slot of the allocation %s', async (_, theirParts, asked) => {
    const others: Answer = [entry(d(8), [4, 3]), 'a', entry(d(8), theirParts)];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(2, 8), demand: () => d(8), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(shareCalls[1][4]).toBe(asked);
  });

  it('moves to its allocation when it is two slots off (a hand-over is worth it)', async () => {
    // b holds 7, its allocation is 9 (9 critical against a's 7): it asks for its dealt parts, 9 in all
    const others: Answer = [entry(d(9), [4, 3]), 'a', entry(d(7), [4, 4])];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(2, 8), demand: () => d(9), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(sum(String(shareCalls[1][4]).split('\n').map((l) => Number(l.split('\t')[3])))).toBe(9);
  });

  it('asks for its dealt parts, though within one slot of the allocation, when a member was granted nothing yet (added since)', async () => {
    // granted 4 of m0 only; its allocation is 4 (a's 12 critical against its 4): dealt over both members
    const others: Answer = ['1 4 0 0 0\nm0\t4\t0', 'a', entry(d(12), [4, 8])];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(2, 8), demand: () => d(4), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t2\t0\nm1\t8\t0\t2\t0');
  });

  it('beats sooner when one member of several has a part asked for and not granted', async () => {
    const { s, calls, clock } = share([['b'], ['b']], 'b', { members: () => pool(2, 8), shares: [[entry(d(), [8, 2])]] });
    s.start();
    await settled();
    await settled();
    clock.advance(50);
    expect(calls).toHaveLength(2);
    s.stop();
  });

  it('beats sooner while its requests in flight on a member exceed its part there (the others wait for them), not when they equal it', async () => {
    for (const [inflight, next] of [
      [9, 50],
      [8, 100],
    ]) {
      const { s, calls, clock } = share([['b'], ['b']], 'b', { members: () => pool(1, 8, inflight) });
      s.start();
      await settled();
      await settled();
      expectBeatAfter(clock, calls, next);
      s.stop();
    }
  });

  it('beats at the heartbeat after a failed one, and when not by demand', async () => {
    for (const more of [{ members: () => pool(1, 8, 9) }, { byDemand: false }]) {
      const { s, calls, clock } = share(['byDemand' in more ? ['b'] : new Error('down'), ['b']], 'b', more);
      s.start();
      await settled();
      await settled();
      expectBeatAfter(clock, calls, 100);
      s.stop();
    }
  });

  it('changes its version when the replica count changes and on every answered heartbeat, also when both happen in one', async () => {
    const { s } = share([['b'], ['a', 'b'], ['a', 'b'], ['a', 'b', 'c']], 'b', { members: () => pool(1, 8) });
    const seen = [s.version];
    await s.beat(); // same count, parts answered
    seen.push(s.version);
    await s.beat(); // count changed and parts answered
    seen.push(s.version);
    await s.beat();
    seen.push(s.version);
    expect(new Set(seen).size).toBe(seen.length);
    const { s: equal } = share([['b'], ['a', 'b']], 'b', { byDemand: false });
    await equal.beat();
    const before = equal.version;
    await equal.beat(); // presence only: the count changed
    expect(equal.version).not.toBe(before);
  });

  it('gives up its idle parts first when its allocation is two or more slots lower, then from its largest parts', async () => {
    for (const [demand, critical, asked] of [
      [d(0, 5), 11, 'm0\t8\t0\t4\t4\nm1\t8\t0\t1\t1'], // allocation 5 (a's 11 critical first), 3 lower: the 3 idle slots of m1
      [d(0, 3), 13, 'm0\t8\t0\t2\t4\nm1\t8\t0\t1\t1'], // allocation 3, 5 lower: those, then 2 of m0 (free once requests there end)
    ] as const) {
      const others: Answer = [entry(demand, [4, 4], [4, 1]), 'a', entry(d(critical), [4, 4], [4, 4])];
      const members = () => [
        { name: 'm0', slots: 8, inflight: 4 },
        { name: 'm1', slots: 8, inflight: 1 },
      ];
      const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members, demand: () => demand, shares: [others, others] });
      await s.beat();
      await s.beat();
      expect(shareCalls[1][4]).toBe(asked);
    }
  });

  it('asks for the rest of a move of two or more slots where the deal puts it when the others leave no room (granted as they give it up)', async () => {
    // b holds 2 + 2 with 12 critical requests; a holds 6 + 6 (all in flight) for high work: b's
    // allocation is 12, its dealt parts 6 + 6; no room anywhere, so it asks for them
    const others: Answer = [entry(d(12), [2, 2]), 'a', entry(d(0, 12), [6, 6], [6, 6])];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(2, 8), demand: () => d(12), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t6\t0\nm1\t8\t0\t6\t0');
  });

  it('gives a move of two or more slots with no idle part from the parts furthest above its dealt parts', async () => {
    // b holds 6 + 2 (all in flight), its allocation is 3 (a's 13 critical first), dealt 1 + 2: m0 gives all 5
    const members = () => [
      { name: 'm0', slots: 8, inflight: 6 },
      { name: 'm1', slots: 8, inflight: 2 },
    ];
    const others: Answer = [entry(d(0, 3), [6, 2], [6, 2]), 'a', entry(d(13), [2, 6], [2, 6])];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members, demand: () => d(0, 3), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t1\t6\nm1\t8\t0\t2\t2');
  });

  it('asks the slot it is short of on a member the others leave room on, counting their requests in flight there beyond their part', async () => {
    // b holds 6, its allocation is 7 (7 critical against a's 9); a's part of m0 is 3 but 5 of its requests run there
    const others: Answer = [entry(d(7), [3, 3]), 'a', entry(d(9), [3, 4], [5, 4])];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members: () => pool(2, 8), demand: () => d(7), shares: [others, others] });
    await s.beat();
    await s.beat();
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t3\t0\nm1\t8\t0\t4\t0');
  });

  it('shares equally when not by demand: presence only, no demand published, round-robin parts', async () => {
    const { s, calls, shareCalls } = share([['a', 'b', 'c']], 'b', { members: () => pool(4, 8), demand: () => d(30), byDemand: false });
    await s.beat();
    expect(calls).toHaveLength(1);
    expect(shareCalls).toHaveLength(0);
    expect(s.granted).toBeUndefined();
    expect(s.partsOf(pool(4, 8))).toEqual([3, 2, 3, 3]);
    expect(s.shareOf(pool(4, 8))).toBe(11);
  });
});

describe('ReplicaShare lending a freed slot by class order across the replicas (scripted Redis)', () => {
  /** b's members: two of 8 slots, its requests in flight 4 on m0 and 3 on m1 (one idle slot of its part on m1). */
  const members = () => [
    { name: 'm0', slots: 8, inflight: 4 },
    { name: 'm1', slots: 8, inflight: 3 },
  ];
  /** b holds 4 + 4 of the 16 slots with high demand; a holds the other 8 and asks `a`. */
  const view = (mine: ClassDemand, a: ClassDemand, bParts = [4, 4], aParts = [4, 4]): Answer => [entry(mine, bParts, [4, 3]), 'a', entry(a, aParts, aParts)];

  it('gives a slot about to serve its high work to a replica short of slots for critical work: its part one lower on the member with the idle slot, published at once', async () => {
    const { s, calls, shareCalls, clock } = share([['a', 'b'], ['a', 'b'], ['a', 'b']], 'b', {
      members,
      demand: () => d(0, 10),
      shares: [view(d(0, 10), d(10)), view(d(0, 10), d(10), [4, 3])],
    });
    s.start();
    await settled();
    await settled();
    const version = s.version;
    expect(s.lend('high', members())).toBe(true);
    expect(s.partsOf(pool(2, 8))).toEqual([4, 3]);
    expect(s.shareOf(pool(2, 8))).toBe(7);
    expect(s.version).not.toBe(version);
    // published within a fifth of the hand-over cadence (50 ms), not at the next heartbeat
    expectBeatAfter(clock, calls, 10);
    await settled();
    await settled();
    // a is still 2 short of critical slots, 1 free for it: the heartbeat gives one more (one slot
    // off the allocation, but serving high work while critical work waits), from the part
    // furthest above the deal (free once a request there ends)
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t3\t4\nm1\t8\t0\t3\t3');
    // nothing of b's is idle now: nothing more to lend
    expect(s.lend('high', members())).toBe(false);
    s.stop();
  });

  it('lends no slot its own work of the class short elsewhere, or more urgent, still needs', async () => {
    const { s } = share([['a', 'b']], 'b', { members, demand: () => d(8, 10), shares: [view(d(8, 10), d(10))] });
    await s.beat();
    expect(s.lend('high', members())).toBe(false);
    expect(s.partsOf(pool(2, 8))).toEqual([4, 4]);
  });

  it('lends only to work strictly more urgent than the class the slot would serve', async () => {
    const { s } = share([['a', 'b']], 'b', { members, demand: () => d(0, 0, 10), shares: [view(d(0, 0, 10), d(0, 12))] });
    await s.beat();
    expect(s.lend('high', members())).toBe(false); // a is short of high slots only: the same class
    expect(s.lend('critical', members())).toBe(false);
    expect(s.lend('medium', members())).toBe(true); // a's high work before b's medium work
  });

  it('lends nothing while the slots free in its view cover the other replica\'s shortfall, nor without a grant, nor when not by demand', async () => {
    // a is short of 1 critical slot; m0 has 1 slot nobody holds (b's part and requests 3, a's 4, of 8); b has an idle slot on m1
    const three = () => members().map((m) => ({ ...m, inflight: 3 }));
    const covered = share([['a', 'b']], 'b', { members: three, demand: () => d(0, 10), shares: [view(d(0, 10), d(9), [3, 4])] });
    await covered.s.beat();
    expect(covered.s.lend('high', three())).toBe(false);
    const short = share([['a', 'b']], 'b', { members: three, demand: () => d(0, 10), shares: [view(d(0, 10), d(10), [3, 4])] });
    await short.s.beat();
    expect(short.s.lend('high', three())).toBe(true); // 2 short, 1 free: it lends its idle one
    const none = share([], 'b', { members, demand: () => d(0, 10) });
    expect(none.s.lend('high', members())).toBe(false);
    const equal = share([['a', 'b']], 'b', { members, demand: () => d(0, 10), byDemand: false });
    await equal.s.beat();
    expect(equal.s.lend('high', members())).toBe(false);
  });

  it('keeps a slot lent while a heartbeat waits for Redis over that heartbeat\'s answer, and publishes it with the next one at once', async () => {
    let answer!: (v: unknown[]) => void;
    const pending = new Promise<unknown[]>((r) => (answer = r));
    const { s, shareCalls, clock } = share([['a', 'b'], ['a', 'b'], ['a', 'b']], 'b', {
      members,
      demand: () => d(0, 10),
      // a is 1 short of critical slots: the allocation is a 9, b 7
      shares: [view(d(0, 10), d(9)), pending, view(d(0, 10), d(9), [4, 3])],
    });
    s.start();
    await settled();
    await settled();
    clock.advance(50); // the next heartbeat (a is short: the hand-over cadence); its shares wait for Redis
    await settled();
    expect(shareCalls).toHaveLength(2);
    // a is 1 short of critical slots: the heartbeat gives its idle slot of m1 (one off the allocation, serving high work)
    expect(shareCalls[1][4]).toBe('m0\t8\t0\t4\t4\nm1\t8\t0\t3\t3');
    expect(s.lend('high', members())).toBe(true); // its grant is still 4 + 4 until the answer
    answer(view(d(0, 10), d(9)) as unknown[]); // grants the 4 + 4 asked before the slot was lent
    await settled();
    await settled();
    expect(s.partsOf(pool(2, 8))).toEqual([4, 3]);
    clock.advance(10);
    await settled();
    expect(shareCalls).toHaveLength(3);
    expect(shareCalls[2][4]).toBe('m0\t8\t0\t4\t4\nm1\t8\t0\t3\t3');
    s.stop();
  });

  it('beats at the hand-over cadence while a replica wants more than its share, at the heartbeat once none does', async () => {
    let demand = d(0, 20);
    const { s, calls, clock } = share([['b'], ['b'], ['b']], 'b', { members: () => pool(1, 8, 8), demand: () => demand });
    s.start();
    await settled();
    await settled();
    expectBeatAfter(clock, calls, 50); // 20 asked, 8 held: the hand-over cadence
    demand = d(0, 8);
    await settled();
    await settled();
    expectBeatAfter(clock, calls, 100);
    s.stop();
  });
});

describe('ReplicaShare: which slot moves, when it is published (scripted Redis)', () => {
  /** The parts b asks for at its second heartbeat, given b's and a's entries as last answered. */
  async function asked(mine: { demand: ClassDemand; parts: number[]; inflight: number[] }, a: { demand: ClassDemand; parts: number[]; inflight?: number[] }, slots: number | number[] = 8) {
    const members = () => mine.parts.map((_, i) => ({ name: `m${i}`, slots: typeof slots === 'number' ? slots : slots[i], inflight: mine.inflight[i] }));
    const others: Answer = [entry(mine.demand, mine.parts, mine.inflight), 'a', entry(a.demand, a.parts, a.inflight)];
    const { s, shareCalls } = share([['a', 'b'], ['a', 'b']], 'b', { members, demand: () => mine.demand, shares: [others, others] });
    await s.beat();
    await s.beat();
    return String(shareCalls[1][4])
      .split('\n')
      .map((l) => Number(l.split('\t')[3]));
  }

  it('gives up the idle part of the member where most of its part is idle first', async () => {
    // allocation 6 (a's 10 critical first), 2 lower than the 4 + 4 held; idle 1 on m0, 3 on m1
    expect(await asked({ demand: d(0, 6), parts: [4, 4], inflight: [3, 1] }, { demand: d(10), parts: [4, 4], inflight: [4, 4] })).toEqual([4, 2]);
  });

  it('gives up idle parts on the first member first when members are equally idle', async () => {
    expect(await asked({ demand: d(0, 6), parts: [4, 4], inflight: [2, 2] }, { demand: d(10), parts: [4, 4], inflight: [4, 4] })).toEqual([2, 4]);
  });

  it('gives a move with no idle part from the part furthest above its dealt part, though not the first member\'s', async () => {
    // allocation 3 (a's 13 critical first), dealt 1 + 2: m1 is 4 above its dealt part, m0 1
    expect(await asked({ demand: d(0, 3), parts: [2, 6], inflight: [2, 6] }, { demand: d(13), parts: [6, 2], inflight: [6, 2] })).toEqual([1, 2]);
  });

  it('of parts equally far above their dealt parts, gives from the first member when they are equal', async () => {
    // allocation 9 (a's 15 critical first), dealt 3 + 3 + 3; the 2 idle slots of m2 first, then
    // one of m0 and m1, both 2 above their dealt part: m0's
    expect(await asked({ demand: d(0, 9), parts: [5, 5, 2], inflight: [5, 5, 0] }, { demand: d(15), parts: [3, 3, 6], inflight: [3, 3, 6] })).toEqual([4, 5, 0]);
  });

  it('of parts equally far above their dealt parts, gives from the larger part first', async () => {
    // allocation 7 (a's 17 critical first), dealt 2 + 3 + 2; the idle slot of m2 first, then 3
    // more: m1 (5, 2 above like m0's 4, but larger), m0 (2 above), m1 (1 above like m0, larger)
    expect(await asked({ demand: d(0, 7), parts: [4, 5, 2], inflight: [4, 5, 1] }, { demand: d(17), parts: [4, 3, 6], inflight: [4, 3, 6] })).toEqual([3, 3, 1]);
  });

  it('gives from the part furthest above its dealt part, though a later part is larger', async () => {
    // m0 of 4 slots, m1 of 12; allocation 8 (a's 8 critical, b's 8 high), dealt 2 + 6; b holds
    // 4 + 7 (all in flight): m0 is 2 above its dealt part, m1 (larger) 1; 3 to give
    expect(await asked({ demand: d(0, 8), parts: [4, 7], inflight: [4, 7] }, { demand: d(8), parts: [0, 5], inflight: [0, 5] }, [4, 12])).toEqual([2, 6]);
  });

  it('asks for the rest of a move where the deal puts it, no more than the move, when a member had room beyond its dealt part', async () => {
    // allocation 7 (a's 17 critical first), dealt 2 + 3 + 2, held 1 + 1 + 1: 4 to take; a leaves
    // room on m2 only (2 slots, taken first), the other 2 go to m0 and m1 where the deal puts them
    expect(await asked({ demand: d(0, 7), parts: [1, 1, 1], inflight: [0, 0, 0] }, { demand: d(17), parts: [7, 7, 5], inflight: [7, 7, 5] })).toEqual([2, 2, 3]);
  });

  it('keeps a slot above its allocation that serves none of its demand while the slots free cover the others\' shortfall', async () => {
    // b holds 9 for 3 critical requests, a 7 for 8: the allocation gives b 8, one slot lower;
    // a's slot short is free on m1 already: no hand-over for one slot
    expect(await asked({ demand: d(3), parts: [5, 4], inflight: [3, 0] }, { demand: d(8), parts: [4, 3], inflight: [4, 3] })).toEqual([5, 4]);
  });

  it('asks for the slot it is short of on the member with the most room of those equally below their dealt part', async () => {
    // allocation 7 (a's 17 critical first), dealt 2 + 3 + 2, held 1 + 2 + 3: m0 and m1 one below;
    // a leaves room 2 on m0, 3 on m1
    expect(await asked({ demand: d(0, 7), parts: [1, 2, 3], inflight: [0, 0, 0] }, { demand: d(17), parts: [5, 3, 5], inflight: [5, 3, 5] })).toEqual([1, 3, 3]);
  });

  it('asks for the slot it is short of on the member furthest below its dealt part, though not the first with room', async () => {
    // dealt 2 + 3 + 2, held 2 + 1 + 3: m1 two below; room 3 on m0 and on m1
    expect(await asked({ demand: d(0, 7), parts: [2, 1, 3], inflight: [0, 0, 0] }, { demand: d(17), parts: [3, 4, 5], inflight: [3, 4, 5] })).toEqual([2, 2, 3]);
  });

  it('asks for the slot it is short of on the first member of those equally below their dealt part with equal room', async () => {
    expect(await asked({ demand: d(0, 7), parts: [1, 2, 3], inflight: [0, 0, 0] }, { demand: d(17), parts: [4, 3, 5], inflight: [4, 3, 5] })).toEqual([2, 2, 3]);
  });
});

describe('ReplicaShare lending: when a slot lent is published, and which (scripted Redis)', () => {
  /** b: two members of 8, its requests in flight 4 on m0 and 3 on m1 (one idle slot of its 4 + 4 on m1). */
  const members = () => [
    { name: 'm0', slots: 8, inflight: 4 },
    { name: 'm1', slots: 8, inflight: 3 },
  ];
  /** b holds `bParts` with high demand; a holds 4 + 4 (all in flight) and is 2 short of critical slots. */
  const view = (bParts = [4, 4], bInflight = [4, 3], a: ClassDemand = d(10), aParts = [4, 4], aInflight = aParts): Answer => [entry(d(0, 10), bParts, bInflight), 'a', entry(a, aParts, aInflight)];

  it('lends without a heartbeat of its own when not started (or stopped): the next heartbeat it is given publishes it', async () => {
    const { s, calls, clock } = share([['a', 'b']], 'b', { members, demand: () => d(0, 10), shares: [view()] });
    await s.beat();
    expect(s.lend('high', members())).toBe(true);
    expect(calls).toHaveLength(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('publishes a slot lent at once when a fifth of the hand-over cadence has passed since the last heartbeat began', async () => {
    for (const since of [10, 30]) {
      const { s, calls, clock } = share([['a', 'b'], ['a', 'b']], 'b', { members, demand: () => d(0, 10), shares: [view(), view([4, 3])] });
      s.start();
      await settled();
      await settled();
      clock.advance(since);
      expect(s.lend('high', members())).toBe(true);
      expect(calls).toHaveLength(2);
      s.stop();
    }
  });

  it('publishes a slot lent while a heartbeat waits for Redis a fifth of the hand-over cadence after it began, also when that heartbeat fails', async () => {
    let fail!: (e: Error) => void;
    const pending = new Promise<unknown[]>((_, reject) => (fail = reject));
    const { s, calls, clock, errors } = share([['a', 'b'], ['a', 'b'], ['a', 'b']], 'b', { members, demand: () => d(0, 10), shares: [view(), pending, view([4, 3])] });
    s.start();
    await settled();
    await settled();
    clock.advance(50); // the next heartbeat (a is short: the hand-over cadence); its shares wait for Redis
    await settled();
    expect(s.lend('high', members())).toBe(true);
    expect(clock.pendingTimers).toBe(0); // nothing more until that heartbeat is answered
    fail(new Error('down'));
    await settled();
    await settled();
    expect(errors).toHaveLength(1);
    expect(s.partsOf(pool(2, 8))).toEqual([4, 3]);
    expectBeatAfter(clock, calls, 10);
    s.stop();
  });

  it('changes its version to one not seen before when it lends', async () => {
    const { s } = share([['a', 'b'], ['a', 'b']], 'b', { members, demand: () => d(0, 10), shares: [view(), view()] });
    const seen = [s.version];
    await s.beat();
    seen.push(s.version);
    await s.beat();
    seen.push(s.version);
    expect(s.lend('high', members())).toBe(true);
    seen.push(s.version);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('lends the idle slot of the first member when that is where its part is idle', async () => {
    const first = () => [
      { name: 'm0', slots: 8, inflight: 3 },
      { name: 'm1', slots: 8, inflight: 4 },
    ];
    const { s } = share([['a', 'b']], 'b', { members: first, demand: () => d(0, 10), shares: [view([4, 4], [3, 4])] });
    await s.beat();
    expect(s.lend('high', first())).toBe(true);
    expect(s.partsOf(pool(2, 8))).toEqual([3, 4]);
  });

  it('counts the other replica\'s requests in flight beyond its part as taken: no slot is free for it there', async () => {
    // a is 1 short of critical slots; m0's slot nobody holds a part of runs one of a's requests
    const three = () => members().map((m) => ({ ...m, inflight: 3 }));
    const { s } = share([['a', 'b']], 'b', { members: three, demand: () => d(0, 10), shares: [view([3, 4], [3, 3], d(9), [4, 4], [5, 4])] });
    await s.beat();
    expect(s.lend('high', three())).toBe(true);
  });

  it('lends no slot from a share of one slot (the floor every replica keeps)', async () => {
    const one = () => [
      { name: 'm0', slots: 8, inflight: 0 },
      { name: 'm1', slots: 8, inflight: 0 },
    ];
    const { s } = share([['a', 'b']], 'b', { members: one, demand: () => d(0, 10), shares: [view([1, 0], [0, 0], d(20), [7, 8])] });
    await s.beat();
    expect(s.lend('high', one())).toBe(false);
    expect(s.partsOf(pool(2, 8))).toEqual([1, 0]);
  });

  it('lends a slot when its share exceeds its own more urgent demand by exactly one', async () => {
    const { s } = share([['a', 'b']], 'b', { members, demand: () => d(7, 3), shares: [view()] });
    await s.beat();
    expect(s.lend('high', members())).toBe(true);
  });

  it('counts no entry under its own id among the other replicas\' (the script answers the others only)', async () => {
    // a is 1 short of critical slots and m0 has 1 slot nobody holds: nothing to lend, unless b's
    // own parts were counted again as another's (m0's free slot would look taken)
    const three = () => members().map((m) => ({ ...m, inflight: 3 }));
    const mine = entry(d(0, 10), [3, 4], [3, 3]);
    const { s } = share([['a', 'b']], 'b', { members: three, demand: () => d(0, 10), shares: [[mine, 'a', entry(d(9), [4, 4], [4, 4]), 'b', mine]] });
    await s.beat();
    expect(s.replicas).toBe(2);
    expect(s.lend('high', three())).toBe(false);
  });
});
