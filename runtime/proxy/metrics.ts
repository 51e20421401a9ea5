import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotCounterSeries, HotHistogram, HotHistogramSeries } from '../common/hot-metrics';
import { BREAKER_STATE_VALUE, BreakerState } from '../common/upstream/circuit-breaker';
import { UpstreamEvents } from '../common/upstream/events';
import { UpstreamPool } from '../common/upstream/upstream-pool';
import { PROXY_METRICS } from '../../contract/metrics';

type RequestLabel = 'pool' | 'upstream' | 'class' | 'status';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120];

/** The proxy's Prometheus registry and instruments; also the sink of upstream-layer events. */
export class ProxyMetrics implements UpstreamEvents {
  readonly registry = new Registry();
  // per-request series: hot metrics (plain numbers per label set; see common/hot-metrics)
  readonly requests: HotCounter<RequestLabel>;
  readonly duration: HotHistogram<RequestLabel>;
  readonly ttfb: HotHistogram<'pool' | 'upstream' | 'class'>;
  readonly inFlight: Gauge<'class'>;
  readonly retries: Counter<'pool' | 'upstream' | 'reason'>;
  readonly retryBudgetExhausted: Counter<'pool'>;
  readonly breakerState: Gauge<'pool' | 'upstream'>;
  readonly breakerTransitions: Counter<'pool' | 'upstream' | 'to'>;
  readonly ejections: Counter<'pool' | 'upstream'>;
  readonly upstreamHealthy: Gauge<'pool' | 'upstream'>;
  readonly lastResort: Counter<'pool' | 'upstream'>;
  readonly streamErrors: Counter<'pool' | 'upstream'>;
  readonly clientAborts: Counter<'class'>;
  readonly clientConnections: Gauge;
  readonly clientConnectionsMax: Gauge;
  readonly ready: Gauge;
  private pools: readonly UpstreamPool[] = [];
  private readonly inFlightByClass = new Map<string, number>();
  /** The series of both request metrics per (pool, upstream, class, status): one lookup per request. */
  private readonly requestSeries = new Map<string, { count: HotCounterSeries; duration: HotHistogramSeries }>();
  private readonly ttfbSeries = new Map<string, HotHistogramSeries>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new HotCounter({ name: PROXY_METRICS.requests, help: 'Finished client requests.', labelNames: ['pool', 'upstream', 'class', 'status'], registers });
    this.duration = new HotHistogram({
      name: PROXY_METRICS.duration,
      help: 'Client request duration to the last byte, seconds.',
      labelNames: ['pool', 'upstream', 'class', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ttfb = new HotHistogram({
      name: PROXY_METRICS.ttfb,
      help: 'Time from request start to the upstream response headers, seconds.',
      labelNames: ['pool', 'upstream', 'class'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    // prom-client calls collect() with the metric as `this`; the proxy metrics object is needed too.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    // Counted in plain numbers on the hot path (a labelled gauge hashes its labels twice per
    // inc/dec) and copied into the gauge when scraped.
    this.inFlight = new Gauge({
      name: PROXY_METRICS.inFlight,
      help: 'Client requests in flight.',
      labelNames: ['class'],
      registers,
      collect() {
        for (const [cls, n] of self.inFlightByClass) this.set({ class: cls }, n);
      },
    });
    new Gauge({
      name: PROXY_METRICS.upstreamInFlight,
      help: 'Requests in flight to an upstream.',
      labelNames: ['pool', 'upstream'],
      registers,
      collect() {
        for (const p of self.pools) for (const u of p.members) this.set({ pool: p.name, upstream: u.name }, u.outstanding);
      },
    });
    this.retries = new Counter({ name: PROXY_METRICS.retries, help: 'Upstream retries decided.', labelNames: ['pool', 'upstream', 'reason'], registers });
    this.retryBudgetExhausted = new Counter({ name: PROXY_METRICS.retryBudgetExhausted, help: 'Retries refused by the retry budget.', labelNames: ['pool'], registers });
    this.breakerState = new Gauge({ name: PROXY_METRICS.breakerState, help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.', labelNames: ['pool', 'upstream'], registers });
    this.breakerTransitions = new Counter({ name: PROXY_METRICS.breakerTransitions, help: 'Circuit breaker transitions.', labelNames: ['pool', 'upstream', 'to'], registers });
    this.ejections = new Counter({ name: PROXY_METRICS.ejections, help: 'Outlier-detection ejections.', labelNames: ['pool', 'upstream'], registers });
    this.upstreamHealthy = new Gauge({ name: PROXY_METRICS.upstreamHealthy, help: '1 when the upstream passes active health checks.', labelNames: ['pool', 'upstream'], registers });
    this.lastResort = new Counter({ name: PROXY_METRICS.lastResort, help: 'Attempts sent although every upstream was unavailable.', labelNames: ['pool', 'upstream'], registers });
    this.streamErrors = new Counter({ name: PROXY_METRICS.streamErrors, help: 'Responses that failed after the first byte reached the client.', labelNames: ['pool', 'upstream'], registers });
    this.clientAborts = new Counter({ name: PROXY_METRICS.clientAborts, help: 'Requests whose client disconnected before the end.', labelNames: ['class'], registers });
    this.clientConnections = new Gauge({ name: PROXY_METRICS.clientConnections, help: 'Open client connections.', registers });
    this.clientConnectionsMax = new Gauge({ name: PROXY_METRICS.clientConnectionsMax, help: 'Maximum client connections.', registers });
    this.ready = new Gauge({ name: PROXY_METRICS.ready, help: '1 while the proxy reports ready.', registers });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'surgeguard_proxy_' });
  }

  /** A classified client request started (surgeguard_proxy_in_flight_requests{class}). */
  requestStarted(cls: string): void {
    this.inFlightByClass.set(cls, (this.inFlightByClass.get(cls) ?? 0) + 1);
  }

  /** A classified client request finished. */
  requestEnded(cls: string): void {
    this.inFlightByClass.set(cls, (this.inFlightByClass.get(cls) ?? 0) - 1);
  }

  /** Counts one finished request and observes its duration (the per-request hot path). */
  recordRequest(pool: string, upstream: string, cls: string, status: string, seconds: number): void {
    const key = `${pool}\u0000${upstream}\u0000${cls}\u0000${status}`;
    let series = this.requestSeries.get(key);
    if (!series) {
      const labels = { pool, upstream, class: cls, status };
      series = { count: this.requests.labels(labels), duration: this.duration.labels(labels) };
      this.requestSeries.set(key, series);
    }
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** Observes the time to the upstream's response headers (per-request hot path). */
  observeTtfb(pool: string, upstream: string, cls: string, seconds: number): void {
    const key = `${pool}\u0000${upstream}\u0000${cls}`;
    let series = this.ttfbSeries.get(key);
    if (!series) {
      series = this.ttfb.labels({ pool, upstream, class: cls });
      this.ttfbSeries.set(key, series);
    }
    series.observe(seconds);
  }

  /** Registers the pools whose members are reported (initial breaker and health series included). */
  watchPools(pools: readonly UpstreamPool[]): void {
    this.pools = pools;
    for (const p of pools) {
      for (const u of p.members) {
        this.breakerState.set({ pool: p.name, upstream: u.name }, BREAKER_STATE_VALUE[u.breaker.state]);
        this.upstreamHealthy.set({ pool: p.name, upstream: u.name }, u.healthy ? 1 : 0);
      }
    }
  }

  onRetry(pool: string, upstream: string, reason: string): void {
    this.retries.inc({ pool, upstream, reason });
  }

  onRetryBudgetExhausted(pool: string): void {
    this.retryBudgetExhausted.inc({ pool });
  }

  onBreakerStateChange(pool: string, upstream: string, to: BreakerState): void {
    this.breakerState.set({ pool, upstream }, BREAKER_STATE_VALUE[to]);
    this.breakerTransitions.inc({ pool, upstream, to });
  }

  onEjection(pool: string, upstream: string): void {
    this.ejections.inc({ pool, upstream });
  }

  onHealthChange(pool: string, upstream: string, healthy: boolean): void {
    this.upstreamHealthy.set({ pool, upstream }, healthy ? 1 : 0);
  }

  onLastResort(pool: string, upstream: string): void {
    this.lastResort.inc({ pool, upstream });
  }
}
