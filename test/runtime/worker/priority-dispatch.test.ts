import { PriorityBuffer } from '../../../runtime/worker/priority-buffer';
import { JobDispatcher } from '../../../runtime/worker/dispatcher';
import { PriorityClass } from '../../../contract/priority';

describe('PriorityBuffer', () => {
  it('hands out the highest class first and keeps FIFO order within a class', () => {
    const buffer = new PriorityBuffer<string>();
    buffer.push('low', 'l1');
    buffer.push('medium', 'm1');
    buffer.push('low', 'l2');
    buffer.push('critical', 'c1');
    buffer.push('high', 'h1');
    buffer.push('critical', 'c2');
    const order: string[] = [];
    for (let next = buffer.shift(); next; next = buffer.shift()) order.push(next.item);
    expect(order).toEqual(['c1', 'c2', 'h1', 'm1', 'l1', 'l2']);
    expect(buffer.size).toBe(0);
  });

  it('removes matching items from every class and keeps the count right', () => {
    const buffer = new PriorityBuffer<{ ch: number; id: string }>();
    buffer.push('low', { ch: 1, id: 'a' });
    buffer.push('high', { ch: 2, id: 'b' });
    buffer.push('high', { ch: 1, id: 'c' });
    const removed = buffer.removeWhere((x) => x.ch === 1);
    expect(removed.map((x) => x.id).sort()).toEqual(['a', 'c']);
    expect(buffer.size).toBe(1);
    expect(buffer.sizeOf('high')).toBe(1);
    expect(buffer.shift()?.item.id).toBe('b');
  });
});

describe('JobDispatcher', () => {
  function controlled(): { run: (item: string) => Promise<void>; started: string[]; finish: (item: string) => void } {
    const started: string[] = [];
    const pending = new Map<string, () => void>();
    return {
      started,
      run: (item) =>
        new Promise<void>((resolve) => {
          started.push(item);
          pending.set(item, resolve);
        }),
      finish: (item) => pending.get(item)!(),
    };
  }
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  it('never runs more than its concurrency at once', async () => {
    const c = controlled();
    const d = new JobDispatcher<string>(2, c.run);
    for (const id of ['a', 'b', 'c', 'd']) d.offer('medium', id);
    expect(c.started).toEqual(['a', 'b']);
    expect(d.inFlight).toBe(2);
    expect(d.buffered).toBe(2);
    c.finish('a');
    await tick();
    expect(c.started).toEqual(['a', 'b', 'c']);
    expect(d.inFlight).toBe(2);
  });

  it('gives a freed slot to a critical job that arrived after queued low ones', async () => {
    const c = controlled();
    const d = new JobDispatcher<string>(1, c.run);
    d.offer('low', 'low-1');
    d.offer('low', 'low-2');
    d.offer('low', 'low-3');
    d.offer('critical', 'crit-1');
    expect(c.started).toEqual(['low-1']);
    c.finish('low-1');
    await tick();
    expect(c.started).toEqual(['low-1', 'crit-1']);
  });

  it('starts nothing after stop, and idle() waits for the running jobs', async () => {
    const c = controlled();
    const d = new JobDispatcher<string>(1, c.run);
    d.offer('high', 'x');
    d.offer('high', 'y');
    d.stop();
    let idle = false;
    void d.idle().then(() => (idle = true));
    await tick();
    expect(idle).toBe(false);
    c.finish('x');
    await tick();
    await tick();
    expect(idle).toBe(true);
    expect(c.started).toEqual(['x']);
    expect(d.takeBuffered()).toEqual(['y']);
  });

  it('frees the slot when a job throws', async () => {
    const classes: PriorityClass[] = [];
    const d = new JobDispatcher<string>(1, async (_item, cls) => {
      classes.push(cls);
      throw new Error('boom');
    });
    d.offer('low', 'a');
    d.offer('high', 'b');
    await d.idle();
    await tick();
    await d.idle();
    expect(classes).toEqual(['low', 'high']);
    expect(d.inFlight).toBe(0);
  });

  it('rejects a concurrency below one', () => {
    expect(() => new JobDispatcher<string>(0, async () => undefined)).toThrow(/concurrency must be a positive integer, got 0/);
  });
});
