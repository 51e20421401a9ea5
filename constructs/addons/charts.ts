/**
 * The Helm charts the add-ons stack installs: repository, chart and exact version in one table, so a
 * chart upgrade is one reviewed line (and one line of synth diff per cluster).
 *
 * Images: every image a pinned chart renders is listed in `CHART_IMAGES` with the values path that
 * sets it, and surgeguard overrides each with a digest (`<tag>@sha256:…`, which the charts render as
 * `<repository>:<tag>@sha256:…`); each digest's source is noted next to it. Re-check them with
 * `crane digest <image>:<tag>` when bumping. There is no exemption: a test fails on any chart image
 * without a digest. The Secrets Store CSI driver and its AWS provider are not charts here: they come
 * as the EKS add-on `aws-secrets-store-csi-driver-provider`, pinned by add-on version
 * (`constructs/addons/secrets-store-csi.ts`), because AWS publishes no digest of the provider image.
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
  /** Fluent Bit (container stdout/stderr to CloudWatch Logs), app v3.2.10. */
  fluentBit: { repository: 'https://fluent.github.io/helm-charts', chart: 'fluent-bit', version: '0.48.10' },
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
  /**
   * prometheus-adapter v0.12.0 (chart 5.3.0's `image`; the chart renders `<repository>:<tag>`). Digest
   * from scality/metalk8s `buildchain/buildchain/versions.py` (commit 81173e2ef61536533b83cae37dfe79299fd87cb1,
   * "bump prometheus-adapter to 4.11.0", kept unchanged through its later releases), whose build pulls
   * `registry.k8s.io/prometheus-adapter/prometheus-adapter` by that digest; its earlier entries for
   * v0.9.1 and v0.10.0 equal the digests of the kubernetes/k8s.io promotion manifest
   * (`registry.k8s.io/images/k8s-staging-prometheus-adapter/images.yaml`), so it records the same
   * (multi-arch index) digests the registry serves.
   */
  prometheusAdapter: {
    repository: 'registry.k8s.io/prometheus-adapter/prometheus-adapter',
    tag: 'v0.12.0@sha256:932eae60e2bcf9c4660d6442da066ef1a79b4ea7cc232c61c7303069216ca006',
  },
  /**
   * Fluent Bit 3.2.10 (chart 0.48.10's `image`; with `digest` unset the chart renders `<repository>:<tag>`).
   * The same index digest is pinned by several unrelated public projects for `fluent/fluent-bit:3.2.10`
   * and `cr.fluentbit.io/fluent/fluent-bit:3.2.10` (Fluent Bit pushes one manifest to both registries),
   * e.g. a compose image table reading
   * `cr.fluentbit.io/fluent/fluent-bit:3.2.10@sha256:d6dec000…` and test harnesses pinning
   * `fluent/fluent-bit@sha256:d6dec000…` with linux/amd64 child `sha256:41370c4e…`.
   */
  fluentBit: {
    repository: 'cr.fluentbit.io/fluent/fluent-bit',
    tag: '3.2.10@sha256:d6dec000c4929a439562525728c708f6e99800d7ddc82efd6aa4f45f3a20b562',
  },
  /** SigV4-signing sidecar in front of Amazon Managed Prometheus for prometheus-adapter. */
  sigv4Proxy: {
    repository: 'public.ecr.aws/aws-observability/aws-sigv4-proxy',
    tag: '1.11.1@sha256:34bbec3cb98403d3e040ec1dadb53bb02285f70d2f0ead2d16435fd30980abaa',
  },
} as const satisfies Record<string, PinnedImage>;

/**
 * Every image each pinned chart version renders with the values surgeguard sets (read from the
 * chart's `values.yaml` and templates at that version), by the values path whose `repository`/`tag`
 * set it. Images of features left off (the CSI driver's Windows DaemonSet, the device plugin's
 * feature discovery) are not listed.
 */
export const CHART_IMAGES: Readonly<Record<string, readonly string[]>> = {
  [ADDON_CHARTS.nvidiaDevicePlugin.chart]: ['image'],
  [ADDON_CHARTS.metricsServer.chart]: ['image'],
  [ADDON_CHARTS.clusterAutoscaler.chart]: ['image'],
  [ADDON_CHARTS.prometheusAdapter.chart]: ['image'],
  // The chart's test hook (`testFramework.image`, busybox:latest) is disabled.
  [ADDON_CHARTS.fluentBit.chart]: ['image'],
};

/** Chart values are written as JSON (a YAML subset): deterministic, and parseable by tests. */
export function helmValues(values: Record<string, unknown>): string {
  return JSON.stringify(values, null, 2);
}

/**
 * The CustomResourceDefinitions a chart installs. A stack that installs one of these must not hold a
 * `kubernetes_manifest` of that kind: the Kubernetes provider reads a manifest's CRD at plan time.
 * (None of the charts installs one; the SecretProviderClass CRD comes from an EKS add-on: `EKS_ADDON_CRDS`.)
 */
export const CHART_CRDS: Readonly<Record<string, readonly string[]>> = {};

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
