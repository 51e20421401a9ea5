import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { UpstreamPool } from '../../common/upstream/upstream-pool';
import type { ScriptRunner } from '../ratelimit/redis-script';
import type { TimerClock } from '../../common/clock';
import type { AdmissionConfig } from './config';
import type { PriorityClass } from '../../../contract/priority';
import { AdmissionController, type AdmissionObserver } from './controller';
import { ReplicaShare, shareFromParts } from './replica-share';
import type { Upstream } from '../../common/upstream/upstream';
import { SaturationScraper, learnSlots } from './saturation';
import { GaugeWatch, type GaugeWatchEvents } from './gauge-watch';

/**
 * A new id of one proxy among the replicas (pod name, pid and a random part): one per proxy
 * instance, so two proxies in one process (tests, an embedding) are two replicas, not one.
 */
export function newReplicaId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface PoolAdmissionDeps {
  readonly clock: TimerClock;
  readonly observer?: AdmissionObserver;
  /** Shared Redis: replicas divide the capacity through it. Absent: this replica takes all. */
  readonly redis?: ScriptRunner;
  /** This proxy's id among the replicas, the same for all its pools. @default newReplicaId() */
  readonly replicaId?: string;
  readonly onReplicasChange?: (replicas: number) => void;
  readonly onShareError?: (err: unknown) => void;
  /**
   * Members whose slots are not declared and whose `/metrics` does not make them known (no vLLM
   * running/waiting gauges, or no `/metrics`): the pool's capacity cannot be learned (see
   * `GaugeWatch`). Told only when the members are scraped (`saturation.enabled`).
   */
  readonly capacityGauges?: GaugeWatchEvents<Upstream>;
}

/**
 * Admission for one pool, with the capacity it follows: the slots of the pool's serving
 * members (configured `slots`, or learned from their `/metrics` by the scraper), this replica's
 * share of them when a Redis is shared with the other replicas. Membership changes hand out
 * newly free slots at once.
 */
export class PoolAdmission {
  readonly controller: AdmissionController;
  readonly share: ReplicaShare | undefined;
  private readonly scraper: SaturationScraper | undefined;
  /** Members that cannot make their slots known (undefined when the pool is not scraped). */
  readonly gauges: GaugeWatch<Upstream> | undefined;

  constructor(
    readonly pool: UpstreamPool,
    cfg: AdmissionConfig,
    deps: PoolAdmissionDeps,
  ) {
    this.share =
      deps.redis && cfg.replicas.enabled
        ? new ReplicaShare({
            redis: deps.redis,
            key: `admission:replicas:${pool.name}`,
            id: deps.replicaId ?? newReplicaId(),
            heartbeatMs: cfg.replicas.heartbeatMs,
            expiryMs: cfg.replicas.expiryMs,
            clock: deps.clock,
            byDemand: cfg.replicas.shareBy === 'demand',
            members: () => this.shareMembers(),
            demand: () => this.controller.demand(),
            onChange: (n) => {
              deps.onReplicasChange?.(n);
              this.controller.capacityChanged();
            },
            // the parts move with the demand of the replicas: the limit follows at once (its
            // ceiling is the share), newly free slots go to the waiters
            onShareChange: () => this.controller.capacityChanged(),
            onError: deps.onShareError,
          })
        : undefined;
    const capacity = () => {
      const c = pool.capacity();
      if (!c.known) {
        this.clearShares();
        return undefined;
      }
      const mine = this.assignShares();
      return this.share ? shareFromParts(c.slots, mine) : c.slots;
    };
    // by demand: a slot freed here goes to a more urgent request waiting at another replica
    // before this replica's less urgent waiters (class order across the replicas)
    const share = this.share;
    const lend = share && cfg.replicas.shareBy === 'demand' ? (cls: PriorityClass) => share.lend(cls, this.shareMembers() ?? []) : undefined;
    this.controller = new AdmissionController(cfg, deps.clock, deps.observer, capacity, lend);
    pool.onMembershipChange(() => this.controller.capacityChanged());
    // a member unhealthy, its breaker open or closed, ejected: the capacity moved without a
    // membership change (the waiters of a pool whose last member stopped serving move on now)
    pool.onServingChange(() => this.controller.capacityChanged());
    if (cfg.saturation.enabled) {
      const recentMs = 2 * cfg.saturation.intervalMs;
      const noop = () => {};
      const gauges = new GaugeWatch<Upstream>({ onSilent: noop, onSpeaks: noop, onCount: noop, ...deps.capacityGauges });
      this.gauges = gauges;
      // a member dropped by discovery no longer counts
      pool.onMembershipChange(() => gauges.retain(pool.members));
      this.scraper = new SaturationScraper({
        targets: () =>
          pool.members.map((u) => ({
            url: `${u.origin}/metrics`,
            onFigures: (f) => learnSlots(u, f, deps.clock.now(), recentMs),
            // declared slots need no gauges
            onAnswer: u.slots === undefined ? (a) => gauges.observe(u, a, deps.clock.now()) : undefined,
            slots: () => u.knownSlots,
          })),
        intervalMs: cfg.saturation.intervalMs,
        timeoutMs: cfg.saturation.timeoutMs,
        clock: deps.clock,
        onSignal: (s) => this.controller.onSaturation(s),
      });
    }
  }

  /** The serving members with their slots and this replica's requests in flight, while the capacity is known. */
  private shareMembers(): { name: string; slots: number; inflight: number }[] | undefined {
    return this.pool.capacity().known ? this.servingMembers().map((u) => ({ name: u.name, slots: u.knownSlots ?? 0, inflight: u.outstanding })) : undefined;
  }

  /** Members in their common order (by name, the same in every replica), per membership. */
  private ordered: { of: readonly Upstream[]; sorted: readonly Upstream[] } | undefined;
  /** What the member parts were last dealt from (members, serving state, slots, share version). */
  private dealtKey = '';
  private dealtSum = 0;

  private sortedMembers(): readonly Upstream[] {
    const members = this.pool.members;
    if (this.ordered?.of !== members) this.ordered = { of: members, sorted: [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
    return this.ordered.sorted;
  }

  /** The serving members in their common order. */
  private servingMembers(): Upstream[] {
    return this.sortedMembers().filter((u) => this.pool.isServing(u));
  }

  /**
   * Sets this replica's part of each serving member's slots (`Upstream.share`), which the
   * balancer keeps each member within (a member not serving has none), and answers their sum:
   * all the slots for a replica alone, else the parts Redis granted (`ReplicaShare.partsOf`).
   * Recomputed only when the members, their serving state or slots, or the parts changed (it
   * runs wherever the capacity is read).
   */
  private assignShares(): number {
    const sorted = this.sortedMembers();
    let key = `${this.share?.version ?? 0}|`;
    for (const u of sorted) key += `${u.name}=${this.pool.isServing(u) ? (u.knownSlots ?? 0) : -1};`;
    if (key === this.dealtKey) return this.dealtSum;
    this.dealtKey = key;
    const serving = this.servingMembers();
    const members = serving.map((u) => ({ name: u.name, slots: u.knownSlots ?? 0 }));
    const parts = this.share ? this.share.partsOf(members) : members.map((m) => m.slots);
    for (const u of sorted) u.share = undefined;
    serving.forEach((u, i) => (u.share = parts[i]));
    this.dealtSum = parts.reduce((a, b) => a + b, 0);
    return this.dealtSum;
  }

  private clearShares(): void {
    if (this.dealtKey === '') return;
    for (const u of this.pool.members) u.share = undefined;
    this.dealtKey = '';
  }

  start(): void {
    this.share?.start();
    this.scraper?.start();
  }

  stop(): void {
    this.share?.stop();
    this.scraper?.stop();
  }
}
