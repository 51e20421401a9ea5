import { PRIORITY_CLASSES, PriorityClass, priorityRank } from '../../contract/priority';

/**
 * The worker's local buffer of received, not yet started deliveries, one FIFO per class.
 * `shift` always takes from the highest non-empty class, so a critical job that arrives while
 * low jobs wait locally is started next. Pure data structure; knows nothing of AMQP.
 */
export class PriorityBuffer<T> {
  private readonly lanes: T[][] = PRIORITY_CLASSES.map(() => []);
  private count = 0;

  get size(): number {
    return this.count;
  }

  sizeOf(cls: PriorityClass): number {
    return this.lanes[priorityRank(cls)]!.length;
  }

  push(cls: PriorityClass, item: T): void {
    this.lanes[priorityRank(cls)]!.push(item);
    this.count++;
  }

  /** The oldest item of the highest non-empty class. */
  shift(): { cls: PriorityClass; item: T } | undefined {
    for (let rank = 0; rank < this.lanes.length; rank++) {
      const lane = this.lanes[rank]!;
      if (lane.length > 0) {
        this.count--;
        return { cls: PRIORITY_CLASSES[rank]!, item: lane.shift()! };
      }
    }
    return undefined;
  }

  /** Removes the items matching `predicate` (e.g. those of a closed channel) and returns them. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (let rank = 0; rank < this.lanes.length; rank++) {
      const keep: T[] = [];
      for (const item of this.lanes[rank]!) (predicate(item) ? removed : keep).push(item);
      this.lanes[rank] = keep;
    }
    this.count -= removed.length;
    return removed;
  }

  /** Empties the buffer, highest class first. */
  drain(): T[] {
    return this.removeWhere(() => true);
  }
}
