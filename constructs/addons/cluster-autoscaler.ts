import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import { NODE_POOL_LABEL } from '../cluster/node-group';
import { ADDON_CHARTS, ADDON_IMAGES, helmValues, PinnedImage, releaseDefaults } from './charts';

/** Namespace and service account of the Cluster Autoscaler (the IRSA trust of its role names them). */
export const CLUSTER_AUTOSCALER_SERVICE_ACCOUNT = { namespace: 'kube-system', name: 'cluster-autoscaler' } as const;

/** A managed node group and the priority the autoscaler's `priority` expander gives it. */
export interface NodeGroupPriority {
  /** EKS managed node group name (its ASG is `eks-<name>-<uuid>`). */
  readonly nodeGroupName: string;
  /** Higher wins when several groups could take a pending pod. */
  readonly priority: number;
}

export interface ClusterAutoscalerProps {
  /** EKS cluster name: node groups are auto-discovered by the ASG tags EKS sets (`k8s.io/cluster-autoscaler/<name>`). */
  readonly clusterName: string;
  /** AWS region of the cluster. */
  readonly region: string;
  /** Kubernetes minor version of the cluster (`1.32`); the autoscaler's minor version must match it. */
  readonly kubernetesVersion: string;
  /** IRSA role of the autoscaler (`ClusterAutoscalerRole.role.arn`). */
  readonly roleArn: string;
  /**
   * Priorities of the node groups (expander `priority`): the first group that can launch wins, and a
   * group that fails to launch within `maxNodeProvisionTime` (spot capacity gone) is backed off, so the
   * next one takes the pod. Every node group of the cluster should be listed.
   */
  readonly nodeGroupPriorities: readonly NodeGroupPriority[];
  /** Node selector of the autoscaler pod (on-demand CPU nodes, never the nodes it removes). @default { 'surgeguard.io/pool': 'cpu' } */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** How long a launched node may take to become ready before its group is backed off. GPU AMIs are large. @default '15m' */
  readonly maxNodeProvisionTime?: string;
  /** How long a node must be unneeded before it is removed. @default '10m' */
  readonly scaleDownUnneededTime?: string;
  /** Image, pinned by digest. @default ADDON_IMAGES.clusterAutoscaler */
  readonly image?: PinnedImage;
}

/** `^eks-<name>-<uuid>$`: the name of the Auto Scaling group EKS creates for a managed node group. */
export function managedNodeGroupAsgPattern(nodeGroupName: string): string {
  return `^eks-${nodeGroupName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f-]+$`;
}

/**
 * The Cluster Autoscaler (AWS provider) for the cluster's managed node groups: it adds nodes when pods
 * are pending (model servers the HPA added, for instance) and removes unneeded ones, within each
 * group's min/max. The on-demand GPU base is the on-demand group's `min` (never scaled below); surges go
 * to the diversified spot group first (priority expander) and fall back to on-demand when spot capacity
 * cannot be had. Scale-from-zero reads each group's labels and taints from the EKS API
 * (`eks:DescribeNodegroup`) and GPU counts from the instance types. Pods with emptyDir volumes (every
 * surgeguard pod has `/scratch`) do not pin a node (`skip-nodes-with-local-storage=false`).
 * Spot interruptions stay with the managed node groups' Capacity Rebalancing (they cordon and drain).
 * @see https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md
 */
export class ClusterAutoscaler extends Construct {
  /** The Helm release. */
  public readonly release: Release;
  /** The expander priorities as rendered (priority -> ASG name patterns). */
  public readonly expanderPriorities: Readonly<Record<string, readonly string[]>>;

  constructor(scope: Construct, id: string, props: ClusterAutoscalerProps) {
    super(scope, id);
    const where = `ClusterAutoscaler ${this.node.path}`;
    const image = props.image ?? ADDON_IMAGES.clusterAutoscaler;
    const imageMinor = /^v(\d+\.\d+)\./.exec(image.tag)?.[1];
    if (!Token.isUnresolved(props.kubernetesVersion) && imageMinor !== props.kubernetesVersion) {
      throw new Error(`${where}: image ${image.repository}:${image.tag} is for Kubernetes ${imageMinor ?? '?'}, the cluster runs ${props.kubernetesVersion} (kubernetesVersion): the minor versions must match`);
    }
    if (props.nodeGroupPriorities.length === 0) throw new Error(`${where}: nodeGroupPriorities must list the cluster's node groups`);
    const priorities: Record<string, string[]> = {};
    for (const p of props.nodeGroupPriorities) {
      if (!Number.isInteger(p.priority) || p.priority < 1) throw new Error(`${where}: nodeGroupPriorities: priority ${p.priority} of "${p.nodeGroupName}" must be a whole number >= 1`);
      (priorities[String(p.priority)] ??= []).push(managedNodeGroupAsgPattern(p.nodeGroupName));
    }
    this.expanderPriorities = priorities;

    this.release = new Release(this, 'release', {
      ...releaseDefaults(ADDON_CHARTS.clusterAutoscaler),
      name: 'cluster-autoscaler',
      namespace: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.namespace,
      values: [
        helmValues({
          fullnameOverride: 'cluster-autoscaler',
          cloudProvider: 'aws',
          awsRegion: props.region,
          autoDiscovery: { clusterName: props.clusterName },
          image: { repository: image.repository, tag: image.tag },
          rbac: {
            create: true,
            serviceAccount: {
              create: true,
              name: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.name,
              annotations: { 'eks.amazonaws.com/role-arn': props.roleArn },
            },
          },
          extraArgs: {
            expander: 'priority',
            'skip-nodes-with-local-storage': false,
            'balance-similar-node-groups': false,
            'max-node-provision-time': props.maxNodeProvisionTime ?? '15m',
            'scale-down-unneeded-time': props.scaleDownUnneededTime ?? '10m',
            'scale-down-delay-after-add': '10m',
            // Model servers get their whole grace period (weights flushed, streams finished).
            'max-graceful-termination-sec': 900,
          },
          expanderPriorities: priorities,
          nodeSelector: { ...(props.nodeSelector ?? { [NODE_POOL_LABEL]: 'cpu' }) },
          priorityClassName: 'system-cluster-critical',
        }),
      ],
    });
  }
}
