import { stringify } from 'yaml';
import { BREAKER_STATE_OPEN, METRIC } from '../contract/metrics';
import { THRESHOLDS } from './thresholds';

/**
 * The alert rules of the brief, written once. `renderRuleFile` turns them into the
 * Prometheus rule file that Amazon Managed Prometheus evaluates (the Monitoring construct
 * uploads it as a rule group namespace) and that `promtool` checks and unit-tests.
 */
export type Severity = 'critical' | 'warning';

export interface AlertRule {
  /** Alert name, CamelCase, prefixed `Surgeguard`. */
  readonly alert: string;
  /** PromQL expression; a series in its result is an active alert. */
  readonly expr: string;
  /** How long the expression must hold before the alert fires, Prometheus duration (`2m`). */
  readonly for: string;
  /** `critical` pages; `warning` goes to the team channel. */
  readonly severity: Severity;
  /** One line for the notification title. May use `{{ $labels.x }}`. */
  readonly summary: string;
  /** What it means and what to look at first. */
  readonly description: string;
}

export interface AlertGroup {
  /** Name of the rule group (unique within the rule file). */
  readonly name: string;
  /** Evaluation interval of the group, Prometheus duration. */
  readonly interval: string;
  /** The alerts of the group, evaluated together every `interval`. */
  readonly rules: readonly AlertRule[];
}

const pct = (ratio: number) => `${Math.round(ratio * 100)} %`;
const R = METRIC;

export const PROXY_ALERTS: AlertGroup = {
  name: 'surgeguard-proxy',
  interval: '30s',
  rules: [
    {
      alert: 'SurgeguardHighErrorRatio',
      expr:
        `sum by (pool) (rate(${R.proxyRequests}{status=~"5.."}[2m]))` +
        ` / sum by (pool) (rate(${R.proxyRequests}[2m])) > ${THRESHOLDS.errorRatio}`,
      for: `${THRESHOLDS.errorRatioForMinutes}m`,
      severity: 'critical',
      summary: `More than ${pct(THRESHOLDS.errorRatio)} of requests to pool {{ $labels.pool }} fail with 5xx`,
      description:
        `The 5xx ratio of pool {{ $labels.pool }} has been above ${pct(THRESHOLDS.errorRatio)} for ` +
        `${THRESHOLDS.errorRatioForMinutes} minutes. Check upstream health, breaker state and the model servers.`,
    },
    {
      alert: 'SurgeguardHighP99Latency',
      expr:
        `histogram_quantile(0.99, sum by (pool, le) (rate(${R.proxyRequestDuration}_bucket[5m])))` +
        ` > ${THRESHOLDS.p99LatencySeconds}`,
      for: `${THRESHOLDS.p99LatencyForMinutes}m`,
      severity: 'critical',
      summary: `p99 latency of pool {{ $labels.pool }} is above ${THRESHOLDS.p99LatencySeconds} s`,
      description:
        `The 99th percentile of request duration of pool {{ $labels.pool }} has been above ` +
        `${THRESHOLDS.p99LatencySeconds} s for ${THRESHOLDS.p99LatencyForMinutes} minutes. Look at GPU saturation and the admission queue.`,
    },
    {
      alert: 'SurgeguardHighMedianLatency',
      expr:
        `histogram_quantile(0.5, sum by (pool, le) (rate(${R.proxyRequestDuration}_bucket[5m])))` +
        ` > ${THRESHOLDS.p50LatencySeconds}`,
      for: `${THRESHOLDS.p99LatencyForMinutes}m`,
      severity: 'warning',
      summary: `Median latency of pool {{ $labels.pool }} is above ${THRESHOLDS.p50LatencySeconds} s`,
      description:
        `The median request duration of pool {{ $labels.pool }} has been above ${THRESHOLDS.p50LatencySeconds} s ` +
        `for ${THRESHOLDS.p99LatencyForMinutes} minutes (normal is below 500 ms).`,
    },
    {
      alert: 'SurgeguardClientConnectionsSaturated',
      expr:
        `max by (instance) (${R.proxyClientConnections} / ${R.proxyClientConnectionsMax})` +
        ` > ${THRESHOLDS.connectionSaturation}`,
      for: '5m',
      severity: 'warning',
      summary: `Proxy {{ $labels.instance }} uses more than ${pct(THRESHOLDS.connectionSaturation)} of its connection pool`,
      description:
        `More than ${pct(THRESHOLDS.connectionSaturation)} of the client connections proxy {{ $labels.instance }} accepts ` +
        'have been open for 5 minutes; new connections will be refused. The HPA should add replicas; check its maximum.',
    },
    {
      alert: 'SurgeguardCircuitBreakerOpen',
      expr: `max by (pool, upstream) (${R.proxyBreakerState}) == ${BREAKER_STATE_OPEN}`,
      for: '1m',
      severity: 'warning',
      summary: 'Circuit breaker for upstream {{ $labels.upstream }} of pool {{ $labels.pool }} is open',
      description:
        'The proxy has stopped sending traffic to upstream {{ $labels.upstream }} for at least a minute because of its error rate. ' +
        'Traffic goes to the fallback pool; check the upstream.',
    },
    {
      alert: 'SurgeguardSheddingRequests',
      expr:
        `sum by (class) (rate(${R.proxyShed}{reason!="rate_limited"}[5m]))` +
        ` / sum by (class) (rate(${R.proxyRequests}[5m])) > ${THRESHOLDS.shedRatio}`,
      for: '5m',
      severity: 'warning',
      // A key over its own rate limit (reason rate_limited) is the client's problem, not a capacity shortage.
      summary: `The proxy sheds more than ${pct(THRESHOLDS.shedRatio)} of {{ $labels.class }} requests`,
      description:
        `More than ${pct(THRESHOLDS.shedRatio)} of {{ $labels.class }} requests have been shed (429/503) for 5 minutes: ` +
        'capacity is short. Check the GPU node groups and the HPA.',
    },
    {
      alert: 'SurgeguardSheddingCriticalTraffic',
      expr: `sum by (reason) (rate(${R.proxyShed}{class="critical",reason!="rate_limited"}[2m])) > 0`,
      for: '2m',
      severity: 'critical',
      summary: 'The proxy sheds critical requests ({{ $labels.reason }})',
      description:
        'Critical requests must keep flowing through a surge, and they have been shed for 2 minutes. ' +
        'Every lower class is already being shed; add GPU capacity now.',
    },
    {
      alert: 'SurgeguardMemberCapacityUnknown',
      // Every proxy replica scrapes every member and reports the same count: max, not sum, and by
      // pool only, so a replica replaced during the spell does not restart the `for` clock.
      expr: `max by (pool) (${R.proxyMembersWithoutCapacityGauges}) > 0`,
      for: `${THRESHOLDS.capacityUnknownForMinutes}m`,
      severity: 'warning',
      summary: 'The proxy cannot learn the capacity of members of pool {{ $labels.pool }}',
      description:
        `{{ $value }} scraped member(s) of pool {{ $labels.pool }} have had no declared slots and a /metrics without ` +
        `vLLM's running/waiting gauges (or no /metrics) for ${THRESHOLDS.capacityUnknownForMinutes} minutes: the pool's capacity is unknown, ` +
        'so its limit slow-starts and adapts instead of following the servers\' slots. The proxy log names each member ' +
        '("pool member does not make its capacity known"). Declare their slots (pools.{{ $labels.pool }}.upstreams[].slots or discover[].slots), ' +
        'or set admission.pools.{{ $labels.pool }}.saturation.enabled: false with adaptive.initial near the pool\'s capacity.',
    },
  ],
};

export const QUEUE_ALERTS: AlertGroup = {
  name: 'surgeguard-jobs',
  interval: '30s',
  rules: [
    {
      alert: 'SurgeguardJobBacklog',
      expr: `max by (queue) (${R.workerQueueDepth}) > ${THRESHOLDS.queueBacklog}`,
      for: `${THRESHOLDS.queueBacklogForMinutes}m`,
      severity: 'warning',
      summary: `More than ${THRESHOLDS.queueBacklog} jobs wait in queue {{ $labels.queue }}`,
      description:
        `Queue {{ $labels.queue }} has held more than ${THRESHOLDS.queueBacklog} ready jobs for ` +
        `${THRESHOLDS.queueBacklogForMinutes} minutes. The worker HPA should be scaling out; check its limits and the model servers.`,
    },
  ],
};

/** Every alert group surgeguard ships. */
export const ALERT_GROUPS: readonly AlertGroup[] = [PROXY_ALERTS, QUEUE_ALERTS];

/** The Prometheus rule file (YAML) for the given groups. Deterministic: same input, same bytes. */
export function renderRuleFile(groups: readonly AlertGroup[] = ALERT_GROUPS): string {
  const doc = {
    groups: groups.map((g) => ({
      name: g.name,
      interval: g.interval,
      rules: g.rules.map((r) => ({
        alert: r.alert,
        expr: r.expr,
        for: r.for,
        labels: { severity: r.severity, service: 'surgeguard' },
        annotations: { summary: r.summary, description: r.description },
      })),
    })),
  };
  return '# Generated from monitoring/alert-rules.ts by `npm run monitoring:render`. Do not edit.\n' +
    stringify(doc, { lineWidth: 0 });
}
