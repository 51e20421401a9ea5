import { PRIORITY_CLASSES, priorityRank, type PriorityClass } from '../../../contract/priority';

export interface QueueEntry {
  readonly cls: PriorityClass;
  /** Absolute deadline on the admission clock. */
  readonly deadlineAt: number;
  readonly enqueuedAt: number;
  /** Arrival order, for FIFO within a class and "oldest" across classes. */
  readonly seq: number;
}

/**
 * Bounded priority wait queue: strict by class, FIFO within a class, with a small share of
 * dispatches handed to the oldest waiter of a lower class so lower classes are never starved
 * forever. Knows nothing of time or promises; the admission controller drives it.
 */
export class PriorityWaitQueue<E extends QueueEntry> {
  private readonly lanes: E[][] = PRIORITY_CLASSES.map(() => []);
  private credit = 0;
  private count = 0;

  constructor(
    readonly maxSize: number,
    private readonly lowerClassShare: number,
  ) {}

  get size(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxSize;
  }

  sizeOf(cls: PriorityClass): number {
    return this.lanes[priorityRank(cls)].length;
  }

  /** Adds an entry; the caller makes room first (see `victimFor`). */
  push(entry: E): void {
    if (this.isFull) throw new Error('PriorityWaitQueue.push on a full queue; call victimFor first');
    this.lanes[priorityRank(entry.cls)].push(entry);
    this.count++;
  }

  /**
   * The entry to evict so that a request of class `cls` can enter a full queue: the newest
   * waiter of the lowest class strictly below `cls`, or undefined when nothing lower waits
   * (then the newcomer itself is the one to shed).
   */
  victimFor(cls: PriorityClass): E | undefined {
    for (let rank = this.lanes.length - 1; rank > priorityRank(cls); rank--) {
      const lane = this.lanes[rank];
      if (lane.length > 0) return lane[lane.length - 1];
    }
    return undefined;
  }

  remove(entry: E): boolean {
    const lane = this.lanes[priorityRank(entry.cls)];
    const i = lane.indexOf(entry);
    if (i < 0) return false;
    lane.splice(i, 1);
    this.count--;
    return true;
  }

  /** The entry the next free slot should go to, without removing it. */
  peek(): E | undefined {
    const top = this.lanes.findIndex((l) => l.length > 0);
    if (top < 0) return undefined;
    if (this.credit + this.lowerClassShare >= 1) {
      const lower = this.oldestBelow(top);
      if (lower) return lower;
    }
    return this.lanes[top][0];
  }

  /**
   * Removes and returns the next entry to serve. Every dispatch while a lower class waits
   * earns `lowerClassShare` credit; a whole credit buys one dispatch for the oldest waiter of
   * a class below the highest one waiting.
   */
  shift(): E | undefined {
    const entry = this.peek();
    if (!entry) return undefined;
    const top = this.lanes.findIndex((l) => l.length > 0);
    if (priorityRank(entry.cls) > top) this.credit -= 1;
    if (this.oldestBelow(top)) this.credit = Math.min(1, this.credit + this.lowerClassShare);
    this.remove(entry);
    return entry;
  }

  /** Number of waiters that will be served before `entry` under strict priority. */
  ahead(entry: E): number {
    const rank = priorityRank(entry.cls);
    let n = 0;
    for (let r = 0; r < rank; r++) n += this.lanes[r].length;
    const i = this.lanes[rank].indexOf(entry);
    return n + (i < 0 ? this.lanes[rank].length : i);
  }

  /** Every entry, highest class first, FIFO within a class. */
  *entries(): IterableIterator<E> {
    for (const lane of this.lanes) yield* lane.slice();
  }

  private oldestBelow(top: number): E | undefined {
    let oldest: E | undefined;
    for (let r = top + 1; r < this.lanes.length; r++) {
      const head = this.lanes[r][0];
      if (head && (!oldest || head.seq < oldest.seq)) oldest = head;
    }
    return oldest;
  }
}
