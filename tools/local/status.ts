/**
 * The live status line of `npm run local`, from the proxy's and worker's Prometheus text (pure).
 */
export interface LocalStatus {
  /** Requests answered, by priority class. */
  readonly requestsByClass: Readonly<Record<string, number>>;
  /** Requests waiting in the proxy's admission queues. */
  readonly admissionQueue: number;
  /** Ready jobs in the job queues (as the worker sees them). */
  readonly jobQueue: number;
  /** Requests shed (429/503 from admission or rate limits). */
  readonly shed: number;
}

const CLASSES = ['critical', 'high', 'medium', 'low'] as const;

/** Sum of every sample of `name`, grouped by the value of `label` (or under '' without it). */
export function sumSamples(text: string, name: string, label?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    const key = label ? (new RegExp(`[{,]${label}="([^"]*)"`).exec(line)?.[1] ?? '') : '';
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

export function parseStatus(proxyMetrics: string, workerMetrics: string): LocalStatus {
  const byClass = sumSamples(proxyMetrics, 'surgeguard_proxy_requests_total', 'class');
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    requestsByClass: Object.fromEntries(CLASSES.map((c) => [c, byClass.get(c) ?? 0])),
    admissionQueue: total(sumSamples(proxyMetrics, 'surgeguard_proxy_queue_depth')),
    jobQueue: total(sumSamples(workerMetrics, 'surgeguard_worker_queue_depth')),
    shed: total(sumSamples(proxyMetrics, 'surgeguard_proxy_shed_total')),
  };
}

export function formatStatus(s: LocalStatus): string {
  const classes = CLASSES.map((c) => `${c} ${s.requestsByClass[c] ?? 0}`).join(' · ');
  return `requests: ${classes} | queued: ${s.admissionQueue} (admission) ${s.jobQueue} (jobs) | shed: ${s.shed}`;
}
