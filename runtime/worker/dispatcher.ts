import { PriorityClass } from '../../contract/priority';
import { PriorityBuffer } from './priority-buffer';

/**
 * Bounded concurrency with priority: at most `concurrency` jobs run at once (a semaphore), and
 * whenever a slot frees the highest-class buffered delivery takes it. The `run` function does
 * the I/O; the dispatcher only decides what starts when. Once `stop()` is called it starts
 * nothing new, and `idle()` resolves when the running jobs are done.
 */
export class JobDispatcher<T> {
  private readonly buffer = new PriorityBuffer<T>();
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (item: T, cls: PriorityClass) => Promise<void>,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new Error(`JobDispatcher: concurrency must be a positive integer, got ${concurrency}`);
    }
  }

  get inFlight(): number {
    return this.running;
  }

  get buffered(): number {
    return this.buffer.size;
  }

  bufferedOf(cls: PriorityClass): number {
    return this.buffer.sizeOf(cls);
  }

  offer(cls: PriorityClass, item: T): void {
    this.buffer.push(cls, item);
    this.pump();
  }

  /** Takes buffered (not started) items out, e.g. to give them back to the broker. */
  takeBuffered(predicate: (item: T) => boolean = () => true): T[] {
    return this.buffer.removeWhere(predicate);
  }

  /** Starts nothing more. Buffered items stay until taken. */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when no job is running. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.concurrency) {
      const next = this.buffer.shift();
      if (!next) return;
      this.running++;
      void this.run(next.item, next.cls)
        .catch(() => undefined) // `run` handles its own failures; a throw must not leak a slot
        .finally(() => {
          this.running--;
          if (this.running === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
          }
          this.pump();
        });
    }
  }
}
