import { Counter, Gauge, type Registry } from 'prom-client';
import { OVERLOAD_METRICS } from '../../../contract/metrics';
import { PRIORITY_CLASSES } from '../../../contract/priority';
import { HotCounter } from '../../common/hot-metrics';
import type { AdmissionController } from '../admission/controller';

/** The Prometheus instruments of overload control (names in contract/metrics.ts). */
export class OverloadMetrics {
  readonly queueDepth: Gauge<'pool' | 'class'>;
  readonly shed: Counter<'pool' | 'class' | 'reason'>;
  readonly concurrencyLimit: Gauge<'pool'>;
  readonly admitted: Gauge<'pool'>;
  readonly admittedTotal: HotCounter<'pool' | 'class'>;
  readonly limitChanges: Counter<'pool' | 'cause'>;
  readonly membersWithoutCapacityGauges: Gauge<'pool'>;
  readonly cacheLookups: Counter<'result'>;
  readonly coalesced: Counter<'role'>;
  readonly staleServed: Counter<'reason'>;
  readonly rateLimit: Counter<'class' | 'source' | 'allowed'>;
  readonly rateLimitFallback: Gauge;
  readonly canary: Counter<'model' | 'variant'>;

  constructor(registry: Registry, admission: () => ReadonlyMap<string, AdmissionController>) {
    const M = OVERLOAD_METRICS;
    const registers = [registry];
    this.queueDepth = new Gauge({
      name: M.queueDepth,
      help: 'Requests waiting in the admission queue.',
      labelNames: ['pool', 'class'],
      registers,
      collect() {
        for (const [pool, ctl] of admission()) {
          const s = ctl.snapshot();
          for (const c of PRIORITY_CLASSES) this.set({ pool, class: c }, s.queued[c]);
        }
      },
    });
    this.concurrencyLimit = new Gauge({
      name: M.concurrencyLimit,
      help: 'Adaptive concurrency limit per pool.',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const [pool, ctl] of admission()) this.set({ pool }, ctl.limit);
      },
    });
    this.admitted = new Gauge({
      name: M.admitted,
      help: 'Requests holding an admission permit per pool.',
      labelNames: ['pool'],
      registers,
      collect() {
        for (const [pool, ctl] of admission()) this.set({ pool }, ctl.inflight);
      },
    });
    this.limitChanges = new Counter({ name: M.limitChanges, help: 'Adaptive concurrency limit changes by cause.', labelNames: ['pool', 'cause'], registers });
    this.membersWithoutCapacityGauges = new Gauge({
      name: M.membersWithoutCapacityGauges,
      help: 'Scraped members whose slots are neither declared nor learnable: /metrics without vLLM running/waiting gauges, or no /metrics.',
      labelNames: ['pool'],
      registers,
    });
    this.admittedTotal = new HotCounter({ name: M.admittedTotal, help: 'Admission permits granted by class.', labelNames: ['pool', 'class'], registers });
    this.shed = new Counter({ name: M.shed, help: 'Requests shed (429/503) by class and reason.', labelNames: ['pool', 'class', 'reason'], registers });
    this.cacheLookups = new Counter({ name: M.cacheLookups, help: 'Response cache lookups by result.', labelNames: ['result'], registers });
    this.coalesced = new Counter({ name: M.coalesced, help: 'Cacheable requests by single-flight role.', labelNames: ['role'], registers });
    this.staleServed = new Counter({ name: M.staleServed, help: 'Stale cached answers served instead of an error.', labelNames: ['reason'], registers });
    this.rateLimit = new Counter({ name: M.rateLimit, help: 'Rate-limit decisions.', labelNames: ['class', 'source', 'allowed'], registers });
    this.rateLimitFallback = new Gauge({ name: M.rateLimitFallback, help: '1 while rate limits use local buckets (Redis unavailable).', registers });
    this.canary = new Counter({ name: M.canary, help: 'Requests per canary variant.', labelNames: ['model', 'variant'], registers });
  }
}
