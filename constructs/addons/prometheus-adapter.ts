import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import { NODE_POOL_LABEL } from '../cluster/node-group';
import { PropsValidator } from '../private/validation';
import { ADDON_CHARTS, ADDON_IMAGES, helmValues, PinnedImage, releaseDefaults } from './charts';

/** Namespace and service account of the metrics adapter (the IRSA trust of its role names them). */
export const METRICS_ADAPTER_SERVICE_ACCOUNT = { namespace: 'kube-system', name: 'prometheus-adapter' } as const;

/** Port of the SigV4-signing sidecar on the adapter pod's loopback. */
export const SIGV4_PROXY_PORT = 8005;

/**
 * How a metric the HPAs name is computed from Prometheus series.
 * - `per-pod-sum`: a Pods metric; each pod's series summed (over their other labels, e.g. `class`).
 * - `shared-max`: an External metric that every pod reports identically (the worker's view of a
 *   broker queue): the maximum over the reporting pods per `groupBy` label, then summed over those
 *   groups, so N pods reporting the same queue count it once, not N times.
 */
export type AdapterAggregation = { readonly kind: 'per-pod-sum' } | { readonly kind: 'shared-max'; readonly groupBy: string };

/** One metric the adapter serves. */
export interface AdapterMetric {
  /** Name the HPA asks for (Kubernetes metric names cannot hold `:`). */
  readonly name: string;
  /** Prometheus series name as exported (vLLM's names carry a colon: `vllm:num_requests_waiting`). */
  readonly series: string;
  /** Pods metrics go to `custom.metrics.k8s.io`, External to `external.metrics.k8s.io`. */
  readonly type: 'Pods' | 'External';
  /** How the series are combined. */
  readonly aggregation: AdapterAggregation;
}

/** A prometheus-adapter discovery rule (`rules.custom[]` / `rules.external[]` of the chart). */
export interface AdapterRule {
  readonly seriesQuery: string;
  readonly resources: { readonly overrides: Readonly<Record<string, { readonly resource: string }>> };
  readonly name: { readonly matches: string; readonly as: string };
  readonly metricsQuery: string;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The adapter's rules for `metrics`: pure, so tests can run the queries (promtool) and parse the names. */
export function adapterRules(metrics: readonly AdapterMetric[]): { custom: AdapterRule[]; external: AdapterRule[] } {
  const custom: AdapterRule[] = [];
  const external: AdapterRule[] = [];
  for (const m of metrics) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(m.series)) throw new Error(`adapterRules: "${m.series}" is not a Prometheus metric name`);
    if (!/^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/.test(m.name)) throw new Error(`adapterRules: "${m.name}" is not a Kubernetes metric name`);
    const name = { matches: `^${escapeRegex(m.series)}$`, as: m.name };
    if (m.type === 'Pods') {
      if (m.aggregation.kind !== 'per-pod-sum') throw new Error(`adapterRules: Pods metric "${m.name}" must use per-pod-sum`);
      custom.push({
        seriesQuery: `${m.series}{namespace!="",pod!=""}`,
        resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
        name,
        metricsQuery: 'sum by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})',
      });
    } else {
      const metricsQuery =
        m.aggregation.kind === 'shared-max'
          ? `sum(max by (${m.aggregation.groupBy}) (<<.Series>>{<<.LabelMatchers>>}))`
          : 'sum(<<.Series>>{<<.LabelMatchers>>})';
      external.push({
        seriesQuery: `${m.series}{namespace!=""}`,
        // Namespaced: the HPA's namespace selects the series of its own workloads.
        resources: { overrides: { namespace: { resource: 'namespace' } } },
        name,
        metricsQuery,
      });
    }
  }
  const names = [...custom, ...external].map((r) => r.name.as);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`adapterRules: metric "${dup}" is defined twice`);
  return { custom, external };
}

export interface PrometheusAdapterProps {
  /** AWS region of the Amazon Managed Prometheus workspace. */
  readonly region: string;
  /** Workspace id (`ws-…`) the adapter queries. */
  readonly workspaceId: string;
  /** IRSA role allowed to query the workspace (`aps:QueryMetrics`, `aps:GetSeries`, …). */
  readonly roleArn: string;
  /** The metrics served to HPAs. */
  readonly metrics: readonly AdapterMetric[];
  /** Replicas of the adapter (HPAs on custom/external metrics stall while none answers). @default 2 */
  readonly replicas?: number;
  /** How often the adapter re-lists series (new metrics appear after at most this). @default '1m' */
  readonly relistInterval?: string;
  /** Node selector. @default { 'surgeguard.io/pool': 'cpu' } */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** SigV4 proxy sidecar image, pinned by digest. @default ADDON_IMAGES.sigv4Proxy */
  readonly sigv4ProxyImage?: PinnedImage;
  /** The adapter's image, pinned by digest. @default ADDON_IMAGES.prometheusAdapter */
  readonly image?: PinnedImage;
}

/**
 * prometheus-adapter serving the HPAs' Pods metrics (`custom.metrics.k8s.io`) and External metrics
 * (`external.metrics.k8s.io`) from Amazon Managed Prometheus, where the managed collector stores what
 * the pods export. AMP requires SigV4-signed queries, which the adapter cannot sign: an
 * `aws-sigv4-proxy` sidecar on the pod's loopback signs them with the pod's IRSA role. The chart's
 * default discovery rules are off (they would list every series of the workspace) and it serves no
 * resource metrics (metrics-server does).
 * Chosen over KEDA because the HPAs stay plain `autoscaling/v2` objects the workloads own (behaviour,
 * min/max, several metrics on one HPA) and nothing else has to own them.
 * @see https://github.com/kubernetes-sigs/prometheus-adapter/blob/master/docs/config.md
 */
export class PrometheusAdapter extends Construct {
  /** The Helm release. */
  public readonly release: Release;
  /** The discovery rules as rendered. */
  public readonly rules: { readonly custom: readonly AdapterRule[]; readonly external: readonly AdapterRule[] };

  constructor(scope: Construct, id: string, props: PrometheusAdapterProps) {
    super(scope, id);
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`PrometheusAdapter ${this.node.path}: replicas ${replicas} must be a whole number >= 1`);
    if (props.metrics.length === 0) throw new Error(`PrometheusAdapter ${this.node.path}: metrics must list at least one metric`);
    this.rules = adapterRules(props.metrics);
    const sidecar = props.sigv4ProxyImage ?? ADDON_IMAGES.sigv4Proxy;
    const image = props.image ?? ADDON_IMAGES.prometheusAdapter;
    const v = new PropsValidator('PrometheusAdapter', this.node.path);
    v.pinnedDigest('image.tag', image.tag);
    v.pinnedDigest('sigv4ProxyImage.tag', sidecar.tag);
    // The adapter's own container runs as 10001 (chart default); the sidecar too, so both can read
    // the projected IRSA token.
    const securityContext = {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    };
    this.release = new Release(this, 'release', {
      ...releaseDefaults(ADDON_CHARTS.prometheusAdapter),
      name: 'prometheus-adapter',
      namespace: METRICS_ADAPTER_SERVICE_ACCOUNT.namespace,
      values: [
        helmValues({
          fullnameOverride: 'prometheus-adapter',
          image: { repository: image.repository, tag: image.tag },
          replicas,
          podDisruptionBudget: replicas > 1 ? { enabled: true, maxUnavailable: 1 } : { enabled: false },
          metricsRelistInterval: props.relistInterval ?? '1m',
          prometheus: { url: 'http://127.0.0.1', port: SIGV4_PROXY_PORT, path: `/workspaces/${props.workspaceId}` },
          serviceAccount: {
            create: true,
            name: METRICS_ADAPTER_SERVICE_ACCOUNT.name,
            annotations: { 'eks.amazonaws.com/role-arn': props.roleArn },
          },
          rules: { default: false, custom: this.rules.custom, external: this.rules.external },
          extraContainers: [
            {
              name: 'aws-sigv4-proxy',
              image: `${sidecar.repository}:${sidecar.tag}`,
              args: ['--name', 'aps', '--region', props.region, '--host', `aps-workspaces.${props.region}.amazonaws.com`, '--port', `:${SIGV4_PROXY_PORT}`],
              ports: [{ name: 'sigv4', containerPort: SIGV4_PROXY_PORT, protocol: 'TCP' }],
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '64Mi' } },
              securityContext,
            },
          ],
          securityContext,
          nodeSelector: { ...(props.nodeSelector ?? { [NODE_POOL_LABEL]: 'cpu' }) },
          priorityClassName: 'system-cluster-critical',
        }),
      ],
    });
  }
}
