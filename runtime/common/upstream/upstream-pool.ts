import { Clock, RandomSource } from '../clock';
import { PoolConfig } from '../config/upstream';
import { resolveSecret } from '../config/secrets';
import { Balancer, createBalancer } from './balancers';
import { UpstreamEvents } from './events';
import { UpstreamHttpClient } from './http-client';
import { OutlierDetector } from './outlier-detector';
import { Upstream } from './upstream';

export interface UpstreamPoolDeps {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly env: NodeJS.ProcessEnv;
  readonly events?: UpstreamEvents;
}

/**
 * A named pool: its members, their HTTP clients, its balancer and its outlier detector. It
 * answers "which members may take a request now?"; the dispatcher decides what to do with that.
 */
export class UpstreamPool {
  readonly members: readonly Upstream[];
  readonly balancer: Balancer;
  readonly outliers: OutlierDetector;
  private readonly clients = new Map<Upstream, UpstreamHttpClient>();
  private readonly clock: Clock;

  constructor(
    readonly name: string,
    readonly config: PoolConfig,
    deps: UpstreamPoolDeps,
  ) {
    this.clock = deps.clock;
    const events = deps.events;
    this.members = config.upstreams.map((u, i) => {
      const path = `pools.${name}.upstreams[${i}]`;
      const headers: Record<string, string> = {};
      for (const [h, ref] of Object.entries(u.headers)) headers[h.toLowerCase()] = resolveSecret(ref, deps.env, `${path}.headers.${h}`);
      if (u.apiKey !== undefined) headers.authorization = `Bearer ${resolveSecret(u.apiKey, deps.env, `${path}.apiKey`)}`;
      return new Upstream(name, u, headers, config.circuitBreaker, config.health, deps.clock, (up, to, from) =>
        events?.onBreakerStateChange?.(name, up.name, to, from),
      );
    });
    const names = new Set<string>();
    for (const m of this.members) {
      if (names.has(m.name)) throw new Error(`pools.${name}: two upstreams are named ${m.name}; give them distinct names`);
      names.add(m.name);
    }
    this.balancer = createBalancer(config.balancer, this.members, deps.random);
    this.outliers = new OutlierDetector(config.outlierDetection, this.members, deps.clock, (t, ms) =>
      events?.onEjection?.(name, (t as Upstream).name, ms),
    );
    config.upstreams.forEach((u, i) =>
      this.clients.set(this.members[i], new UpstreamHttpClient(this.members[i].origin, config.timeouts, u.connections)),
    );
  }

  client(upstream: Upstream): UpstreamHttpClient {
    const c = this.clients.get(upstream);
    if (!c) throw new Error(`upstream ${upstream.name} is not a member of pool ${this.name}`);
    return c;
  }

  /** Whether a member may take a request now: healthy, not ejected, not cooling, breaker admits. */
  isAvailable(u: Upstream): boolean {
    return u.healthy && !this.outliers.isEjected(u) && u.coolingUntil <= this.clock.now() && u.breaker.canAttempt();
  }

  /** Available members not in `exclude`. */
  available(exclude: ReadonlySet<Upstream>): Upstream[] {
    const out: Upstream[] = [];
    for (const u of this.members) if (!exclude.has(u) && this.isAvailable(u)) out.push(u);
    return out;
  }

  /** At least one member passes active health checks (readiness). */
  hasHealthyMember(): boolean {
    return this.members.some((u) => u.healthy);
  }

  /** Requests in flight over all members. */
  get outstanding(): number {
    let n = 0;
    for (const u of this.members) n += u.outstanding;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}
