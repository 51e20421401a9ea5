import { UpstreamEvents } from './events';
import { Upstream } from './upstream';
import { UpstreamPool } from './upstream-pool';

/**
 * Active health checks: every `intervalMs`, GET the pool's health path on each member with
 * `timeoutMs`; the member's HealthState applies the thresholds. Timers are unref'd so they never
 * keep a process alive, and a probe never overlaps the previous one of the same member.
 */
export class ActiveHealthChecker {
  private readonly timers = new Map<Upstream, NodeJS.Timeout[]>();
  private stopped = false;

  constructor(
    private readonly pools: readonly UpstreamPool[],
    private readonly events?: UpstreamEvents,
  ) {}

  start(): void {
    for (const pool of this.pools) {
      const cfg = pool.config.health;
      if (!cfg.enabled) continue;
      // spread the first probes over the interval so a large pool does not probe in bursts
      pool.members.forEach((upstream, i) => this.watch(pool, upstream, Math.floor((cfg.intervalMs * i) / Math.max(1, pool.members.length))));
      pool.onMembershipChange(({ added, removed }) => {
        if (this.stopped) return;
        for (const u of removed) this.unwatch(u);
        for (const u of added) this.watch(pool, u, Math.floor(Math.random() * cfg.intervalMs));
      });
    }
  }

  private watch(pool: UpstreamPool, upstream: Upstream, delayMs: number): void {
    const cfg = pool.config.health;
    let running = false;
    const tick = async () => {
      if (running || this.stopped || upstream.removed) return;
      running = true;
      try {
        await this.probe(pool, upstream);
      } finally {
        running = false;
      }
    };
    const timers: NodeJS.Timeout[] = [];
    const first = setTimeout(() => {
      void tick();
      const t = setInterval(() => void tick(), cfg.intervalMs);
      t.unref();
      timers.push(t);
    }, delayMs);
    first.unref();
    timers.push(first);
    this.timers.set(upstream, timers);
  }

  private unwatch(upstream: Upstream): void {
    for (const t of this.timers.get(upstream) ?? []) clearTimeout(t);
    this.timers.delete(upstream);
  }

  /** Probes one member once and applies the verdict; returns whether the probe succeeded. */
  async probe(pool: UpstreamPool, upstream: Upstream): Promise<boolean> {
    const cfg = pool.config.health;
    let ok = false;
    try {
      const reply = await pool.client(upstream).send({
        method: 'GET',
        path: cfg.path,
        headers: upstream.headers,
        signal: AbortSignal.timeout(cfg.timeoutMs),
      });
      ok = reply.statusCode >= 200 && reply.statusCode < 300;
      await reply.body.dump?.({ limit: 16 * 1024 }).catch(() => undefined);
    } catch {
      ok = false;
    }
    if (!this.stopped && upstream.health.record(ok)) {
      this.events?.onHealthChange?.(pool.name, upstream.name, ok);
      pool.servingChanged();
    }
    return ok;
  }

  stop(): void {
    this.stopped = true;
    for (const u of [...this.timers.keys()]) this.unwatch(u);
  }
}
