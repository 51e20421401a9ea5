import { Aspects, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { NamespaceV1 } from '@cdktf/provider-kubernetes/lib/namespace-v1';
import { ClusterMonitoring } from '../constructs/monitoring/cluster-monitoring';
import { InferenceWorkloads } from '../constructs/workloads/inference-workloads';
import { modelServerUrl } from '../constructs/workloads/names';
import { RuntimeArtifactObjects } from '../constructs/artifacts/runtime-artifact-objects';
import { loadRuntimeArtifacts, RuntimeArtifacts } from '../constructs/artifacts/runtime-artifacts';
import { proxyRuntimeConfig, workerRuntimeConfig } from '../constructs/workloads/runtime-configs';
import { RUNTIME_SECRET_ENV } from '../contract/secrets';
import { NAMESPACES, WORKER_CONTRACT } from '../contract/service';
import { EnvironmentConfig } from '../envs/types';
import { estimateStartupSeconds, resolveFootprint, weightsPrefix } from '../envs/serving-plan';
import { WeightsStagingJob } from '../constructs/workloads/weights-staging';
import { AddonsStack } from './addons-stack';
import { addKubernetesProvider } from './cluster-access';
import { addAwsProvider, addBackend, crossRegionKeySecretName, regionalDomainName, stackNames } from './common';
import { ImagesPinnedByDigest } from './images-pinned';
import { PlatformStack } from './platform-stack';

export interface WorkloadsStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
  /** The platform stack of the same region, whose cluster this stack deploys into. */
  readonly platform: PlatformStack;
  /** The bundles to deploy. @default - `loadRuntimeArtifacts()` (what `npm run bundle` built) */
  readonly artifacts?: RuntimeArtifacts;
  /**
   * The add-ons stack of the same cluster (CRDs, device plugin, autoscaler, metrics adapter, secret
   * delivery): applied before this one.
   */
  readonly addons?: AddonsStack;
  /**
   * The cell holding the environment's cross-region key (a multi-region environment): applied
   * before this stack, so the key's replica in this region exists when the proxies mount it.
   * @default - the proxies get the key only if the environment has more than one region; no ordering is added
   */
  readonly crossRegionKeyHolder?: PlatformStack;
}

/**
 * `<env>-<region>-workloads`: everything inside the cluster. Its Kubernetes provider reads the cluster
 * endpoint and CA from the platform stack (a cdktf cross-stack reference, i.e. remote state) and gets
 * tokens from `aws eks get-token` (exec), so it is only configured once the cluster exists — never in
 * the same plan that creates it — and outlives a long apply. Applied after the add-ons stack, whose
 * CRDs (SecretProviderClass) its manifests need at plan time.
 */
export class WorkloadsStack extends TerraformStack {
  /** The platform stack deployed into. */
  public readonly platform: PlatformStack;
  /** The Kubernetes provider bound to the platform stack's cluster. */
  public readonly kubernetesProvider: KubernetesProvider;
  /** The namespaces, by role. */
  public readonly namespaces: { readonly app: NamespaceV1; readonly inference: NamespaceV1; readonly monitoring: NamespaceV1 };
  /** Proxy, worker and model servers with their autoscaling, disruption budgets and policies. */
  public readonly workloads: InferenceWorkloads;
  /** The proxy's and worker's bundles in the region's artifact bucket, each readable by its own role only. */
  public readonly artifacts: { readonly proxy: RuntimeArtifactObjects; readonly worker: RuntimeArtifactObjects };
  /** Scraper RBAC and Grafana. */
  public readonly clusterMonitoring: ClusterMonitoring;
  /** Copies the model from the hub into the region's weights bucket (docs/weights-staging.md). */
  public readonly weightsStaging: WeightsStagingJob;

  constructor(scope: Construct, props: WorkloadsStackProps) {
    const env = props.environment;
    const region = props.platform.region.region;
    const name = stackNames.workloads(env.name, region);
    super(scope, name);
    this.platform = props.platform;
    this.addDependency(props.platform);
    if (props.addons) this.addDependency(props.addons);
    if (props.crossRegionKeyHolder && props.crossRegionKeyHolder !== props.platform) this.addDependency(props.crossRegionKeyHolder);
    addAwsProvider(this, env, region);
    addBackend(this, env, name);
    // Every image by digest, checked over everything this stack declares (the proxy and worker run
    // their bundles on the digest-pinned Node image, so nothing is exempt).
    Aspects.of(this).add(new ImagesPinnedByDigest());

    const cluster = props.platform.cluster;
    this.kubernetesProvider = addKubernetesProvider(this, cluster, region);

    const namespace = (key: keyof typeof NAMESPACES) => {
      const ns = NAMESPACES[key];
      return new NamespaceV1(this, `namespace-${key}`, {
        metadata: {
          name: ns.name,
          labels: {
            'app.kubernetes.io/part-of': 'surgeguard',
            'pod-security.kubernetes.io/enforce': ns.podSecurity,
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      });
    };
    this.namespaces = { app: namespace('app'), inference: namespace('inference'), monitoring: namespace('monitoring') };

    // Workloads and in-cluster monitoring (issue 3).
    const platform = props.platform;
    const gpu = platform.region.gpu;
    const workerDrainSeconds = WORKER_CONTRACT.terminationGracePeriodSeconds;
    const inferenceNamespace = this.namespaces.inference.metadata.name;
    const configInputs = {
      modelName: env.model.name,
      modelServerUrl: modelServerUrl(NAMESPACES.inference.name),
      modelServerSlots: env.model.maxConcurrentSequences,
      // a saturated cell spills to the other regions of the environment, in configuration order
      otherRegions: env.regions.filter((r) => r.region !== region).map((r) => ({ region: r.region, url: `https://${regionalDomainName(r.region, env.domain)}` })),
      redisHost: platform.redis.configurationEndpoint,
      redisReplicasPerShard: platform.redis.replicasPerShard,
      region,
      apiKeys: env.apiKeys,
      workerDrainSeconds,
      externalProvider: env.externalProvider && {
        url: env.externalProvider.baseUrl,
        model: env.externalProvider.model,
        classes: env.externalProvider.classes,
        maxConcurrency: env.externalProvider.maxConcurrency,
      },
    };
    const secrets = {
      redis: { envName: RUNTIME_SECRET_ENV.redisAuthToken, secretArn: platform.redis.authToken.secretArn },
      amqp: { envName: RUNTIME_SECRET_ENV.amqpUrl, secretArn: platform.messageQueue.connectionUrlSecretArn },
    };
    // By name, not ARN: the CSI driver reads the copy in the pod's region (the replica), and this
    // stack needs no state of the cell holding the key (the deploy runner reads this cell's only).
    const proxyOnly = [
      ...(env.regions.length > 1 ? [{ envName: RUNTIME_SECRET_ENV.crossRegionKey, secretArn: crossRegionKeySecretName(env.name) }] : []),
      ...(env.externalProvider ? [{ envName: RUNTIME_SECRET_ENV.externalProviderKey, secretArn: env.externalProvider.apiKeySecretName }] : []),
    ];
    // The exact bytes `npm run bundle` built, uploaded under their SHA-256 and read by their own role.
    const bundles = props.artifacts ?? loadRuntimeArtifacts();
    const store = platform.artifactStore;
    const objects = (key: 'proxy' | 'worker') => {
      const o = new RuntimeArtifactObjects(this, `artifact-${key}`, {
        artifact: bundles[key],
        bucketName: store.bucket.bucket,
        bucketArn: store.bucket.arn,
        kmsKeyArn: store.key.arn,
        region,
      });
      o.grantRead(platform.workloadRoles[key].name);
      return o;
    };
    this.artifacts = { proxy: objects('proxy'), worker: objects('worker') };
    // The settled serving plan (validateEnvironment has checked it fits): context, memory share, load time.
    const footprint = resolveFootprint(env.model);
    if ('problem' in footprint) throw new Error(`environment "${env.name}": ${footprint.field}: ${footprint.problem}`);
    this.weightsStaging = new WeightsStagingJob(this, 'weights-staging', {
      namespace: inferenceNamespace,
      image: env.model.image,
      modelId: env.model.modelId,
      revision: env.model.revision ?? 'main',
      bucketName: platform.modelWeights.bucket.bucket,
      prefix: weightsPrefix(env.model.modelId),
      kmsKeyArn: platform.modelWeights.key.arn,
      roleArn: platform.workloadRoles.weightsStager.arn,
      region,
      weightsGB: footprint.weightsGB,
    });
    this.workloads = new InferenceWorkloads(this, 'workloads', {
      appNamespace: this.namespaces.app.metadata.name,
      inferenceNamespace,
      modelServer: {
        image: env.model.image,
        modelId: env.model.modelId,
        weights: { s3Uri: platform.modelWeightsUri, region, roleArn: platform.workloadRoles.modelServer.arn },
        maxModelLength: footprint.maxModelLength,
        gpuMemoryUtilization: footprint.gpuMemoryUtilization,
        startupSeconds: estimateStartupSeconds(footprint.weightsGB),
        servedModelName: env.model.name,
        tensorParallelSize: gpu.gpusPerReplica,
        quantization: env.model.quantization,
        maxConcurrentSequences: env.model.maxConcurrentSequences,
        // One replica per node of the on-demand base (at least one); the spot group takes the rest.
        minReplicas: Math.max(gpu.onDemand.min, 1),
        maxReplicas: Math.max(gpu.onDemand.max + gpu.spot.max, Math.max(gpu.onDemand.min, 1)),
      },
      proxy: {
        artifact: this.artifacts.proxy,
        config: proxyRuntimeConfig(configInputs),
        secretEnv: [secrets.redis, secrets.amqp, ...proxyOnly],
        roleArn: platform.workloadRoles.proxy.arn,
      },
      worker: {
        artifact: this.artifacts.worker,
        config: workerRuntimeConfig(configInputs),
        secretEnv: [secrets.redis, secrets.amqp],
        roleArn: platform.workloadRoles.worker.arn,
        drainSeconds: workerDrainSeconds,
      },
      // Exactly the collector's own subnets (constructs/network): no pod IP is ever taken from them.
      metricsScraperCidrs: platform.network.scraperSubnetCidrs,
      launcher: bundles.launcher,
    });
    this.clusterMonitoring = new ClusterMonitoring(this, 'cluster-monitoring', {
      namespace: this.namespaces.monitoring.metadata.name,
      prometheusEndpoint: platform.monitoring.prometheusEndpoint,
      region,
      grafanaRoleArn: platform.workloadRoles.grafana.arn,
    });
  }
}
