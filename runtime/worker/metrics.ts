import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { WORKER_METRICS as M } from '../../contract/metrics';
import { PRIORITY_CLASSES } from '../../contract/priority';

/**
 * The worker's Prometheus metrics, on their own registry (served on `/metrics`).
 * `surgeguard_worker_jobs_total{outcome}` values: `done` (result stored), `failed` (stored as
 * failed: upstream refused the request), `retried` (sent to a delay queue), `dead_lettered`,
 * `duplicate` (redelivered or duplicate message of a finished job: acked, no model call),
 * `cancelled` (cancelled before it started), `returned` (given back to the broker on drain).
 */
export type JobOutcomeLabel = 'done' | 'failed' | 'retried' | 'dead_lettered' | 'duplicate' | 'cancelled' | 'returned';

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly jobs: Counter<'class' | 'outcome'>;
  readonly duration: Histogram<'class'>;
  readonly queueLag: Histogram<'class'>;
  readonly redeliveries: Counter<'class'>;
  readonly deadLetters: Counter<'reason'>;
  readonly modelCalls: Counter<'class' | 'result'>;
  readonly inflight: Gauge;
  readonly buffered: Gauge;
  readonly queueDepth: Gauge<'queue'>;
  readonly brokerConnected: Gauge;
  readonly callbacks: Counter<'result'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'surgeguard_worker_' });
    this.jobs = new Counter({
      name: M.jobs,
      help: 'Jobs handled by the worker, by class and outcome.',
      labelNames: ['class', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: M.duration,
      help: 'Time from a job starting on the worker to its outcome being stored.',
      labelNames: ['class'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.queueLag = new Histogram({
      name: M.queueLag,
      help: 'Time from a job being accepted by the proxy to a worker starting it.',
      labelNames: ['class'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.redeliveries = new Counter({
      name: M.redeliveries,
      help: 'Job messages the broker delivered again (a worker died or gave it back before acking).',
      labelNames: ['class'],
      registers,
    });
    this.deadLetters = new Counter({
      name: M.deadLetters,
      help: 'Job messages the worker sent to the dead-letter queue, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.modelCalls = new Counter({
      name: M.modelCalls,
      help: 'Model calls made for jobs, by class and result (success, transient, permanent).',
      labelNames: ['class', 'result'],
      registers,
    });
    this.inflight = new Gauge({ name: M.inflight, help: 'Jobs being processed now.', registers });
    this.buffered = new Gauge({
      name: M.buffered,
      help: 'Jobs received from the broker and waiting locally for a free slot.',
      registers,
    });
    this.queueDepth = new Gauge({
      name: M.queueDepth,
      help: 'Ready messages in a job queue, as last polled by this worker.',
      labelNames: ['queue'],
      registers,
    });
    this.brokerConnected = new Gauge({
      name: M.brokerConnected,
      help: '1 while the worker is connected to the broker and consuming.',
      registers,
    });
    this.callbacks = new Counter({
      name: M.callbacks,
      help: 'Job completion callbacks, by result (delivered, failed after all attempts, refused by the allow-list).',
      labelNames: ['result'],
      registers,
    });
    for (const cls of PRIORITY_CLASSES) this.redeliveries.labels(cls).inc(0);
  }
}
