/**
 * The Helm charts the add-ons stack installs: repository, chart and exact version in one table, so a
 * chart upgrade is one reviewed line (and one line of synth diff per cluster).
 *
 * Images: every image a pinned chart renders is listed in `CHART_IMAGES` with the values path that
 * sets it, and surgeguard overrides each with a digest (`<tag>@sha256:…`, which the charts render as
 * `<repository>:<tag>@sha256:…`); each digest's source is noted next to it. Re-check them with
 * `crane digest <image>:<tag>` when bumping. Two chart images have no digest source yet and keep
 * their chart's tag, listed with the reason in `UNPINNED_CHART_IMAGES` (a test fails on any other).
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
  /**
   * Secrets Store CSI driver v1.4.6 (chart 1.4.6's `linux.image`). Digest from the image promotion
   * manifest kubernetes/k8s.io `registry.k8s.io/images/k8s-staging-csi-secrets-store/images.yaml`
   * (commit 024a6a655d1ffcc69015729c8e086a93f6585c2f), which maps each registry.k8s.io digest to its tag.
   */
  secretsStoreDriver: {
    repository: 'registry.k8s.io/csi-secrets-store/driver',
    tag: 'v1.4.6@sha256:bbca998bc8803f0ffe9f5955a326eb6a7bf8bb0c42e44468317f6621b14b03a1',
  },
  /** The driver chart's CRD install/upgrade hook job (`linux.crds.image`), v1.4.6; same source as above. */
  secretsStoreDriverCrds: {
    repository: 'registry.k8s.io/csi-secrets-store/driver-crds',
    tag: 'v1.4.6@sha256:030feaeead7f3c7311418b6ef289f4ee83d95d06f5f8c22acd1ff4cfcea6583d',
  },
  /**
   * Node driver registrar v2.11.1 (`linux.registrarImage`). Digest from kubernetes/k8s.io
   * `registry.k8s.io/images/k8s-staging-sig-storage/images.yaml` (commit 0279c5e0c09cb9a8736659960cf0de2a2f27abaa).
   */
  csiNodeDriverRegistrar: {
    repository: 'registry.k8s.io/sig-storage/csi-node-driver-registrar',
    tag: 'v2.11.1@sha256:e01facb9fb9cffaf52d0053bdb979fbd8c505c8e411939a6e026dd061a6b4fbe',
  },
  /** CSI liveness probe v2.13.1 (`linux.livenessProbeImage`); same source as the registrar. */
  csiLivenessProbe: {
    repository: 'registry.k8s.io/sig-storage/livenessprobe',
    tag: 'v2.13.1@sha256:d2a9027a4876e039185e9bef7c61a0142c8ea14e7440860285c34ac73fee4ffb',
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
  [ADDON_CHARTS.secretsStoreCsiDriver.chart]: ['linux.image', 'linux.crds.image', 'linux.registrarImage', 'linux.livenessProbeImage'],
  [ADDON_CHARTS.secretsStoreAwsProvider.chart]: ['image'],
};

/**
 * Chart images still run by their chart's tag, each with why. The only exemptions from "images by
 * digest"; a test fails on any other unpinned chart image (and on an exemption that is no longer used).
 */
export const UNPINNED_CHART_IMAGES: ReadonlyArray<{ readonly chart: string; readonly path: string; readonly image: string; readonly reason: string }> = [
  {
    chart: ADDON_CHARTS.prometheusAdapter.chart,
    path: 'image',
    image: 'registry.k8s.io/prometheus-adapter/prometheus-adapter:v0.12.0',
    reason:
      'no published digest of v0.12.0 could be found (the stored kubernetes/k8s.io promotion manifest of k8s-staging-prometheus-adapter stops at v0.10.0); pin it with `crane digest` before production',
  },
  {
    chart: ADDON_CHARTS.secretsStoreAwsProvider.chart,
    path: 'image',
    image: 'public.ecr.aws/aws-secrets-manager/secrets-store-csi-driver-provider-aws:1.0.r2-58-g4ddce6a-2024.01.31.21.42',
    reason: 'AWS publishes no digest list for the ASCP image on Public ECR and none was found in public manifests; pin it with `crane digest` before production',
  },
];

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
