import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { UpstreamPool } from '../../common/upstream/upstream-pool';
import type { ScriptRunner } from '../ratelimit/redis-script';
import type { TimerClock } from '../../common/clock';
import type { AdmissionConfig } from './config';
import { AdmissionController, type AdmissionObserver } from './controller';
import { ReplicaShare } from './replica-share';
import { SaturationScraper, learnSlots } from './saturation';

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
            onChange: (n) => {
              deps.onReplicasChange?.(n);
              this.controller.capacityChanged();
            },
            onError: deps.onShareError,
          })
        : undefined;
    const capacity = () => {
      const c = pool.capacity();
      if (!c.known) return undefined;
      return this.share ? this.share.shareOf(c.slots) : c.slots;
    };
    this.controller = new AdmissionController(cfg, deps.clock, deps.observer, capacity);
    pool.onMembershipChange(() => this.controller.capacityChanged());
    if (cfg.saturation.enabled) {
      const recentMs = 2 * cfg.saturation.intervalMs;
      this.scraper = new SaturationScraper({
        targets: () =>
          pool.members.map((u) => ({
            url: `${u.origin}/metrics`,
            onFigures: (f) => learnSlots(u, f, deps.clock.now(), recentMs),
            slots: () => u.knownSlots,
          })),
        intervalMs: cfg.saturation.intervalMs,
        timeoutMs: cfg.saturation.timeoutMs,
        clock: deps.clock,
        onSignal: (s) => this.controller.onSaturation(s),
      });
    }
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
