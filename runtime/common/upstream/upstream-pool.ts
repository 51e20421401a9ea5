import { Clock, RandomSource } from '../clock';
import { DiscoveryConfig, PoolConfig, UpstreamConfig } from '../config/upstream';
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

/** Members added and removed by one membership change. */
export interface MembershipChange {
  readonly added: readonly Upstream[];
  readonly removed: readonly Upstream[];
}

/**
 * A named pool: its members, their HTTP clients, its balancer and its outlier detector. It
 * answers "which members may take a request now?"; the dispatcher decides what to do with that.
 *
 * Members are the listed `upstreams` plus one per address each `discover` name resolves to
 * (`setDiscovered`, driven by MemberDiscovery). A member that discovery drops leaves `members`
 * at once (no new request picks it) and its connections close once its in-flight requests
 * finished; a new one is picked from the next request on. `members` is replaced, never
 * mutated, so a caller iterating it is never disturbed.
 */
export class UpstreamPool {
  private current: readonly Upstream[];
  private balancerNow: Balancer;
  readonly outliers: OutlierDetector;
  private readonly clients = new Map<Upstream, UpstreamHttpClient>();
  private readonly clock: Clock;
  private readonly staticMembers: readonly Upstream[];
  /** Members found per `discover` entry, by address. */
  private readonly discovered: Map<string, Upstream>[];
  private readonly listeners: ((change: MembershipChange) => void)[] = [];
  private readonly servingListeners: (() => void)[] = [];

  constructor(
    readonly name: string,
    readonly config: PoolConfig,
    private readonly deps: UpstreamPoolDeps,
  ) {
    this.clock = deps.clock;
    this.staticMembers = config.upstreams.map((u, i) => this.makeMember(u, `pools.${name}.upstreams[${i}]`));
    const names = new Set<string>();
    for (const m of this.staticMembers) {
      if (names.has(m.name)) throw new Error(`pools.${name}: two upstreams are named ${m.name}; give them distinct names`);
      names.add(m.name);
    }
    this.discovered = config.discover.map(() => new Map());
    this.current = this.staticMembers;
    this.balancerNow = createBalancer(config.balancer, this.current, deps.random);
    this.outliers = new OutlierDetector(config.outlierDetection, () => this.current, deps.clock, (t, ms) => {
      deps.events?.onEjection?.(name, (t as Upstream).name, ms);
      this.servingChanged();
    });
  }

  /** Current members (a new array after every membership change). */
  get members(): readonly Upstream[] {
    return this.current;
  }

  get balancer(): Balancer {
    return this.balancerNow;
  }

  /** Called after every membership change (discovery). */
  onMembershipChange(listener: (change: MembershipChange) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Sets the members of `discover[index]` to one per address. Unchanged addresses keep their
   * member (and its breaker, outlier and balancer state); new ones start healthy; dropped ones
   * get no new request and close their connections once idle.
   */
  setDiscovered(index: number, addresses: readonly string[]): MembershipChange {
    const source = this.config.discover[index];
    const byAddress = this.discovered[index];
    if (!source || !byAddress) throw new Error(`pools.${this.name}: no discover[${index}]`);
    const wanted = new Set(addresses);
    const added: Upstream[] = [];
    const removed: Upstream[] = [];
    for (const [address, member] of byAddress) {
      if (wanted.has(address)) continue;
      byAddress.delete(address);
      member.removed = true;
      removed.push(member);
    }
    for (const address of wanted) {
      if (byAddress.has(address)) continue;
      const member = this.makeDiscovered(source, index, address);
      byAddress.set(address, member);
      added.push(member);
    }
    if (added.length === 0 && removed.length === 0) return { added, removed };
    this.current = [...this.staticMembers, ...this.discovered.flatMap((m) => [...m.values()])];
    this.balancerNow = createBalancer(this.config.balancer, this.current, this.deps.random);
    for (const m of removed) {
      const client = this.clients.get(m);
      // undici's close lets the requests in flight finish before the connections go
      void client?.close().finally(() => this.clients.delete(m));
    }
    const change = { added, removed };
    for (const l of this.listeners) l(change);
    return change;
  }

  /**
   * Called whenever a member starts or stops serving (health verdict, breaker opened or closed,
   * ejection): what the pool can serve changed without a membership change. Admission hands
   * out the slots of a member back at once, and moves the requests waiting for a pool no member
   * serves any more on to the route's next pool at once, instead of at the next re-resolution.
   */
  onServingChange(listener: () => void): void {
    this.servingListeners.push(listener);
  }

  /** Tells the listeners that a member's serving state changed (see `onServingChange`). */
  servingChanged(): void {
    for (const l of this.servingListeners) l();
  }

  /**
   * An attempt found nothing listening at a member's address (connection refused): the pod or
   * process is gone, whatever DNS and the last probe said. With active health checks on, the
   * member is unhealthy at once (its slots leave the capacity now, not after
   * `unhealthyThreshold` probes or the next re-resolution) and the checks bring it back after
   * `healthyThreshold` good probes. Without them nothing could bring it back, so only the
   * breaker and outlier detection count the failure, as before. Returns whether it was marked.
   */
  markRefused(u: Upstream): boolean {
    if (!this.config.health.enabled || !u.health.markDown()) return false;
    this.deps.events?.onHealthChange?.(this.name, u.name, false);
    this.servingChanged();
    return true;
  }

  /** Whether a member counts towards the capacity now (see `isServing`). */
  hasServingMember(): boolean {
    return this.current.some((u) => this.isServing(u));
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

  /**
   * Whether a member counts towards the pool's capacity: healthy, not ejected, breaker not open.
   * A member cooling down after a Retry-After still has its slots (they are busy, not gone).
   */
  isServing(u: Upstream): boolean {
    return u.healthy && !this.outliers.isEjected(u) && u.breaker.state !== 'open';
  }

  /** Whether any member may take a request now (see `isAvailable`). */
  hasAvailableMember(): boolean {
    return this.current.some((u) => this.isAvailable(u));
  }

  /** Available members not in `exclude`. */
  available(exclude: ReadonlySet<Upstream>): Upstream[] {
    const out: Upstream[] = [];
    for (const u of this.current) if (!exclude.has(u) && this.isAvailable(u)) out.push(u);
    return out;
  }

  /**
   * Slots of the serving members, summed; `known` is false while a member has neither
   * configured nor learned slots (then the sum says nothing about the pool).
   */
  capacity(): { slots: number; known: boolean; serving: number } {
    let slots = 0;
    let known = true;
    let serving = 0;
    for (const u of this.current) {
      const s = u.knownSlots;
      if (s === undefined) known = false;
      if (!this.isServing(u)) continue;
      serving++;
      if (s !== undefined) slots += s;
    }
    return { slots, known, serving };
  }

  /** At least one member passes active health checks (readiness). */
  hasHealthyMember(): boolean {
    return this.current.some((u) => u.healthy);
  }

  /** Requests in flight over all members. */
  get outstanding(): number {
    let n = 0;
    for (const u of this.current) n += u.outstanding;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }

  private makeMember(u: UpstreamConfig, path: string, servername?: string): Upstream {
    const headers: Record<string, string> = {};
    for (const [h, ref] of Object.entries(u.headers)) headers[h.toLowerCase()] = resolveSecret(ref, this.deps.env, `${path}.headers.${h}`);
    if (u.apiKey !== undefined) headers.authorization = `Bearer ${resolveSecret(u.apiKey, this.deps.env, `${path}.apiKey`)}`;
    const events = this.deps.events;
    const member = new Upstream(this.name, u, headers, this.config.circuitBreaker, this.config.health, this.clock, (up, to, from) => {
      events?.onBreakerStateChange?.(this.name, up.name, to, from);
      // open and closed change what the member serves; half-open does not (`isServing`)
      if (to === 'open' || from === 'open') this.servingChanged();
    });
    this.clients.set(member, new UpstreamHttpClient(member.origin, this.config.timeouts, u.connections, servername, this.deps.env));
    return member;
  }

  private makeDiscovered(source: DiscoveryConfig, index: number, address: string): Upstream {
    const url = new URL(source.url);
    const host = url.hostname;
    url.hostname = address.includes(':') ? `[${address}]` : address;
    const config: UpstreamConfig = { ...source, url: url.origin, name: url.host };
    return this.makeMember(config, `pools.${this.name}.discover[${index}]`, url.protocol === 'https:' ? host : undefined);
  }
}
