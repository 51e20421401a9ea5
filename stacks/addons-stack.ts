import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { HelmProvider } from '@cdktf/provider-helm/lib/provider';
import { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group';
import { ClusterAutoscaler, NodeGroupPriority } from '../constructs/addons/cluster-autoscaler';
import { MetricsServer } from '../constructs/addons/metrics-server';
import { NvidiaDevicePlugin } from '../constructs/addons/nvidia-device-plugin';
import { AdapterMetric, PrometheusAdapter } from '../constructs/addons/prometheus-adapter';
import { ContainerLogShipper } from '../constructs/addons/fluent-bit';
import { EnvironmentConfig } from '../envs/types';
import { METRIC } from '../contract/metrics';
import { addHelmProvider } from './cluster-access';
import { addBackend, stackNames } from './common';
import { PlatformStack } from './platform-stack';

/**
 * The metrics the workloads' HPAs name, and how the adapter computes each. vLLM exports
 * `vllm:num_requests_waiting` (a colon, which a Kubernetes metric name cannot hold); every worker
 * reports the depth of every class queue, so the queue depth is taken once per queue (max), not
 * summed over workers.
 */
export const HPA_ADAPTER_METRICS: readonly AdapterMetric[] = [
  { name: 'vllm_num_requests_waiting', series: 'vllm:num_requests_waiting', type: 'Pods', aggregation: { kind: 'per-pod-sum' } },
  { name: METRIC.proxyInflightRequests, series: METRIC.proxyInflightRequests, type: 'Pods', aggregation: { kind: 'per-pod-sum' } },
  { name: METRIC.workerQueueDepth, series: METRIC.workerQueueDepth, type: 'External', aggregation: { kind: 'shared-max', groupBy: 'queue' } },
];

/** Priorities of the node groups for the autoscaler: spot GPUs take a surge first, on-demand when spot is gone. */
export const NODE_GROUP_PRIORITY = { gpuSpot: 50, gpuOnDemand: 10, cpu: 10 } as const;

export interface AddonsStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
  /** The platform stack whose cluster receives the add-ons. */
  readonly platform: PlatformStack;
}

/**
 * `<env>-<region>-addons`: the cluster add-ons the workloads need, applied after the platform stack
 * (the cluster, its node groups and the add-ons' IAM roles) and before the workloads stack:
 * the NVIDIA device plugin, metrics-server, the Cluster Autoscaler, prometheus-adapter over Amazon
 * Managed Prometheus, and Fluent Bit shipping every container's logs to the platform stack's CloudWatch
 * Logs groups. (The Secrets Store
 * CSI driver and its AWS provider are an EKS add-on of the platform stack, `SecretsStoreCsi`: AWS
 * resources stay out of this stack.) Helm releases only — no AWS resources, so no AWS credentials beyond
 * the state backend and an EKS token; the Helm provider authenticates with `aws eks get-token`.
 */
export class AddonsStack extends TerraformStack {
  /** The platform stack deployed into. */
  public readonly platform: PlatformStack;
  /** The Helm provider bound to the platform stack's cluster. */
  public readonly helmProvider: HelmProvider;
  /** Advertises `nvidia.com/gpu` on the GPU nodes (absent when the cluster has no GPU group). */
  public readonly nvidiaDevicePlugin?: NvidiaDevicePlugin;
  /** Resource metrics (CPU) for HPAs. */
  public readonly metricsServer: MetricsServer;
  /** Adds and removes nodes of every node group. */
  public readonly clusterAutoscaler: ClusterAutoscaler;
  /** Custom and external metrics for HPAs. */
  public readonly metricsAdapter: PrometheusAdapter;
  /** Container stdout/stderr -> the platform stack's CloudWatch Logs groups. */
  public readonly containerLogs: ContainerLogShipper;

  constructor(scope: Construct, props: AddonsStackProps) {
    const env = props.environment;
    const platform = props.platform;
    const region = platform.region.region;
    const name = stackNames.addons(env.name, region);
    super(scope, name);
    this.platform = platform;
    this.addDependency(platform);
    addBackend(this, env, name);
    const cluster = platform.cluster;
    this.helmProvider = addHelmProvider(this, cluster, region);

    const gpuGroups = [cluster.gpuOnDemandNodeGroup, cluster.gpuSpotNodeGroup].filter((g): g is EksNodeGroup => g !== undefined);
    if (gpuGroups.length > 0) this.nvidiaDevicePlugin = new NvidiaDevicePlugin(this, 'nvidia-device-plugin');
    this.metricsServer = new MetricsServer(this, 'metrics-server');

    const priority = (group: EksNodeGroup | undefined, value: number): NodeGroupPriority[] =>
      group ? [{ nodeGroupName: group.nodeGroupNameInput!, priority: value }] : [];
    this.clusterAutoscaler = new ClusterAutoscaler(this, 'cluster-autoscaler', {
      clusterName: cluster.clusterName,
      region,
      kubernetesVersion: env.kubernetesVersion,
      roleArn: platform.addonRoles.clusterAutoscaler.role.arn,
      nodeGroupPriorities: [
        ...priority(cluster.cpuNodeGroup, NODE_GROUP_PRIORITY.cpu),
        ...priority(cluster.gpuOnDemandNodeGroup, NODE_GROUP_PRIORITY.gpuOnDemand),
        ...priority(cluster.gpuSpotNodeGroup, NODE_GROUP_PRIORITY.gpuSpot),
      ],
    });
    this.metricsAdapter = new PrometheusAdapter(this, 'metrics-adapter', {
      region,
      workspaceId: platform.monitoring.workspace.id,
      roleArn: platform.addonRoles.metricsAdapter.arn,
      metrics: HPA_ADAPTER_METRICS,
    });
    const logs = platform.containerLogs;
    this.containerLogs = new ContainerLogShipper(this, 'container-logs', {
      region,
      streams: logs.streams.map((s) => ({ ...s, logGroupName: logs.groupNames[s.key] })),
      roleArn: logs.shipperRole.arn,
    });
  }
}
