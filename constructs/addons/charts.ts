/**
 * The Helm charts the add-ons stack installs: repository, chart and exact version in one table, so a
 * chart upgrade is one reviewed line (and one line of synth diff per cluster).
 *
 * Images: where surgeguard overrides a chart's image it pins it by digest (`<tag>@sha256:…`, which
 * the charts render as `<repository>:<tag>@sha256:…`). The digests below were taken from public
 * manifests that pin the same tag; re-check them with `crane digest <image>:<tag>` when bumping.
 * The Secrets Store CSI driver and its AWS provider keep their charts' default images (tags of the
 * pinned chart version): their charts render several images (driver, registrar, liveness probe,
 * installer) and no digest of those tags was verified here. prometheus-adapter keeps its chart's
 * default image too (`registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0`, the appVersion).
 */
export interface HelmChart {
  /** Helm repository URL. */
  readonly repository: string;
  /** Chart name in the repository. */
  readonly chart: string;
  /** Exact chart version (never a range). */
  readonly version: string;
}

/** An image pinned by digest: what a chart's `image.repository` / `image.tag` values receive. */
export interface PinnedImage {
  /** Registry and repository, without tag. */
  readonly repository: string;
  /** `<tag>@sha256:<digest>`. */
  readonly tag: string;
}

export const ADDON_CHARTS = {
  /** NVIDIA device plugin (advertises `nvidia.com/gpu`), app v0.17.1. */
  nvidiaDevicePlugin: { repository: 'https://nvidia.github.io/k8s-device-plugin', chart: 'nvidia-device-plugin', version: '0.17.1' },
  /** metrics-server (resource metrics API: CPU/memory for HPAs), app v0.7.2. */
  metricsServer: { repository: 'https://kubernetes-sigs.github.io/metrics-server/', chart: 'metrics-server', version: '3.12.2' },
  /** Cluster Autoscaler (AWS provider, managed node groups auto-discovered by ASG tags). */
  clusterAutoscaler: { repository: 'https://kubernetes.github.io/autoscaler', chart: 'cluster-autoscaler', version: '9.46.6' },
  /** prometheus-adapter (custom.metrics.k8s.io and external.metrics.k8s.io from Prometheus), app v0.12.0. */
  prometheusAdapter: { repository: 'https://prometheus-community.github.io/helm-charts', chart: 'prometheus-adapter', version: '5.3.0' },
  /** Secrets Store CSI driver (installs the SecretProviderClass CRDs), app v1.4.6. */
  secretsStoreCsiDriver: { repository: 'https://kubernetes-sigs.github.io/secrets-store-csi-driver/charts', chart: 'secrets-store-csi-driver', version: '1.4.6' },
  /** AWS provider of the Secrets Store CSI driver (ASCP): Secrets Manager / Parameter Store through the pod's IRSA role. */
  secretsStoreAwsProvider: { repository: 'https://aws.github.io/secrets-store-csi-driver-provider-aws', chart: 'secrets-store-csi-driver-provider-aws', version: '0.3.6' },
} as const satisfies Record<string, HelmChart>;

export const ADDON_IMAGES = {
  nvidiaDevicePlugin: {
    repository: 'nvcr.io/nvidia/k8s-device-plugin',
    tag: 'v0.17.1@sha256:af31e2b7c7f89834c4e5219860def7ac2e49a207b3d4e8610d5a26772b7738e5',
  },
  metricsServer: {
    repository: 'registry.k8s.io/metrics-server/metrics-server',
    tag: 'v0.7.2@sha256:ffcb2bf004d6aa0a17d90e0247cf94f2865c8901dcab4427034c341951c239f9',
  },
  /** The autoscaler's minor version must match the cluster's (1.32). */
  clusterAutoscaler: {
    repository: 'registry.k8s.io/autoscaling/cluster-autoscaler',
    tag: 'v1.32.1@sha256:dfc7e06c58b3757e530a0be1b8af6f6fe38926f0f4da35d6f1b8a9a9e0bb78de',
  },
  /** SigV4-signing sidecar in front of Amazon Managed Prometheus for prometheus-adapter. */
  sigv4Proxy: {
    repository: 'public.ecr.aws/aws-observability/aws-sigv4-proxy',
    tag: '1.11.1@sha256:34bbec3cb98403d3e040ec1dadb53bb02285f70d2f0ead2d16435fd30980abaa',
  },
} as const satisfies Record<string, PinnedImage>;

/** Chart values are written as JSON (a YAML subset): deterministic, and parseable by tests. */
export function helmValues(values: Record<string, unknown>): string {
  return JSON.stringify(values, null, 2);
}

/**
 * The CustomResourceDefinitions a chart installs. A stack that installs one of these must not hold a
 * `kubernetes_manifest` of that kind: the Kubernetes provider reads a manifest's CRD at plan time.
 */
export const CHART_CRDS: Readonly<Record<string, readonly string[]>> = {
  [ADDON_CHARTS.secretsStoreCsiDriver.chart]: ['secrets-store.csi.x-k8s.io/SecretProviderClass', 'secrets-store.csi.x-k8s.io/SecretProviderClassPodStatus'],
};

/** Settings every add-on release shares: roll back a failed install or upgrade, keep a short history. */
export function releaseDefaults(chart: HelmChart) {
  return {
    repository: chart.repository,
    chart: chart.chart,
    version: chart.version,
    atomic: true,
    cleanupOnFail: true,
    wait: true,
    timeout: 600,
    maxHistory: 10,
  } as const;
}
