import { Agent, request } from 'undici';
import { publicOnlyLookup } from '../common/net-guard';
import type { Logger } from 'pino';
import { callbackUrlProblem, CallbackConfig } from '../jobs/config';
import { publicView, JobRecord } from '../jobs/model';
import { backoffMs, RECONNECT_MIN_SHARE } from '../common/backoff';
import type { WorkerMetrics } from './metrics';

/**
 * Tells a client its job finished: POSTs the job's public view to the callback URL given at
 * submission, retrying with backoff on network errors and non-2xx answers up to `maxAttempts`.
 * The URL is checked against the worker's own allow-list again (a message is not trusted to
 * point anywhere). Delivery runs after the ack, in the background: a worker that dies meanwhile
 * loses the notification, never the result (clients can always poll GET /v1/jobs/{id}).
 */
export class CallbackNotifier {
  private readonly pending = new Set<Promise<void>>();
  /** Connections only to public addresses, checked on the resolved address at connect time (DNS rebinding). */
  private readonly agent: Agent;

  constructor(
    private readonly config: CallbackConfig,
    private readonly logger: Logger,
    private readonly metrics?: WorkerMetrics,
  ) {
    this.agent = new Agent(config.allowPrivateAddresses ? {} : { connect: { lookup: publicOnlyLookup() } });
  }

  notify(job: JobRecord): void {
    if (!job.callbackUrl) return;
    const problem = callbackUrlProblem(job.callbackUrl, this.config);
    if (problem) {
      this.logger.warn({ jobId: job.id, problem }, 'callback refused by the worker allow-list');
      this.metrics?.callbacks.labels('refused').inc();
      return;
    }
    const delivery = this.deliver(job.callbackUrl, job).finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Waits for deliveries in progress (on drain), up to `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  private async deliver(url: string, job: JobRecord): Promise<void> {
    const body = JSON.stringify(publicView(job));
    for (let attempt = 0; attempt < this.config.maxAttempts; attempt++) {
      try {
        const res = await request(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-surgeguard-job-id': job.id },
          body,
          dispatcher: this.agent,
          headersTimeout: this.config.timeoutMs,
          bodyTimeout: this.config.timeoutMs,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          this.metrics?.callbacks.labels('delivered').inc();
          return;
        }
        this.logger.warn({ jobId: job.id, status: res.statusCode, attempt }, 'callback answered with an error');
      } catch (err) {
        this.logger.warn({ jobId: job.id, err: (err as Error).message, attempt }, 'callback delivery failed');
      }
      if (attempt + 1 < this.config.maxAttempts) {
        await new Promise((r) => setTimeout(r, backoffMs(attempt, { baseMs: 500, capMs: 30_000, minShare: RECONNECT_MIN_SHARE })));
      }
    }
    this.metrics?.callbacks.labels('failed').inc();
  }
}
