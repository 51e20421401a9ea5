import type { PriorityClass } from '../../../../contract/priority';
import { PriorityWaitQueue, type QueueEntry } from '../../../../runtime/proxy/admission/priority-queue';

type Named = QueueEntry & { readonly name: string };
let seq = 0;
const entry = (cls: PriorityClass, name = `${cls}-${seq}`): Named => ({ cls, name, deadlineAt: 0, enqueuedAt: 0, seq: seq++ });
const names = (q: PriorityWaitQueue<Named>) => [...q.entries()].map((e) => e.name);

describe('PriorityWaitQueue', () => {
  it('is full at exactly maxSize and refuses a push then', () => {
    const q = new PriorityWaitQueue<Named>(2, 0);
    q.push(entry('low'));
    expect(q.isFull).toBe(false);
    q.push(entry('low'));
    expect(q.isFull).toBe(true);
    expect(q.size).toBe(2);
    expect(() => q.push(entry('critical'))).toThrow(/full queue; call victimFor first/);
  });

  it('serves strictly by class and FIFO within a class without a lower-class share', () => {
    const q = new PriorityWaitQueue<Named>(10, 0);
    for (const [cls, name] of [['low', 'l1'], ['high', 'h1'], ['low', 'l2'], ['critical', 'c1'], ['high', 'h2']] as const) q.push(entry(cls, name));
    expect(names(q)).toEqual(['c1', 'h1', 'h2', 'l1', 'l2']);
    const served: string[] = [];
    while (q.size > 0) served.push(q.shift()!.name);
    expect(served).toEqual(['c1', 'h1', 'h2', 'l1', 'l2']);
    expect(q.shift()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });

  it('evicts the newest waiter of the lowest class strictly below the newcomer, or nothing', () => {
    const q = new PriorityWaitQueue<Named>(10, 0);
    const [m1, m2, l1, l2] = [entry('medium'), entry('medium'), entry('low'), entry('low')];
    for (const e of [m1, m2, l1, l2]) q.push(e);
    expect(q.victimFor('critical')).toBe(l2);
    expect(q.victimFor('medium')).toBe(l2);
    expect(q.victimFor('low')).toBeUndefined();
    q.remove(l1);
    q.remove(l2);
    expect(q.victimFor('high')).toBe(m2);
    expect(q.victimFor('medium')).toBeUndefined();
  });

  it('removes an entry once and says whether it was there', () => {
    const q = new PriorityWaitQueue<Named>(10, 0);
    const e = entry('high');
    q.push(e);
    expect(q.remove(e)).toBe(true);
    expect(q.remove(e)).toBe(false);
    expect(q.size).toBe(0);
    expect(q.sizeOf('high')).toBe(0);
  });

  it('hands every second dispatch to the oldest lower-class waiter with a share of 0.5, across lower classes by arrival', () => {
    const q = new PriorityWaitQueue<Named>(20, 0.5);
    for (const [cls, name] of [['low', 'l1'], ['medium', 'm1'], ['critical', 'c1'], ['critical', 'c2'], ['critical', 'c3'], ['critical', 'c4']] as const) q.push(entry(cls, name));
    const served: string[] = [];
    while (q.size > 0) served.push(q.shift()!.name);
    // l1 arrived before m1, so it is the oldest below the top class
    expect(served).toEqual(['c1', 'l1', 'c2', 'm1', 'c3', 'c4']);
  });

  it('hands the lower-class turn to the oldest waiter below the top even when the older one is of the higher lower class', () => {
    const q = new PriorityWaitQueue<Named>(20, 0.5);
    for (const [cls, name] of [['medium', 'm1'], ['low', 'l1'], ['critical', 'c1'], ['critical', 'c2'], ['critical', 'c3']] as const) q.push(entry(cls, name));
    const served: string[] = [];
    while (q.size > 0) served.push(q.shift()!.name);
    expect(served).toEqual(['c1', 'm1', 'c2', 'l1', 'c3']);
  });

  it('shares dispatches below the highest class waiting when that is not critical', () => {
    const q = new PriorityWaitQueue<Named>(20, 0.5);
    for (const [cls, name] of [['high', 'h1'], ['high', 'h2'], ['high', 'h3'], ['high', 'h4'], ['low', 'l1']] as const) q.push(entry(cls, name));
    const served: string[] = [];
    while (q.size > 0) served.push(q.shift()!.name);
    // h1 earns half a turn, so the second dispatch is l1's; high is the top class, never the "lower" one
    expect(served).toEqual(['h1', 'l1', 'h2', 'h3', 'h4']);
  });

  it('earns no credit while nothing lower waits, so a lower waiter arriving later waits its turn', () => {
    const q = new PriorityWaitQueue<Named>(20, 0.5);
    for (const name of ['c1', 'c2', 'c3']) q.push(entry('critical', name));
    const first = q.shift()!;
    const second = q.shift()!;
    q.push(entry('low', 'l1'));
    expect([first.name, second.name, q.shift()!.name, q.shift()!.name]).toEqual(['c1', 'c2', 'c3', 'l1']);
  });

  it('counts the waiters served before an entry under strict priority', () => {
    const q = new PriorityWaitQueue<Named>(10, 0);
    const [c1, h1, h2, l1] = [entry('critical'), entry('high'), entry('high'), entry('low')];
    for (const e of [c1, h1, h2, l1]) q.push(e);
    expect([q.ahead(c1), q.ahead(h1), q.ahead(h2), q.ahead(l1)]).toEqual([0, 1, 2, 3]);
    expect(q.ahead(entry('high'))).toBe(3); // not queued: behind every high
  });

  it('lists its entries as a snapshot, so a caller may remove each one while iterating (the deadline sweep does)', () => {
    const q = new PriorityWaitQueue<Named>(10, 0);
    for (const [cls, name] of [['high', 'h1'], ['high', 'h2'], ['high', 'h3'], ['low', 'l1']] as const) q.push(entry(cls, name));
    const visited: string[] = [];
    for (const e of q.entries()) {
      visited.push(e.name);
      q.remove(e);
    }
    expect(visited).toEqual(['h1', 'h2', 'h3', 'l1']);
    expect(q.size).toBe(0);
  });
});
