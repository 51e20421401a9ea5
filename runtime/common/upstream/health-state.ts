/**
 * Threshold logic of active health checks: `unhealthyThreshold` failed probes in a row mark an
 * upstream unhealthy, `healthyThreshold` good probes in a row mark it healthy again. Upstreams
 * start healthy so a fresh proxy serves before the first probe round.
 */
export class HealthState {
  private healthyNow = true;
  private streak = 0;

  constructor(
    private readonly unhealthyThreshold: number,
    private readonly healthyThreshold: number,
  ) {}

  get healthy(): boolean {
    return this.healthyNow;
  }

  /**
   * Passive evidence that the member is gone (a connection refused: nothing listens at its
   * address): unhealthy at once, back after `healthyThreshold` good probes like any unhealthy
   * member. Returns true when the verdict changed.
   */
  markDown(): boolean {
    this.streak = 0;
    if (!this.healthyNow) return false;
    this.healthyNow = false;
    return true;
  }

  /** Records one probe; returns true when the verdict changed. */
  record(ok: boolean): boolean {
    if (ok === this.healthyNow) {
      this.streak = 0;
      return false;
    }
    this.streak++;
    const needed = ok ? this.healthyThreshold : this.unhealthyThreshold;
    if (this.streak < needed) return false;
    this.healthyNow = ok;
    this.streak = 0;
    return true;
  }
}
