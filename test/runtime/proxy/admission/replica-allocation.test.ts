import { allocateShares, dealMemberParts, equalShare, roundRobinParts, shortfallThrough, type ClassDemand, type ReplicaView } from '../../../../runtime/proxy/admission/replica-allocation';

const d = (critical = 0, high = 0, medium = 0, low = 0): ClassDemand => ({ critical, high, medium, low });
const alloc = (capacity: number, view: Record<string, ClassDemand | undefined>) =>
  Object.fromEntries(allocateShares(capacity, Object.entries(view).map(([id, demand]) => ({ id, demand }))));
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

describe('allocateShares: the replicas\' shares of a pool by demand, in class order', () => {
  it('serves the critical demand of every replica before any high demand (the uneven-critical case of bench:cell kill)', () => {
    // 16 slots; replica c has 12 critical requests, a and b 2 critical and 6 high each
    const shares = alloc(16, { a: d(2, 6), b: d(2, 6), c: d(12) });
    expect(shares).toEqual({ a: 2, b: 2, c: 12 });
  });

  it('gives the capacity left after a class to the next class, max-min fair within it', () => {
    // critical 1 + 1 + 2 = 4 of 20; high asks 3, 10, 10 of the 16 left: 3 in full, 6.5 each for the rest
    const shares = alloc(20, { a: d(1, 3), b: d(1, 10), c: d(2, 10) });
    expect(shares.a).toBe(1 + 3);
    expect([shares.b - 1, shares.c - 2].sort()).toEqual([6, 7]);
    expect(sum(shares)).toBe(20);
  });

  it('splits a class whose demand exceeds the capacity fairly: small demands in full, the rest evenly', () => {
    expect(alloc(10, { a: d(2), b: d(20), c: d(20) })).toEqual({ a: 2, b: 4, c: 4 });
    expect(alloc(9, { a: d(20), b: d(20), c: d(20) })).toEqual({ a: 3, b: 3, c: 3 });
  });

  it('gives the slots an even split leaves over one each in id order (ties by id), whatever order the view lists them in', () => {
    expect(alloc(10, { c: d(20), a: d(20), b: d(20) })).toEqual({ a: 4, b: 3, c: 3 });
    expect(alloc(10, { b: d(20), c: d(20), a: d(20) })).toEqual({ a: 4, b: 3, c: 3 });
  });

  it('spreads the capacity left after all demand equally, so an idle replica keeps room for new arrivals', () => {
    // floors 1 each, a's second high request, then the 28 left: 9 each, the one over to a
    expect(alloc(32, { a: d(0, 2), b: d(), c: d() })).toEqual({ a: 12, b: 10, c: 10 });
    expect(alloc(8, { a: d(), b: d(), c: d() })).toEqual({ a: 3, b: 3, c: 2 });
  });

  it('keeps a floor of one slot for a replica with no demand while another asks for everything', () => {
    const shares = alloc(16, { a: d(100), b: d(), c: d() });
    expect(shares).toEqual({ a: 14, b: 1, c: 1 });
  });

  it('counts the floor toward the demand: a replica asking for one slot gets one, not two', () => {
    expect(alloc(4, { a: d(1), b: d(10) })).toEqual({ a: 1, b: 3 });
  });

  it('gives floors in id order while slots last when there are fewer slots than replicas', () => {
    expect(alloc(2, { c: d(5), b: d(5), a: d(5) })).toEqual({ a: 1, b: 1, c: 0 });
  });

  it('gives a replica that publishes no demand (an older version) its equal share, as it takes it itself', () => {
    // 3 replicas, 32 slots: b publishes nothing and takes equalShare(32, rank 1, 3) = 11
    const shares = alloc(32, { a: d(30), b: undefined, c: d(1) });
    expect(shares.b).toBe(equalShare(32, 1, 3));
    expect(shares).toEqual({ a: 20, b: 11, c: 1 });
    // nobody publishes: the equal split
    expect(alloc(32, { a: undefined, b: undefined, c: undefined })).toEqual({ a: 11, b: 11, c: 10 });
  });

  it('gives a slot a fair split leaves over to a replica still asking, never to one that asks for nothing', () => {
    // floors 1 each; the one slot left goes to c's critical demand, not to a or b (first by id, asking nothing more)
    expect(alloc(4, { a: d(), b: d(1), c: d(5) })).toEqual({ a: 1, b: 1, c: 2 });
  });

  it('gives no replica more than its demand in a class when the split takes several rounds', () => {
    // floors 1 + 1, then critical: a needs 1 more, b 4 more, 6 left: a 1, b 3, then b its last 1; the 1 left over to a
    expect(alloc(8, { a: d(2), b: d(5) })).toEqual({ a: 3, b: 5 });
  });

  it('gives what is left after all demand back toward the replicas\' current shares before spreading it', () => {
    const view = (a: number, b: number): ReplicaView[] => [
      { id: 'a', demand: d(), current: a },
      { id: 'b', demand: d(), current: b },
    ];
    expect(Object.fromEntries(allocateShares(12, view(8, 4)))).toEqual({ a: 8, b: 4 });
    // current shares beyond the capacity (a member lost): back toward them max-min fair, nothing beyond
    expect(Object.fromEntries(allocateShares(6, view(8, 4)))).toEqual({ a: 3, b: 3 });
    // demand first: b's 5 critical requests move 1 slot from a's current 8
    expect(Object.fromEntries(allocateShares(12, [{ id: 'a', demand: d(), current: 8 }, { id: 'b', demand: d(5), current: 4 }]))).toEqual({ a: 7, b: 5 });
  });

  it('orders the replicas by id whatever order the view lists them in (many replicas)', () => {
    const ids = ['e', 'd', 'c', 'b', 'a'];
    // 7 slots, no demand: floors, then 2 left over: a and b (first by id)
    expect(alloc(7, Object.fromEntries(ids.map((id) => [id, d()])))).toEqual({ a: 2, b: 2, c: 1, d: 1, e: 1 });
  });

  it('answers 0 for everyone without capacity, and nothing for an empty view', () => {
    expect(alloc(0, { a: d(3), b: d(1) })).toEqual({ a: 0, b: 0 });
    expect(alloc(-2, { a: d(3) })).toEqual({ a: 0 });
    expect(allocateShares(10, []).size).toBe(0);
  });

  it('ignores negative demand (a bad entry) rather than handing slots back', () => {
    // floors 1 + 1, b's second request, the 3 left spread (a, by id, the one over)
    expect(alloc(6, { a: d(-5, -5), b: d(2) })).toEqual({ a: 3, b: 3 });
  });

  it('always sums to exactly the capacity, gives no one more than its demand while another\'s higher class is short, and is deterministic', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const n = 1 + rnd(8);
      const capacity = rnd(60);
      const view: Record<string, ClassDemand> = {};
      for (let i = 0; i < n; i++) view[`r${rnd(1000)}-${i}`] = d(rnd(12), rnd(12), rnd(12), rnd(12));
      const shares = alloc(capacity, view);
      expect(sum(shares)).toBe(capacity);
      expect(alloc(capacity, Object.fromEntries(Object.entries(view).reverse()))).toEqual(shares);
      // class order: if some replica's critical demand is not met, every share is its critical demand at most (or its floor)
      const criticalShort = Object.entries(view).some(([id, v]) => shares[id] < v.critical);
      if (criticalShort) for (const [id, v] of Object.entries(view)) expect(shares[id]).toBeLessThanOrEqual(Math.max(1, v.critical));
    }
  });
});

describe('shortfallThrough: what a replica is short of by class order', () => {
  it('counts the demand of a class and every more urgent one beyond the share, none when the share holds it', () => {
    const demand = { critical: 3, high: 4, medium: 5, low: 6 };
    expect(shortfallThrough(demand, 2, 'critical')).toBe(1);
    expect(shortfallThrough(demand, 2, 'high')).toBe(5);
    expect(shortfallThrough(demand, 2, 'low')).toBe(16);
    expect(shortfallThrough(demand, 3, 'critical')).toBe(0);
    expect(shortfallThrough(demand, 20, 'low')).toBe(0);
  });

  it('ignores negative demand and a negative share (a bad entry)', () => {
    expect(shortfallThrough({ critical: -5, high: 2, medium: 0, low: 0 }, -1, 'high')).toBe(2);
  });
});

describe('equalShare and roundRobinParts: what a replica takes without demand', () => {
  it('gives the first capacity mod n replicas one more, nothing without capacity or replicas', () => {
    expect([0, 1, 2].map((rank) => equalShare(32, rank, 3))).toEqual([11, 11, 10]);
    expect(equalShare(30, 2, 3)).toBe(10);
    expect(equalShare(0, 0, 3)).toBe(0);
    expect(equalShare(-4, 0, 3)).toBe(0);
    expect(equalShare(8, 0, 0)).toBe(0);
  });

  it('deals slot i of the pool to replica i mod n, its parts adding up to its equal share', () => {
    expect([0, 1, 2].map((rank) => roundRobinParts([8, 8, 8, 8], rank, 3))).toEqual([
      [3, 3, 2, 3],
      [3, 2, 3, 3],
      [2, 3, 3, 2],
    ]);
    expect(roundRobinParts([2, -1, 3], 1, 2)).toEqual([1, 0, 1]);
  });
});

describe('dealMemberParts: each replica\'s part of each member\'s slots, by the replicas\' shares', () => {
  const check = (slots: number[], weights: number[]) => {
    const parts = dealMemberParts(slots, weights);
    const total = slots.reduce((a, b) => a + b, 0);
    const assigned = weights.reduce((a, b) => a + b, 0);
    // a member's parts add up to its slots (at most, when the weights do not cover the pool)
    slots.forEach((s, m) => {
      const dealt = parts.reduce((n, p) => n + p[m], 0);
      if (assigned >= total) expect(dealt).toBe(s);
      else expect(dealt).toBeLessThanOrEqual(s);
    });
    // a replica's parts add up to its weight when the weights do not exceed the pool's slots
    if (assigned <= total) parts.forEach((p, r) => expect(p.reduce((a, b) => a + b, 0)).toBe(weights[r]));
    // beyond the slots (floors): no replica more than its weight, and every slot dealt
    if (assigned > total) {
      parts.forEach((p, r) => expect(p.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(weights[r]));
      expect(parts.flat().reduce((a, b) => a + b, 0)).toBe(total);
      // in proportion to the weights, within a slot
      parts.forEach((p, r) => expect(Math.abs(p.reduce((a, b) => a + b, 0) - (weights[r] * total) / assigned)).toBeLessThan(1));
    }
    // spread over the members in proportion to their slots, less than a slot off at each end of a member
    parts.forEach((p, r) => slots.forEach((s, m) => expect(Math.abs(p[m] - (weights[r] * s) / Math.max(total, assigned))).toBeLessThan(2)));
    return parts;
  };

  it('deals equal weights round robin: slot i of the pool to replica i mod n', () => {
    expect(check([8, 8, 8, 8], [11, 11, 10])).toEqual([
      [3, 3, 2, 3],
      [3, 2, 3, 3],
      [2, 3, 3, 2],
    ]);
    expect(dealMemberParts([8, 8, 8, 8], [32])).toEqual([[8, 8, 8, 8]]);
  });

  it('spreads an uneven share over the members instead of piling it on one', () => {
    // the critical replica's 12 of 16 slots over two 8-slot members: 6 and 6, the others 1 and 1
    expect(check([8, 8], [2, 2, 12])).toEqual([
      [1, 1],
      [1, 1],
      [6, 6],
    ]);
  });

  it('keeps member and replica sums for many pools and weights', () => {
    for (const [slots, weights] of [
      [[8, 8, 8, 8], [20, 1, 11]],
      [[256, 256, 256], Array.from({ length: 20 }, (_, i) => (i < 8 ? 39 : 38))],
      [[3, 5, 1, 7], [1, 1, 13, 1]],
      [[2], [1, 1, 0]],
      [[8, 0, 8], [9, 7]],
      [[8, 8], [3, 3]], // weights short of the slots (a replica's grant not yet taken): the rest to nobody
      [[4, 4], [6, 6]], // weights beyond the slots (floors): members still get no more than their slots
      [[4, 4], [9, 3]],
      [[4, 4], [1]], // one replica's small weight: its slot, the rest to nobody
    ] as Array<[number[], number[]]>)
      check(slots, weights);
  });

  it('deals nothing from a pool without slots', () => {
    expect(dealMemberParts([0, 0], [3, 3])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(dealMemberParts([], [3])).toEqual([[]]);
  });
});
