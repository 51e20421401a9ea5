/**
 * Names of the Prometheus metrics the runtimes export and the alert rules, dashboards and
 * autoscalers read. One list, so a renamed metric breaks a test here instead of silently
 * emptying a dashboard or muting an alert.
 *
 * Labels are documented next to each name; every label value is bounded (pool names,
 * priority classes, upstream ids, HTTP status codes), never a user id or a URL.
 */
export const METRIC = {
  /** Counter. Requests answered by the proxy. Labels: `pool`, `class`, `status` (HTTP status code, e.g. `503`). */
  proxyRequests: 'surgeguard_proxy_requests_total',
  /** Histogram (seconds). Time from request received to last byte sent. Labels: `pool`, `class`. */
  proxyRequestDuration: 'surgeguard_proxy_request_duration_seconds',
  /** Gauge. Requests waiting in the admission queue. Labels: `class`. */
  proxyQueueDepth: 'surgeguard_proxy_queue_depth',
  /** Gauge. Requests being served (admitted and not finished). No labels; the proxy HPA's pods metric. */
  proxyInflightRequests: 'surgeguard_proxy_inflight_requests',
  /** Counter. Requests shed (rejected with 429/503). Labels: `class`, `reason` (`queue_full`, `deadline`, `rate_limited`). */
  proxyShed: 'surgeguard_proxy_shed_total',
  /** Gauge. Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open. Labels: `upstream`. */
  proxyBreakerState: 'surgeguard_proxy_breaker_state',
  /** Gauge. Connections in use to an upstream. Labels: `upstream`. */
  proxyUpstreamConnections: 'surgeguard_proxy_upstream_connections',
  /** Gauge. Size of the connection pool to an upstream (the cap `proxyUpstreamConnections` is measured against). Labels: `upstream`. */
  proxyUpstreamConnectionLimit: 'surgeguard_proxy_upstream_connection_limit',
  /** Counter. Cache lookups. Labels: `level` (`memory`, `redis`), `result` (`hit`, `miss`). */
  proxyCacheLookups: 'surgeguard_proxy_cache_lookups_total',
  /** Gauge. Ready messages in a job queue, as the worker sees it. Labels: `queue` (a name from JOB_QUEUE_TOPOLOGY). */
  workerQueueDepth: 'surgeguard_worker_queue_depth',
  /** Counter. Jobs finished by the worker. Labels: `class`, `outcome` (`done`, `retried`, `dead_lettered`). */
  workerJobs: 'surgeguard_worker_jobs_total',
  /** Gauge. Jobs the worker is processing now. No labels. */
  workerInflightJobs: 'surgeguard_worker_inflight_jobs',
} as const;

/** Value of `surgeguard_proxy_breaker_state` when the breaker is open. */
export const BREAKER_STATE_OPEN = 2;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
