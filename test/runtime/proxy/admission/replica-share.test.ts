import { FakeClock } from '../../../../runtime/common/clock';
import { ReplicaShare, memberShares } from '../../../../runtime/proxy/admission/replica-share';
import type { ScriptRunner } from '../../../../runtime/proxy/ratelimit/redis-script';

/**
 * The share decisions of ReplicaShare, with a scripted Redis (the heartbeat's answer is given):
 * the real heartbeat script against Redis is in cell-admission.test.ts.
 */
function scripted(answers: Array<string[] | Error>) {
  const calls: Array<Array<string | number>> = [];
  const redis: ScriptRunner = {
    evalsha: () => Promise.reject(new Error('not used')),
    eval: (_script, _n, ...args) => {
      calls.push(args);
      const next = answers.shift() ?? new Error('no answer scripted');
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  };
  return { redis, calls };
}

/** Lets the scripted heartbeat answer (promise callbacks only; the fake clock holds every timer). */
const settled = () => new Promise<void>((r) => setImmediate(r));

function share(answers: Array<string[] | Error>, id = 'b') {
  const { redis, calls } = scripted(answers);
  const changes: number[] = [];
  const errors: unknown[] = [];
  const clock = new FakeClock(0);
  const s = new ReplicaShare({ redis, key: 'admission:replicas:p', id, heartbeatMs: 100, expiryMs: 300, clock, onChange: (n) => changes.push(n), onError: (e) => errors.push(e) });
  return { s, calls, changes, errors, clock };
}

describe('ReplicaShare', () => {
  it('takes all the capacity while it counts itself alone', () => {
    const { s } = share([]);
    expect(s.replicas).toBe(1);
    expect(s.shareOf(7)).toBe(7);
  });

  it('splits the capacity by replica id: the first capacity mod n replicas take one more, and the shares add up', async () => {
    const all = ['c', 'a', 'b'];
    const shares = await Promise.all(
      all.map(async (id) => {
        const { s } = share([['c', 'a', 'b']], id);
        await s.beat();
        return [id, s.shareOf(8)] as const;
      }),
    );
    expect(Object.fromEntries(shares)).toEqual({ a: 3, b: 3, c: 2 });
    expect(shares.reduce((n, [, k]) => n + k, 0)).toBe(8);
  });

  it('gives every replica an equal share when the capacity divides evenly', async () => {
    const { s } = share([['a', 'b', 'c']], 'c');
    await s.beat();
    expect(s.shareOf(9)).toBe(3);
  });

  it('keeps at least one slot per replica while there is any capacity, and none without capacity', async () => {
    const { s } = share([['a', 'b', 'c']], 'c');
    await s.beat();
    expect(s.shareOf(1)).toBe(1);
    expect(s.shareOf(0)).toBe(0);
    expect(s.shareOf(-3)).toBe(0);
  });

  it('counts itself when the heartbeat answer misses it, and sends its id and the expiry', async () => {
    const { s, calls } = share([['a', 'c']], 'b');
    await s.beat();
    expect(s.replicas).toBe(3);
    expect(calls[0]).toEqual(['admission:replicas:p', 'b', 300]);
    expect(s.shareOf(5)).toBe(2); // b is second of a, b, c: 5 = 2 + 2 + 1
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
    clock.advance(99);
    expect(calls).toHaveLength(1);
    clock.advance(1);
    expect(calls).toHaveLength(2);
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

describe('memberShares: each replica\'s part of each member\'s slots', () => {
  const parts = (slots: number[], replicas: number) => Array.from({ length: replicas }, (_, rank) => memberShares(slots, rank, replicas));

  it('gives every member exactly its slots over the replicas, and every replica its share of the pool', () => {
    for (const [slots, replicas] of [
      [[8, 8, 8, 8], 3],
      [[8, 8], 3],
      [[256, 256, 256], 20],
      [[3, 5, 1, 7], 4],
      [[2], 3],
      [[8, 0, 8], 2],
    ] as Array<[number[], number]>) {
      const byReplica = parts(slots, replicas);
      slots.forEach((s, m) => expect(byReplica.reduce((n, p) => n + p[m], 0)).toBe(s));
      const total = slots.reduce((a, b) => a + b, 0);
      byReplica.forEach((p, rank) => expect(p.reduce((a, b) => a + b, 0)).toBe(Math.floor(total / replicas) + (rank < total % replicas ? 1 : 0)));
    }
  });

  it('spreads a replica\'s part over the members instead of filling one member first', () => {
    expect(parts([8, 8, 8, 8], 3)).toEqual([
      [3, 3, 2, 3],
      [3, 2, 3, 3],
      [2, 3, 3, 2],
    ]);
    expect(memberShares([8, 8, 8, 8], 0, 1)).toEqual([8, 8, 8, 8]);
  });
});
