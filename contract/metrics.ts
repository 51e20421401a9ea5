/**
 * Names of the Prometheus metrics the runtimes export (PROXY_METRICS, OVERLOAD_METRICS,
 * WORKER_METRICS: the runtimes register exactly these) and the subset the alert rules,
 * dashboards and autoscalers read (METRIC, made of the same constants). One file, so a renamed
 * metric breaks a test instead of silently emptying a dashboard or muting an alert.
 *
 * Labels are documented next to each name; every label value is bounded (pool names,
 * priority classes, upstream ids, HTTP status codes), never a user id or a URL.
 */

/**
 * Metric names of the proxy. They are a contract: alert rules, dashboards and the HPA read them,
 * so rename only with a deprecation. Label values: `pool` and `upstream` are config names
 * (`none` when a request never reached routing), `class` is a priority class (`none` before
 * classification, e.g. a 401), `status` is the HTTP status sent to the client.
 */
export const PROXY_METRICS = {
  /** counter {pool, upstream, class, status}: finished client requests. */
  requests: 'surgeguard_proxy_requests_total',
  /** histogram {pool, upstream, class, status}: request duration, seconds, to the last byte. */
  duration: 'surgeguard_proxy_request_duration_seconds',
  /** histogram {pool, upstream, class}: time to the upstream response headers, seconds. */
  ttfb: 'surgeguard_proxy_time_to_first_byte_seconds',
  /** gauge {class}: client requests in flight. */
  inFlight: 'surgeguard_proxy_in_flight_requests',
  /** gauge {pool, upstream}: requests in flight to an upstream (sampled at scrape). */
  upstreamInFlight: 'surgeguard_proxy_upstream_in_flight_requests',
  /** counter {pool, upstream, reason}: retries decided; reason is an error kind or HTTP status. */
  retries: 'surgeguard_proxy_upstream_retries_total',
  /** counter {pool}: retries refused by the retry budget. */
  retryBudgetExhausted: 'surgeguard_proxy_retry_budget_exhausted_total',
  /** gauge {pool, upstream}: circuit breaker state, 0 closed, 1 half-open, 2 open. */
  breakerState: 'surgeguard_proxy_circuit_breaker_state',
  /** counter {pool, upstream, to}: breaker transitions. */
  breakerTransitions: 'surgeguard_proxy_circuit_breaker_transitions_total',
  /** counter {pool, upstream}: outlier-detection ejections. */
  ejections: 'surgeguard_proxy_upstream_ejections_total',
  /** gauge {pool, upstream}: 1 when active health checks pass. */
  upstreamHealthy: 'surgeguard_proxy_upstream_healthy',
  /** counter {pool, upstream}: attempts sent although every upstream was unavailable. */
  lastResort: 'surgeguard_proxy_last_resort_attempts_total',
  /** counter {pool, upstream}: responses that failed after the first byte reached the client. */
  streamErrors: 'surgeguard_proxy_stream_errors_total',
  /** counter {class}: requests whose client disconnected before the end. */
  clientAborts: 'surgeguard_proxy_client_aborts_total',
  /** gauge: open client connections. */
  clientConnections: 'surgeguard_proxy_client_connections',
  /** gauge: configured maximum of client connections (alert at > 90 %). */
  clientConnectionsMax: 'surgeguard_proxy_client_connections_max',
  /** gauge: 1 while /readyz answers 200. */
  ready: 'surgeguard_proxy_ready',
} as const;

/** Metric names of the proxy's overload control (same contract rules as PROXY_METRICS). */
export const OVERLOAD_METRICS = {
  /** gauge {pool, class}: requests waiting in the admission queue. */
  queueDepth: 'surgeguard_proxy_queue_depth',
  /** counter {pool, class, reason}: requests shed; reason is an admission reason or `rate_limited`. */
  shed: 'surgeguard_proxy_shed_total',
  /** gauge {pool}: current adaptive concurrency limit. */
  concurrencyLimit: 'surgeguard_proxy_concurrency_limit',
  /** gauge {pool}: requests holding an admission permit. */
  admitted: 'surgeguard_proxy_admitted_in_flight',
  /** counter {pool, cause}: adaptive limit moves; cause is overload, latency, saturation or growth. */
  limitChanges: 'surgeguard_proxy_concurrency_limit_changes_total',
  /**
   * gauge {pool}: scraped members whose slots are not declared and cannot be learned: their
   * `/metrics` answers without vLLM's running/waiting gauges, or not with 200 (see the proxy's
   * `GaugeWatch`). Above 0, the pool's capacity stays unknown; only scraped pools have the series.
   */
  membersWithoutCapacityGauges: 'surgeguard_proxy_members_without_capacity_gauges',
  /** counter {pool, class}: permits granted (requests sent on to the upstreams). */
  admittedTotal: 'surgeguard_proxy_admitted_total',
  /** counter {result}: cache lookups; result is hit_l1, hit_l2, miss or stale (hit ratio = hit_* / all but stale). */
  cacheLookups: 'surgeguard_proxy_cache_lookups_total',
  /** counter {role}: cacheable requests by single-flight role (leader, follower, overflow). */
  coalesced: 'surgeguard_proxy_coalesced_requests_total',
  /** counter {reason}: stale answers served (shed, upstream_error). */
  staleServed: 'surgeguard_proxy_stale_served_total',
  /** counter {class, source, allowed}: rate-limit decisions; source is redis, local, fail_open, disabled. */
  rateLimit: 'surgeguard_proxy_ratelimit_decisions_total',
  /** gauge: 1 while rate limits run on local buckets because Redis is unavailable. */
  rateLimitFallback: 'surgeguard_proxy_ratelimit_fallback',
  /** counter {model, variant}: requests per canary variant. */
  canary: 'surgeguard_proxy_canary_requests_total',
} as const;

/**
 * Metric names of the worker (same contract rules as PROXY_METRICS). Prometheus' default process
 * metrics come on top, prefixed `surgeguard_worker_`.
 */
export const WORKER_METRICS = {
  /** counter {class, outcome}: jobs handled; outcome is done, failed, retried, dead_lettered, duplicate, cancelled or returned. */
  jobs: 'surgeguard_worker_jobs_total',
  /** histogram {class}: time from a job starting on the worker to its outcome being stored, seconds. */
  duration: 'surgeguard_worker_job_duration_seconds',
  /** histogram {class}: time from a job being accepted by the proxy to a worker starting it, seconds. */
  queueLag: 'surgeguard_worker_queue_lag_seconds',
  /** counter {class}: job messages the broker delivered again. */
  redeliveries: 'surgeguard_worker_redeliveries_total',
  /** counter {reason}: job messages the worker sent to the dead-letter queue. */
  deadLetters: 'surgeguard_worker_dead_letters_total',
  /** counter {class, result}: model calls made for jobs (success, transient, permanent). */
  modelCalls: 'surgeguard_worker_model_calls_total',
  /** gauge: jobs being processed now. */
  inflight: 'surgeguard_worker_inflight_jobs',
  /** gauge: jobs received from the broker and waiting locally for a free slot. */
  buffered: 'surgeguard_worker_buffered_jobs',
  /** gauge {queue}: ready messages in a job queue (a name from JOB_QUEUE_TOPOLOGY), as last polled. */
  queueDepth: 'surgeguard_worker_queue_depth',
  /** gauge: 1 while the worker is connected to the broker and consuming. */
  brokerConnected: 'surgeguard_worker_broker_connected',
  /** counter {result}: job completion callbacks (delivered, failed, refused). */
  callbacks: 'surgeguard_worker_callbacks_total',
} as const;

/** The metrics monitoring/ (alert rules, dashboards) and the HPAs read. */
export const METRIC = {
  /** Counter. Requests answered by the proxy. Labels: `pool`, `upstream`, `class`, `status` (HTTP status code, e.g. `503`). */
  proxyRequests: PROXY_METRICS.requests,
  /** Histogram (seconds). Time from request received to last byte sent. Labels: `pool`, `upstream`, `class`, `status`. */
  proxyRequestDuration: PROXY_METRICS.duration,
  /** Gauge. Client requests being served. Labels: `class`. The proxy HPA's pods metric. */
  proxyInflightRequests: PROXY_METRICS.inFlight,
  /** Gauge. Circuit breaker state per upstream: 0 closed, 1 half-open, 2 open. Labels: `pool`, `upstream`. */
  proxyBreakerState: PROXY_METRICS.breakerState,
  /** Gauge. Open client connections of one proxy replica. */
  proxyClientConnections: PROXY_METRICS.clientConnections,
  /** Gauge. Configured maximum of client connections of one replica (the pool the 90 % alert measures against). */
  proxyClientConnectionsMax: PROXY_METRICS.clientConnectionsMax,
  /** Gauge. Requests waiting in the admission queue. Labels: `pool`, `class`. */
  proxyQueueDepth: OVERLOAD_METRICS.queueDepth,
  /** Counter. Requests shed (rejected with 429/503). Labels: `pool`, `class`, `reason` (an admission reason or `rate_limited`). */
  proxyShed: OVERLOAD_METRICS.shed,
  /** Gauge. Scraped members of a pool whose slots are neither declared nor learnable (no vLLM running/waiting gauges, or no `/metrics`). Labels: `pool`; only scraped pools have the series. */
  proxyMembersWithoutCapacityGauges: OVERLOAD_METRICS.membersWithoutCapacityGauges,
  /** Gauge. Ready messages in a job queue, as the worker sees it. Labels: `queue` (a name from JOB_QUEUE_TOPOLOGY). */
  workerQueueDepth: WORKER_METRICS.queueDepth,
  /** Counter. Jobs finished by the worker. Labels: `class`, `outcome` (`done`, `retried`, `dead_lettered`). */
  workerJobs: WORKER_METRICS.jobs,
  /** Gauge. Jobs the worker is processing now. No labels. */
  workerInflightJobs: WORKER_METRICS.inflight,
} as const;

/** Value of `surgeguard_proxy_circuit_breaker_state` when the breaker is open. */
export const BREAKER_STATE_OPEN = 2;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
