import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { ArtifactStore } from '../constructs/artifacts/artifact-store';
import { ClusterAutoscalerRole } from '../constructs/addons/cluster-autoscaler-role';
import { METRICS_ADAPTER_SERVICE_ACCOUNT } from '../constructs/addons/prometheus-adapter';
import { SecretsStoreCsi } from '../constructs/addons/secrets-store-csi';
import { InferenceCluster } from '../constructs/cluster/inference-cluster';
import { Network } from '../constructs/network/network';
import { RegionalLoadBalancer } from '../constructs/entry/regional-load-balancer';
import { acceleratorDomainName } from '../constructs/gslb/global-traffic-manager';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { GRAFANA_SERVICE_ACCOUNT } from '../constructs/monitoring/cluster-monitoring';
import { ExistingSecret } from '../constructs/data/existing-secret';
import { GeneratedSecret } from '../constructs/data/generated-secret';
import { MessageQueue } from '../constructs/data/message-queue';
import { Monitoring } from '../constructs/monitoring/monitoring';
import { ContainerLogGroups, ContainerLogStream } from '../constructs/monitoring/container-logs';
import { RedisCluster } from '../constructs/data/redis-cluster';
import { ModelWeightsBucket } from '../constructs/data/model-weights-bucket';
import { weightsPrefix } from '../envs/serving-plan';
import { NAMESPACES, WORKLOAD_NAMES } from '../contract/service';
import { EnvironmentConfig, RegionConfig } from '../envs/types';
import { DeployRunner } from '../constructs/deploy/deploy-runner';
import { WEIGHTS_STAGER_NAME } from '../constructs/workloads/weights-staging';
import { addAwsProvider, addBackend, crossRegionKeySecretName, deployBundleKey, regionalDomainName, shortRegion, stackNames, stateKey } from './common';

/**
 * Where the cell's container logs go: one log group per surgeguard namespace (proxy and worker; model
 * servers and the weights Job; Grafana and the monitoring pods) and one for every other namespace
 * (kube-system, the add-ons).
 */
export const CELL_CONTAINER_LOG_STREAMS: readonly ContainerLogStream[] = [
  { key: 'app', namespaces: [NAMESPACES.app.name] },
  { key: 'inference', namespaces: [NAMESPACES.inference.name] },
  { key: 'monitoring', namespaces: [NAMESPACES.monitoring.name] },
  { key: 'system', namespaces: 'rest' },
];

export interface PlatformStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
  /** The region of this cell; one of `environment.regions`. */
  readonly region: RegionConfig;
  /** Route 53 zone for certificate validation and the regional record (the DNS stack's zone or `environment.hostedZoneId`). */
  readonly hostedZoneId: string;
}

/**
 * `<env>-<region>`: one active-active cell without Kubernetes resources — network, EKS cluster with its
 * node groups, and the NLB -> ALB entry in front of the proxy NodePort on the CPU nodes. Data stores and
 * CloudWatch monitoring are added here too; in-cluster resources go to the workloads stack.
 */
export class PlatformStack extends TerraformStack {
  /** The environment this cell belongs to. */
  public readonly environment: EnvironmentConfig;
  /** The region config of this cell. */
  public readonly region: RegionConfig;
  /** Base name of the cell's resources: `surgeguard-<env>-<short region>`. */
  public readonly baseName: string;
  /** Public DNS name of this region only: `<region>.<domain>`. */
  public readonly regionalDomainName: string;
  /** The VPC and subnets. */
  public readonly network: Network;
  /** The EKS cluster and node groups. */
  public readonly cluster: InferenceCluster;
  /** The NLB -> ALB entry. */
  public readonly loadBalancer: RegionalLoadBalancer;
  /** Managed Prometheus, alert routing, CloudWatch alarms of the cell. */
  public readonly monitoring: Monitoring;
  /** The ElastiCache cluster (rate limits, cache, job results). */
  public readonly redis: RedisCluster;
  /** The RabbitMQ broker (asynchronous jobs). */
  public readonly messageQueue: MessageQueue;
  /** Private bucket of the runtime bundles the workloads stack uploads and the pods fetch. */
  public readonly artifactStore: ArtifactStore;
  /** IRSA roles of the in-cluster workloads (deployed by the workloads stack). */
  public readonly workloadRoles: { readonly proxy: IamRole; readonly worker: IamRole; readonly grafana: IamRole; readonly modelServer: IamRole; readonly weightsStager: IamRole };
  /** The regional bucket the model servers stream their weights from. */
  public readonly modelWeights: ModelWeightsBucket;
  /** `s3://<bucket>/<model id>/`: where this environment's model is staged in the region. */
  public readonly modelWeightsUri: string;
  /**
   * Secret delivery (Secrets Store CSI driver + AWS provider, an EKS add-on): here, not in the add-ons
   * stack, because it is an AWS resource; its CRD exists before the workloads stack is planned.
   */
  public readonly secretsStore: SecretsStoreCsi;
  /** Container log groups (KMS, retention) and the shipper's role; the add-ons stack installs the shipper. */
  public readonly containerLogs: ContainerLogGroups;
  /** IRSA roles of the cluster add-ons (deployed by the add-ons stack). */
  public readonly addonRoles: { readonly clusterAutoscaler: ClusterAutoscalerRole; readonly metricsAdapter: IamRole };
  /** The external provider's API key (the secret the environment names), readable by the proxy role only. */
  public readonly externalProviderKey?: ExistingSecret;
  /**
   * The environment's cross-region key, when this is the cell that holds it (the first region of
   * a multi-region environment; see {@link PlatformStack.holdCrossRegionKey}).
   */
  public get crossRegionKey(): GeneratedSecret | undefined {
    return this._crossRegionKey;
  }
  private _crossRegionKey: GeneratedSecret | undefined;
  /**
   * The in-VPC runner that applies the add-ons and workloads stacks through the private API endpoint
   * (environments with S3 state only: the runner needs the state where it can read it).
   */
  public readonly deployRunner?: DeployRunner;

  constructor(scope: Construct, props: PlatformStackProps) {
    const env = props.environment;
    const region = props.region;
    const name = stackNames.platform(env.name, region.region);
    super(scope, name);
    this.environment = env;
    this.region = region;
    const short = shortRegion(region.region);
    this.baseName = `surgeguard-${env.name}-${short}`;
    this.regionalDomainName = regionalDomainName(region.region, env.domain);
    addAwsProvider(this, env, region.region);
    addBackend(this, env, name);

    this.network = new Network(this, 'network', {
      name: this.baseName,
      region: region.region,
      cidrBlock: region.vpcCidr,
      availabilityZoneCount: region.azCount,
      natGateways: region.natGateways,
      flowLogRetentionDays: env.logRetentionDays,
    });
    this.cluster = new InferenceCluster(this, 'cluster', {
      name: this.baseName,
      region: region.region,
      kubernetesVersion: env.kubernetesVersion,
      subnetIds: this.network.privateSubnetIds,
      publicAccessCidrs: env.clusterPublicAccessCidrs,
      adminPrincipalArns: env.clusterAdminPrincipalArns,
      cpuNodes: region.cpuNodes,
      gpuOnDemand: region.gpu.onDemand,
      gpuSpot: region.gpu.spot,
      logRetentionDays: env.logRetentionDays,
    });
    this.loadBalancer = new RegionalLoadBalancer(this, 'entry', {
      name: `${env.name}-${short}`,
      vpcId: this.network.vpcId,
      publicSubnetIds: this.network.publicSubnetIds,
      privateSubnetIds: this.network.privateSubnetIds,
      domainName: env.domain,
      certificateArn: region.certificateArn,
      hostedZoneId: props.hostedZoneId,
      regionalDomainName: this.regionalDomainName,
      // The accelerator forwards TCP to this NLB and TLS ends at the ALB: its name must be on the certificate.
      additionalCertificateNames: env.globalAccelerator ? [acceleratorDomainName(env.domain)] : [],
      targetSecurityGroupId: this.cluster.clusterSecurityGroupId,
      targetAutoScalingGroupNames: [this.cluster.cpuAutoScalingGroupName],
      deletionProtection: env.deletionProtection,
    });

    // Data stores and monitoring (issue 3): private, reachable from the cluster's nodes only.
    this.monitoring = new Monitoring(this, 'monitoring', {
      name: this.baseName,
      region: region.region,
      clusterName: this.cluster.clusterName,
      clusterArn: this.cluster.cluster.arn,
      // Dedicated /28s (no pod ever gets an address there): the model servers' NetworkPolicy admits exactly these.
      scraperSubnetIds: this.network.scraperSubnetIds,
      scraperSecurityGroupIds: [this.cluster.clusterSecurityGroupId],
      loadBalancer: { albArnSuffix: this.loadBalancer.alb.arnSuffix, targetGroupArnSuffix: this.loadBalancer.proxyTargetGroup.arnSuffix },
      logRetentionDays: env.logRetentionDays,
    });
    // Created before any shipper runs: the shipper may not create groups, so none is ever unencrypted or kept forever.
    this.containerLogs = new ContainerLogGroups(this, 'container-logs', {
      name: this.baseName,
      region: region.region,
      cluster: this.cluster,
      streams: CELL_CONTAINER_LOG_STREAMS,
      retentionDays: env.logRetentionDays,
    });
    const alarmTopicArn = this.monitoring.alarmTopic.arn;
    this.redis = new RedisCluster(this, 'redis', {
      name: this.baseName,
      vpcId: this.network.vpcId,
      subnetIds: this.network.privateSubnetIds,
      allowedSecurityGroupIds: [this.cluster.clusterSecurityGroupId],
      nodeType: region.redis.nodeType,
      shards: region.redis.shards,
      replicasPerShard: region.redis.replicasPerShard,
      snapshotRetentionDays: region.redis.snapshotRetentionDays,
      alarmTopicArn,
      logRetentionDays: env.logRetentionDays,
    });
    this.messageQueue = new MessageQueue(this, 'queue', {
      name: this.baseName,
      vpcId: this.network.vpcId,
      subnetIds: this.network.privateSubnetIds,
      allowedSecurityGroupIds: [this.cluster.clusterSecurityGroupId],
      instanceType: region.messageQueue.instanceType,
      deploymentMode: region.messageQueue.deploymentMode,
      alarmTopicArn,
    });
    this.artifactStore = new ArtifactStore(this, 'artifacts', { name: this.baseName, region: region.region });
    const appNamespace = NAMESPACES.app.name;
    const role = (id: string, namespace: string, serviceAccount: string) => this.cluster.createServiceAccountRole(id, { namespace, serviceAccount });
    this.workloadRoles = {
      proxy: role('proxy-role', appNamespace, WORKLOAD_NAMES.proxy),
      worker: role('worker-role', appNamespace, WORKLOAD_NAMES.worker),
      grafana: role('grafana-role', NAMESPACES.monitoring.name, GRAFANA_SERVICE_ACCOUNT),
      modelServer: role('model-server-role', NAMESPACES.inference.name, WORKLOAD_NAMES.modelServer),
      weightsStager: role('weights-stager-role', NAMESPACES.inference.name, WEIGHTS_STAGER_NAME),
    };
    // Weights staged once per region (docs/weights-staging.md); the model servers read one prefix.
    this.modelWeights = new ModelWeightsBucket(this, 'model-weights', {
      name: this.baseName,
      region: region.region,
      forceDestroy: !env.deletionProtection,
    });
    const prefix = weightsPrefix(env.model.modelId);
    this.modelWeightsUri = this.modelWeights.uri(prefix);
    this.modelWeights.grantRead(this.workloadRoles.modelServer.name, prefix, 'model-server-read');
    // The staging Job (workloads stack) writes that one prefix; the model servers stay read-only.
    this.modelWeights.grantStage(this.workloadRoles.weightsStager.name, prefix, 'weights-stager-write');
    this.redis.grantReadAuthToken(this.workloadRoles.proxy.name, 'proxy-read');
    this.redis.grantReadAuthToken(this.workloadRoles.worker.name, 'worker-read');
    this.messageQueue.grantReadCredentials(this.workloadRoles.proxy.name, 'proxy-read');
    this.messageQueue.grantReadCredentials(this.workloadRoles.worker.name, 'worker-read');
    this.monitoring.grantQuery(this.workloadRoles.grafana.name, 'grafana-query');
    this.addonRoles = {
      clusterAutoscaler: new ClusterAutoscalerRole(this, 'cluster-autoscaler', { cluster: this.cluster, region: region.region }),
      metricsAdapter: role('metrics-adapter-role', METRICS_ADAPTER_SERVICE_ACCOUNT.namespace, METRICS_ADAPTER_SERVICE_ACCOUNT.name),
    };
    this.monitoring.grantQuery(this.addonRoles.metricsAdapter.name, 'metrics-adapter-query');
    if (env.externalProvider) {
      // the secret the user created in this region: its ARN only, for the proxies only
      this.externalProviderKey = new ExistingSecret(this, 'external-provider-key', { name: env.externalProvider.apiKeySecretName });
      this.externalProviderKey.grantRead(this.workloadRoles.proxy.name, 'proxy-read');
    }
    // The proxy and worker (CPU pool) mount secrets: the driver's DaemonSets need the CPU nodes.
    this.secretsStore = new SecretsStoreCsi(this, 'secrets-store', {
      clusterName: this.cluster.clusterName,
      kubernetesVersion: env.kubernetesVersion,
      dependsOn: [this.cluster.cpuNodeGroup],
    });

    if (env.backend.type === 's3') {
      const kubernetesStacks = [stackNames.addons(env.name, region.region), stackNames.workloads(env.name, region.region)];
      this.deployRunner = new DeployRunner(this, 'deploy-runner', {
        name: this.baseName,
        region: region.region,
        vpcId: this.network.vpcId,
        subnetIds: this.network.privateSubnetIds,
        clusterName: this.cluster.clusterName,
        clusterSecurityGroupId: this.cluster.clusterSecurityGroupId,
        stateBucket: env.backend.bucket,
        stateKmsKeyId: env.backend.kmsKeyId,
        readStateKeys: [stateKey(env, name)!],
        writeStateKeys: kubernetesStacks.map((s) => stateKey(env, s)!),
        bundleKey: deployBundleKey(env, region.region),
        stacks: kubernetesStacks,
        logRetentionDays: env.logRetentionDays,
      });
    }

    const out = (id: string, value: unknown, description: string) => new TerraformOutput(this, id, { value, description });
    out('vpc_id', this.network.vpcId, 'VPC of the cell');
    out('private_subnet_ids', this.network.privateSubnetIds, 'Private subnets (compute and data)');
    out('cluster_name', this.cluster.clusterName, 'EKS cluster name (aws eks update-kubeconfig --name ...)');
    out('cluster_endpoint', this.cluster.clusterEndpoint, 'Kubernetes API endpoint (private unless public CIDRs are configured)');
    out('cluster_oidc_provider_arn', this.cluster.oidcProvider.arn, 'IAM OIDC provider for IRSA');
    out('nlb_dns_name', this.loadBalancer.dnsName, 'Public NLB of the region');
    out('alb_dns_name', this.loadBalancer.alb.dnsName, 'Internal ALB behind the NLB');
    out('static_ips', this.loadBalancer.staticAddresses.map((e) => e.publicIp), 'Static public addresses of the NLB, one per zone');
    out('model_weights_uri', this.modelWeightsUri, 'Where to stage the model weights of this region (docs/weights-staging.md)');
    out('regional_domain_name', this.regionalDomainName, 'DNS name of this region only');
    if (this.deployRunner) out('deploy_runner_project', this.deployRunner.projectName, 'CodeBuild project that applies the add-ons and workloads stacks from inside the VPC');
  }
  /**
   * Makes this cell hold the environment's cross-region key: the key a region's proxies send when
   * they spill to another region, and accept from the others (`RUNTIME_SECRET_ENV.crossRegionKey`).
   * One value generated by AWS (never in synth output), kept in Secrets Manager as
   * `crossRegionKeySecretName(env)` here, with a replica in every other cell's region that AWS keeps
   * in sync; each copy is encrypted with its region's Redis key (the key of the cell's other
   * runtime secret), and each region's proxy role may read the copy of its own region only.
   * Called on the first region's cell once every cell exists: this stack then depends on the
   * others (their keys and proxy roles), so it is applied after them (`cdktf deploy` orders it).
   */
  public holdCrossRegionKey(cells: readonly PlatformStack[]): GeneratedSecret {
    if (this._crossRegionKey) throw new Error(`PlatformStack ${this.node.id}: holds the cross-region key already`);
    const others = cells.filter((c) => c !== this);
    const env = this.environment.name;
    const key = new GeneratedSecret(this, 'cross-region-key', {
      name: crossRegionKeySecretName(env),
      description: `Key the regions of surgeguard environment ${env} call each other with (cross-region spill)`,
      // an Authorization header value: letters and digits only
      length: 64,
      excludePunctuation: true,
      kmsKeyArn: this.redis.kmsKeyArn,
      region: this.region.region,
      replicas: others.map((c) => ({ region: c.region.region, kmsKeyArn: c.redis.kmsKeyArn })),
    });
    key.grantRead(this.workloadRoles.proxy.name, 'proxy-read', this.region.region);
    for (const c of others) key.grantRead(c.workloadRoles.proxy.name, `proxy-read-${c.region.region}`, c.region.region);
    this._crossRegionKey = key;
    return key;
  }
}
