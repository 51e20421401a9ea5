import { Clock } from '../clock';
import { CircuitBreakerConfig, HealthCheckConfig, UpstreamConfig } from '../config/upstream';
import { BreakerState, CircuitBreaker } from './circuit-breaker';
import { HealthState } from './health-state';
import { OutlierTarget } from './outlier-detector';


/**
 * One member of a pool and everything the decision modules know about it. Mutable state is
 * plain fields so the hot path reads it without indirection; the modules that change it are the
 * breaker, the outlier detector, the health checker and the dispatcher.
 */
export class Upstream implements OutlierTarget {
  /** Label in metrics and logs. */
  readonly name: string;
  /** `scheme://host:port`, what the HTTP client connects to. */
  readonly origin: string;
  readonly weight: number;
  readonly region: string | undefined;
  /** Extra request headers with secrets resolved (provider API key included). */
  readonly headers: Readonly<Record<string, string>>;
  readonly hasHeaders: boolean;
  readonly breaker: CircuitBreaker;
  readonly health: HealthState;
  /** Requests sent and not yet finished (body included). */
  outstanding = 0;
  consecutiveFailures = 0;
  ejectedUntil = 0;
  timesEjected = 0;
  /** Set from an upstream Retry-After: no new requests before this time. */
  coolingUntil = 0;
  /** Time of the last failure, for the "every breaker is open" last resort. */
  lastFailureAt = Number.NEGATIVE_INFINITY;
  /** Time of the last 503/429 it answered (its slots were full). */
  lastOverloadAt = Number.NEGATIVE_INFINITY;
  /** Requests it serves at once, as configured (`slots`); undefined when not configured. */
  readonly slots: number | undefined;
  /** Requests it served at once when last seen full, from its /metrics (see MemberCapacity). */
  learnedSlots: number | undefined;
  /** Set when discovery dropped it: no new requests, in-flight ones finish. */
  removed = false;
  /**
   * This process's part of the member's slots, when admission divides the pool's known
   * capacity among proxy replicas member by member (see the proxy's `dealMemberParts`); the
   * least-outstanding balancer then keeps each member within it, so replicas that balance
   * independently never stack requests on one member. Undefined: no part assigned.
   */
  share: number | undefined;

  constructor(
    readonly pool: string,
    config: UpstreamConfig,
    resolvedHeaders: Readonly<Record<string, string>>,
    breaker: CircuitBreakerConfig,
    health: HealthCheckConfig,
    clock: Clock,
    onBreakerChange?: (upstream: Upstream, to: BreakerState, from: BreakerState) => void,
  ) {
    const url = new URL(config.url);
    this.origin = url.origin;
    this.name = config.name ?? url.host;
    this.weight = config.weight;
    this.region = config.region;
    this.slots = config.slots;
    this.headers = resolvedHeaders;
    this.hasHeaders = Object.keys(resolvedHeaders).length > 0;
    this.breaker = new CircuitBreaker(breaker, clock, (to, from) => onBreakerChange?.(this, to, from));
    this.health = new HealthState(health.unhealthyThreshold, health.healthyThreshold);
  }

  get healthy(): boolean {
    return this.health.healthy;
  }

  /** Slots it is known to have: configured, else learned; undefined when neither. */
  get knownSlots(): number | undefined {
    return this.slots ?? this.learnedSlots;
  }
}
