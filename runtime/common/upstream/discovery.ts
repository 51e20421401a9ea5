import { Resolver, systemResolver } from './resolver';
import { MembershipChange, UpstreamPool } from './upstream-pool';

export interface MemberDiscoveryOptions {
  /** @default systemResolver() (hosts override file, then DNS) */
  readonly resolver?: Resolver;
  /** Told about every change, and about names that could not be resolved. */
  readonly onChange?: (pool: string, host: string, change: MembershipChange) => void;
  readonly onError?: (pool: string, host: string, err: unknown) => void;
}

/**
 * Keeps the `discover` members of pools up to date: resolves each name every `intervalMs` and
 * hands the addresses to the pool. An answer of no address empties that source (no pod is
 * ready); a resolution that fails (timeout, SERVFAIL) keeps the members the last answer gave, so
 * a DNS blip never empties a pool.
 *
 * Why DNS and not the EndpointSlice API: a headless Service's records list exactly the ready
 * pods (the same readiness the kubelet reports), need no service account, RBAC or API-server
 * watch from every proxy and worker replica, and work unchanged outside Kubernetes. The price is
 * the re-resolution period (plus the DNS TTL of the cluster DNS, 5 s in CoreDNS by default)
 * before a new pod is used; a pod that goes away is taken out sooner by connect errors, outlier
 * detection and active health checks. See docs/cell-capacity.md.
 */
export class MemberDiscovery {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly resolver: Resolver;
  private stopped = true;

  constructor(
    private readonly pools: readonly UpstreamPool[],
    private readonly options: MemberDiscoveryOptions = {},
  ) {
    this.resolver = options.resolver ?? systemResolver();
  }

  /** Resolves every name once (awaited, so a process starts with its members) and then periodically. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.refreshAll();
    for (const pool of this.pools) {
      pool.config.discover.forEach((source, index) => {
        let running = false;
        const t = setInterval(() => {
          if (running || this.stopped) return;
          running = true;
          void this.refresh(pool, index).finally(() => (running = false));
        }, source.intervalMs);
        t.unref();
        this.timers.push(t);
      });
    }
  }

  /** Resolves every name of every pool once. */
  async refreshAll(): Promise<void> {
    await Promise.all(this.pools.flatMap((pool) => pool.config.discover.map((_, index) => this.refresh(pool, index))));
  }

  /** Resolves one source once and applies the answer. */
  async refresh(pool: UpstreamPool, index: number): Promise<void> {
    const host = new URL(pool.config.discover[index].url).hostname.replace(/^\[|\]$/g, '');
    let addresses: readonly string[] | undefined;
    try {
      addresses = await this.resolver(host);
    } catch (err) {
      this.options.onError?.(pool.name, host, err);
      return;
    }
    if (this.stopped && this.timers.length > 0) return;
    if (addresses === undefined) {
      this.options.onError?.(pool.name, host, new Error(`could not resolve ${host}; keeping the members of the last answer`));
      return;
    }
    const change = pool.setDiscovered(index, addresses);
    if (change.added.length > 0 || change.removed.length > 0) this.options.onChange?.(pool.name, host, change);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }
}
