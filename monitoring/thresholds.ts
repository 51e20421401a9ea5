/**
 * The alert thresholds of the product brief, as numbers. The Prometheus rules, the
 * CloudWatch alarms and the autoscaling targets all read them here.
 */
export const THRESHOLDS = {
  /** 5xx responses as a fraction of all responses (brief: > 5 %). */
  errorRatio: 0.05,
  /** How long the 5xx ratio must stay above the threshold, in minutes (brief: 2–5 min). */
  errorRatioForMinutes: 2,
  /** p99 latency in seconds (brief: p99 > 2 s). */
  p99LatencySeconds: 2,
  /** How long p99 must stay above the threshold, in minutes (brief: 10 min). */
  p99LatencyForMinutes: 10,
  /** p50 latency in seconds that is abnormal (brief: normal < 500 ms, alarm > 1 s). */
  p50LatencySeconds: 1,
  /** Ready jobs in one queue (brief: > 1,000). */
  queueBacklog: 1_000,
  /** How long the backlog must stay above the threshold, in minutes (brief: 3 min). */
  queueBacklogForMinutes: 3,
  /** Upstream connections in use as a fraction of the pool (brief: > 90 %). */
  connectionSaturation: 0.9,
  /** Fraction of requests of a class shed over 5 minutes before someone should look. */
  shedRatio: 0.01,
  /**
   * How long a pool must have had members whose capacity cannot be learned before someone is told,
   * in minutes. Not a transient: a server without vLLM's gauges stays so. Long enough that a starting
   * pod (the proxy already waits 30 s and 3 scrapes) or a rolling update never fires it.
   */
  capacityUnknownForMinutes: 10,
  /** CPU utilisation target of the proxy HPA, percent (brief: 70 %). */
  proxyCpuTargetPercent: 70,
} as const;
