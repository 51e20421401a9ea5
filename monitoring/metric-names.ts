/**
 * Names of the Prometheus metrics the runtimes export and the alert rules, dashboards and
 * autoscalers read. One list, so a renamed metric breaks a test here instead of silently
 * emptying a dashboard or muting an alert.
 *
 * Labels are documented next to each name; every label value is bounded (pool names,
 * priority classes, upstream ids, HTTP status codes), never a user id or a URL.
 */
export const METRIC = {
  /** Counter. Requests answered by the proxy. Labels: `pool`, `upstream`, `class`, `status` (HTTP status code, e.g. `503`). Same name as runtime/proxy/metrics.ts. */
  proxyRequests: 'surgeguard_proxy_requests_total',
  /** Histogram (seconds). Time from request received to last byte sent. Labels: `pool`, `upstream`, `class`, `status`. */
  proxyRequestDuration: 'surgeguard_proxy_request_duration_seconds',
  /** Gauge. Client requests being served. Labels: `class`. The proxy HPA's pods metric. */
  proxyInflightRequests: 'surgeguard_proxy_in_flight_requests',
  /** Gauge. Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open. Labels: `pool`, `upstream`. */
  proxyBreakerState: 'surgeguard_proxy_circuit_breaker_state',
  /** Gauge. Open client connections of one proxy replica. */
  proxyClientConnections: 'surgeguard_proxy_client_connections',
  /** Gauge. Configured maximum of client connections of one replica (the pool the 90 % alert measures against). */
  proxyClientConnectionsMax: 'surgeguard_proxy_client_connections_max',
  /** Gauge. Requests waiting in the admission queue. Labels: `pool`, `class`. Same name as runtime/proxy/overload.ts. */
  proxyQueueDepth: 'surgeguard_proxy_queue_depth',
  /** Counter. Requests shed (rejected with 429/503). Labels: `pool`, `class`, `reason` (an admission reason or `rate_limited`). */
  proxyShed: 'surgeguard_proxy_shed_total',
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
