import { Clock } from '../clock';
import { OutlierDetectionConfig } from '../config/upstream';

/** What the outlier detector tracks per upstream (kept on the upstream itself). */
export interface OutlierTarget {
  consecutiveFailures: number;
  ejectedUntil: number;
  timesEjected: number;
  /** Active-health verdict; unhealthy members count as unavailable when protecting the pool. */
  readonly healthy: boolean;
}

/**
 * Passive outlier detection for one pool: `consecutiveFailures` 5xx responses or connect
 * failures in a row eject an upstream for `baseEjectionMs x times ejected` (capped). It never
 * ejects more than `maxEjectionPercent` of the pool, nor the last available member.
 */
export class OutlierDetector {
  constructor(
    private readonly config: OutlierDetectionConfig,
    /** The pool's members, or a function answering its current members (they change with discovery). */
    private readonly members: readonly OutlierTarget[] | (() => readonly OutlierTarget[]),
    private readonly clock: Clock,
    private readonly onEject?: (target: OutlierTarget, durationMs: number) => void,
  ) {}

  isEjected(target: OutlierTarget): boolean {
    return target.ejectedUntil > this.clock.now();
  }

  onSuccess(target: OutlierTarget): void {
    target.consecutiveFailures = 0;
  }

  /** Counts a failure; returns true when it ejected the upstream. */
  onFailure(target: OutlierTarget): boolean {
    target.consecutiveFailures++;
    if (target.consecutiveFailures < this.config.consecutiveFailures || this.isEjected(target)) return false;
    if (!this.mayEject()) return false;
    target.timesEjected++;
    const duration = Math.min(this.config.maxEjectionMs, this.config.baseEjectionMs * target.timesEjected);
    target.ejectedUntil = this.clock.now() + duration;
    target.consecutiveFailures = 0;
    this.onEject?.(target, duration);
    return true;
  }

  private mayEject(): boolean {
    let ejected = 0;
    let available = 0;
    const members = typeof this.members === 'function' ? this.members() : this.members;
    for (const m of members) {
      if (this.isEjected(m)) ejected++;
      else if (m.healthy) available++;
    }
    const maxEjected = Math.floor((this.config.maxEjectionPercent / 100) * members.length);
    return ejected + 1 <= maxEjected && available > 1;
  }
}
