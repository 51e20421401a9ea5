import { ITerraformDependable, Token } from 'cdktf';
import { Construct } from 'constructs';
import { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { isUnresolved, PropsValidator } from '../private/validation';

/** Label every surgeguard node carries: which pool it belongs to (`cpu` or `gpu`). */
export const NODE_POOL_LABEL = 'surgeguard.io/pool';
/** Label telling the purchase option of a node (`on-demand` or `spot`), for affinities that prefer the base. */
export const CAPACITY_LABEL = 'surgeguard.io/capacity';
/**
 * Label the Cluster Autoscaler's AWS provider reads to know a node has GPUs: it then treats a new GPU
 * node as not ready until the device plugin advertises `nvidia.com/gpu` (no second scale-up meanwhile).
 */
export const GPU_ACCELERATOR_LABEL = 'k8s.amazonaws.com/accelerator';
/** Taint on every GPU node: only pods that tolerate it (the model servers) land there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' } as const;

/** Instance types and scaling bounds of a node group. */
export interface NodeGroupSize {
  /** EC2 instance types, in order of preference. At least one. */
  readonly instanceTypes: readonly string[];
  /** Smallest number of nodes. */
  readonly min: number;
  /** Largest number of nodes. */
  readonly max: number;
  /** Nodes at creation; the cluster autoscaler owns the number afterwards. */
  readonly desired: number;
}

export interface NodeGroupProps {
  /** Name of the EKS cluster the group joins. */
  readonly clusterName: string;
  /** Prefix of the names (the cluster's name): the group and its launch template are `<namePrefix>-<id>`. */
  readonly namePrefix: string;
  /** Role of the nodes. */
  readonly nodeRoleArn: string;
  /** Private subnets the nodes run in. */
  readonly subnetIds: string[];
  /** Instance types and scaling bounds. */
  readonly size: NodeGroupSize;
  /**
   * Purchase option.
   * @see https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html#AmazonEKS-Type-Nodegroup-capacityType
   */
  readonly capacityType: 'ON_DEMAND' | 'SPOT';
  /**
   * AMI type.
   * @see https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html#AmazonEKS-Type-Nodegroup-amiType
   */
  readonly amiType: string;
  /** Root volume size in GiB (gp3, encrypted). */
  readonly volumeGiB: number;
  /** A GPU group: labelled `gpu`, tainted with {@link GPU_TAINT}, replaced one node at a time. */
  readonly gpu: boolean;
  /** Created after these (the node role's policy attachments). @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /** Tags of every resource (the instances, volumes and interfaces get a `Name` too). @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Checks the size of a node group named `prop` (used by NodeGroup, and by InferenceCluster per group). */
export function validateNodeGroupSize(v: PropsValidator, prop: string, size: NodeGroupSize): void {
  v.atLeast(`${prop}.instanceTypes`, size.instanceTypes, 1, 'must list at least one type');
  const { min, desired, max } = size;
  if (isUnresolved(min) || isUnresolved(desired) || isUnresolved(max)) return;
  if (min > max || desired < min || desired > max) v.fail(prop, `needs min <= desired <= max, got ${min}/${desired}/${max}`);
}

/**
 * A managed EKS node group on its own launch template: IMDSv2 required with a hop limit of 1 (pods
 * cannot reach the node role; they use IRSA), encrypted gp3 root volume, detailed monitoring, the
 * pool and capacity labels, node auto-repair. Terraform sets `desired_size` at creation only; the
 * autoscaler owns it afterwards.
 *
 * The resources are created directly in `scope` — the launch template as `<id>-lt` and the group as
 * `<id>` — so that they keep the Terraform addresses they had when InferenceCluster built them
 * itself (construct ids are state addresses).
 */
export class NodeGroup {
  /** The node group. */
  public readonly nodeGroup: EksNodeGroup;
  /** Its launch template. */
  public readonly launchTemplate: LaunchTemplate;

  constructor(scope: Construct, id: string, props: NodeGroupProps) {
    const v = new PropsValidator('NodeGroup', id);
    validateNodeGroupSize(v, 'size', props.size);
    v.wholeNumber('volumeGiB', props.volumeGiB, 1, 16384);
    const tags = (extra: Record<string, string> = {}) => ({ ...(props.tags ?? {}), ...extra });
    const name = `${props.namePrefix}-${id}`;
    this.launchTemplate = new LaunchTemplate(scope, `${id}-lt`, {
      name,
      description: `${props.namePrefix} ${id} nodes: IMDSv2 only, hop limit 1, encrypted root volume`,
      updateDefaultVersion: true,
      metadataOptions: {
        httpEndpoint: 'enabled',
        httpTokens: 'required',
        httpPutResponseHopLimit: 1,
        instanceMetadataTags: 'disabled',
      },
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeSize: props.volumeGiB, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' },
        },
      ],
      monitoring: { enabled: true },
      tagSpecifications: ['instance', 'volume', 'network-interface'].map((resourceType) => ({
        resourceType,
        tags: tags({ Name: name }),
      })),
      tags: tags(),
    });
    const capacity = props.capacityType === 'SPOT' ? 'spot' : 'on-demand';
    this.nodeGroup = new EksNodeGroup(scope, id, {
      clusterName: props.clusterName,
      nodeGroupName: name,
      nodeRoleArn: props.nodeRoleArn,
      subnetIds: props.subnetIds,
      capacityType: props.capacityType,
      amiType: props.amiType,
      instanceTypes: [...props.size.instanceTypes],
      scalingConfig: { minSize: props.size.min, maxSize: props.size.max, desiredSize: props.size.desired },
      launchTemplate: { id: this.launchTemplate.id, version: Token.asString(this.launchTemplate.latestVersion) },
      labels: { [NODE_POOL_LABEL]: props.gpu ? 'gpu' : 'cpu', [CAPACITY_LABEL]: capacity, ...(props.gpu ? { [GPU_ACCELERATOR_LABEL]: 'nvidia' } : {}) },
      taint: props.gpu ? [{ ...GPU_TAINT }] : undefined,
      updateConfig: props.gpu ? { maxUnavailable: 1 } : { maxUnavailablePercentage: 33 },
      nodeRepairConfig: { enabled: true },
      tags: tags({ Name: name }),
      // The Cluster Autoscaler (add-ons stack) owns the node count after creation.
      lifecycle: { ignoreChanges: ['scaling_config[0].desired_size'] },
      dependsOn: props.dependsOn,
    });
  }
}
