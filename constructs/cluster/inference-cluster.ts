import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { accountAdministersKey, logsEncryptLogGroup } from '../private/kms-key-policy';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';
import { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
import { EksAccessPolicyAssociation } from '@cdktf/provider-aws/lib/eks-access-policy-association';
import { EksCluster } from '@cdktf/provider-aws/lib/eks-cluster';
import { EksNodeGroup } from '@cdktf/provider-aws/lib/eks-node-group';
import { IamOpenidConnectProvider } from '@cdktf/provider-aws/lib/iam-openid-connect-provider';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { PropsValidator } from '../private/validation';
import { NodeGroup, NodeGroupSize, validateNodeGroupSize } from './node-group';
import { NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT, SpotInterruptionQueue } from './spot-interruption-queue';

/** All EKS control-plane log types. */
/**
 * Versions of the cluster's core EKS add-ons per Kubernetes minor version. An add-on version fixes the
 * images it runs (AWS's registry, by the digests that version names), and EKS refuses a version it does
 * not list as compatible, so pinning it keeps a re-created cluster on the reviewed images instead of
 * whatever default EKS picks that day. 1.32: the "latest version of the Amazon EKS add-on type for each
 * Kubernetes version" tables of the Amazon EKS User Guide (pages "Assign IPs to Pods with the Amazon VPC
 * CNI", "Manage kube-proxy in Amazon EKS clusters", "Manage CoreDNS for DNS in Amazon EKS clusters").
 * Re-check with `aws eks describe-addon-versions --addon-name <name> --kubernetes-version <minor>`.
 */
export const CORE_ADDON_VERSIONS: Readonly<Record<string, { readonly vpcCni: string; readonly kubeProxy: string; readonly coreDns: string }>> = {
  '1.32': { vpcCni: 'v1.20.1-eksbuild.3', kubeProxy: 'v1.32.9-eksbuild.2', coreDns: 'v1.11.4-eksbuild.24' },
};

export const ALL_CONTROL_PLANE_LOG_TYPES: readonly string[] = ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'];


export interface InferenceClusterProps {
  /** Name of the EKS cluster (also the prefix of its roles, keys and node groups). 1-40 characters. */
  readonly name: string;
  /** AWS region of the cluster; names the CloudWatch Logs principal in the key policy. */
  readonly region: string;
  /**
   * EKS Kubernetes version (`1.32`).
   * @see https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
   */
  readonly kubernetesVersion: string;
  /** Private subnets for the control-plane interfaces and every node (at least two zones). */
  readonly subnetIds: string[];
  /**
   * CIDRs allowed to reach the Kubernetes API over the internet. Empty keeps the endpoint private
   * (reachable from the VPC, or through a VPN / bastion / peered network only).
   * @default [] - private endpoint only
   */
  readonly publicAccessCidrs?: readonly string[];
  /**
   * IAM roles or users given cluster-admin through EKS access entries (the API authentication mode),
   * e.g. the CI role that deploys the workloads stacks and an operators' SSO role. The identity that
   * creates the cluster is admin already.
   * @see https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html
   * @default []
   */
  readonly adminPrincipalArns?: readonly string[];
  /** CPU node group (proxy, worker, monitoring): on-demand, general purpose instance types. */
  readonly cpuNodes: NodeGroupSize;
  /** On-demand GPU base group. A group with `max` 0 is not created. */
  readonly gpuOnDemand: NodeGroupSize;
  /** Spot GPU group, diversified over the listed instance types. A group with `max` 0 is not created. */
  readonly gpuSpot: NodeGroupSize;
  /**
   * AMI type of the CPU nodes. Amazon Linux 2 is end-of-life; use AL2023 or Bottlerocket.
   * @see https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html#AmazonEKS-Type-Nodegroup-amiType
   * @default 'AL2023_x86_64_STANDARD'
   */
  readonly cpuAmiType?: string;
  /**
   * AMI type of the GPU nodes (NVIDIA drivers and container toolkit preinstalled).
   * @default 'AL2023_x86_64_NVIDIA'
   */
  readonly gpuAmiType?: string;
  /** Root volume of CPU nodes in GiB (gp3, encrypted). @default 50 */
  readonly cpuVolumeSizeGiB?: number;
  /** Root volume of GPU nodes in GiB (gp3, encrypted; holds container images and cached model weights). @default 500 */
  readonly gpuVolumeSizeGiB?: number;
  /** Control-plane log types sent to CloudWatch. @default ALL_CONTROL_PLANE_LOG_TYPES */
  readonly controlPlaneLogTypes?: readonly string[];
  /**
   * Create the AWS side of spot interruption handling for the AWS Node Termination Handler in
   * queue-processor mode: an SQS queue fed by EventBridge rules (spot interruption notice, rebalance
   * recommendation, state change, scheduled maintenance) and an IRSA role for its service account;
   * deploy `NodeTerminationHandler` with `QUEUE_URL` = `interruptionQueue.url`, pinned by digest.
   * Off by default: the node groups here are EKS managed node groups, which turn on Capacity
   * Rebalancing and cordon and drain a spot node themselves on its rebalance recommendation, and whose
   * Auto Scaling lifecycle hooks drain nodes on scale-in and health replacement; NTH's maintainers
   * say managed node groups should not need it (aws/aws-node-termination-handler#186). Turn it on only
   * if you also run NTH, for the interruption notice that arrives without a recommendation.
   * @default false
   */
  readonly spotInterruptionQueue?: boolean;
  /** Days to keep control-plane logs (a CloudWatch Logs retention value). @default 30 */
  readonly logRetentionDays?: number;
  /**
   * TTL in seconds of the cluster DNS's answers for Services and pods (the `ttl` of CoreDNS's
   * `kubernetes` plugin, set through the `coredns` add-on's Corefile). CoreDNS's `cache` keeps an
   * answer that long, so it bounds how late a client that re-resolves a headless Service sees a pod
   * that became Ready or went away: the proxies and workers find each model-server pod by
   * re-resolving one (every second as rendered), so a new pod takes requests within about TTL + 1 s.
   * The plugin's own default is 5 s, the Corefile of kubeadm and the Kubernetes docs sets 30;
   * rendering it makes the figure the deployed cluster's, not whatever the add-on's default is.
   * Answers are built from CoreDNS's in-memory copy of the API, so a short TTL costs a cache miss,
   * not an API call. 0 to 3600.
   * @default 1
   */
  readonly serviceDnsTtlSeconds?: number;
  /** Extra tags on every resource. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The cluster DNS's Corefile: the `coredns` add-on's default (graceful shutdown, readiness, the
 * cluster zone and reverse zones, metrics, upstream forwarding, a 30 s cache cap, loop detection,
 * reload, answer shuffling) with the `kubernetes` plugin's `ttl` set, since the add-on's
 * configuration replaces the Corefile whole.
 */
function clusterCorefile(serviceDnsTtlSeconds: number): string {
  return [
    '.:53 {',
    '    errors',
    '    health {',
    '        lameduck 5s',
    '    }',
    '    ready',
    '    kubernetes cluster.local in-addr.arpa ip6.arpa {',
    '        pods insecure',
    '        fallthrough in-addr.arpa ip6.arpa',
    `        ttl ${serviceDnsTtlSeconds}`,
    '    }',
    '    prometheus :9153',
    '    forward . /etc/resolv.conf',
    '    cache 30',
    '    loop',
    '    reload',
    '    loadbalance',
    '}',
    '',
  ].join('\n');
}

/** Options of `InferenceCluster.createServiceAccountRole`. */
export interface ServiceAccountRoleOptions {
  /** Namespace of the Kubernetes service account. */
  readonly namespace: string;
  /** Name of the Kubernetes service account. */
  readonly serviceAccount: string;
  /** IAM role name. @default `<cluster>-<namespace>-<serviceAccount>` (truncated to 64) */
  readonly roleName?: string;
}

/**
 * An EKS cluster for LLM inference: private API endpoint, KMS-encrypted secrets, control-plane logs,
 * IRSA, a CPU node group and two GPU groups — an on-demand base and a spot group diversified over
 * several instance types, tainted so only GPU work lands there. Nodes run from launch templates with
 * IMDSv2 required and a hop limit of 1 (pods cannot reach the node role; they use IRSA) and encrypted
 * gp3 root volumes. Terraform sets `desired_size` at creation only; the autoscaler owns it afterwards.
 */
export class InferenceCluster extends Construct {
  /** The EKS cluster. */
  public readonly cluster: EksCluster;
  /** Name of the cluster. */
  public readonly clusterName: string;
  /** HTTPS endpoint of the Kubernetes API. */
  public readonly clusterEndpoint: string;
  /** Base64 PEM of the cluster CA. */
  public readonly clusterCertificateAuthorityData: string;
  /** Security group EKS attaches to the control-plane interfaces and to every managed node. */
  public readonly clusterSecurityGroupId: string;
  /** IAM OIDC provider backing IRSA. */
  public readonly oidcProvider: IamOpenidConnectProvider;
  /** Issuer URL of the cluster's OIDC provider. */
  public readonly oidcIssuerUrl: string;
  /** Customer-managed KMS key (rotated yearly) for Kubernetes secrets and control-plane logs. */
  public readonly key: KmsKey;
  /** Role of every node (worker node, image pull; CNI permissions live on the aws-node IRSA role). */
  public readonly nodeRole: IamRole;
  /** CPU node group. */
  public readonly cpuNodeGroup: EksNodeGroup;
  /** On-demand GPU base group, unless its `max` is 0. */
  public readonly gpuOnDemandNodeGroup?: EksNodeGroup;
  /** Spot GPU group, unless its `max` is 0. */
  public readonly gpuSpotNodeGroup?: EksNodeGroup;
  /** Name of the CPU node group's auto scaling group (to attach load balancer target groups). */
  public readonly cpuAutoScalingGroupName: string;
  /** Queue of EC2 interruption events for the Node Termination Handler, when created. */
  public readonly interruptionQueue?: SqsQueue;
  /** IRSA role of the Node Termination Handler's service account, when the queue is created. */
  public readonly nodeTerminationHandlerRole?: IamRole;
  /** Endpoint access in effect: private only unless public CIDRs were given. */
  public readonly publicAccessCidrs: readonly string[];

  private readonly partition: DataAwsPartition;
  private readonly baseName: string;
  private readonly tags: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: InferenceClusterProps) {
    super(scope, id);
    const name = props.name;
    this.baseName = name;
    const v = new PropsValidator('InferenceCluster', id);
    v.matches('name', name, /^[a-z][a-z0-9-]{0,39}$/, `"${name}" must be 1-40 lower-case letters, digits or dashes`);
    v.matches('kubernetesVersion', props.kubernetesVersion, /^1\.\d{2}$/, `"${props.kubernetesVersion}" is not an EKS version like 1.32`);
    v.check(
      'kubernetesVersion',
      props.kubernetesVersion,
      (k) => CORE_ADDON_VERSIONS[k] !== undefined,
      (k) => `${k}: no core add-on versions (vpc-cni, kube-proxy, coredns) are known for it; add them to CORE_ADDON_VERSIONS`,
    );
    const addonVersions = CORE_ADDON_VERSIONS[props.kubernetesVersion];
    v.atLeast('subnetIds', props.subnetIds, 2, 'must list subnets in at least two zones');
    this.publicAccessCidrs = props.publicAccessCidrs ?? [];
    v.check('publicAccessCidrs', this.publicAccessCidrs, (cidrs) => !cidrs.includes('0.0.0.0/0'), 'must not contain 0.0.0.0/0 (list the networks that need the API)');
    validateNodeGroupSize(v, 'cpuNodes', props.cpuNodes);
    validateNodeGroupSize(v, 'gpuOnDemand', props.gpuOnDemand);
    validateNodeGroupSize(v, 'gpuSpot', props.gpuSpot);
    v.check('cpuNodes.max', props.cpuNodes.max, (max) => max >= 1, 'must be at least 1');
    const admins = props.adminPrincipalArns ?? [];
    for (const arn of admins) {
      v.matches('adminPrincipalArns', arn, /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, `"${arn}" is not an IAM role or user ARN`);
    }
    v.unique('adminPrincipalArns', admins, () => 'lists a principal twice');
    const logRetention = props.logRetentionDays ?? 30;
    v.logRetention('logRetentionDays', logRetention);
    const logTypes = props.controlPlaneLogTypes ?? ALL_CONTROL_PLANE_LOG_TYPES;
    for (const t of logTypes) {
      v.check('controlPlaneLogTypes', t, (type) => ALL_CONTROL_PLANE_LOG_TYPES.includes(type), `has an unknown log type "${t}"`);
    }
    const dnsTtl = props.serviceDnsTtlSeconds ?? 1;
    v.wholeNumber('serviceDnsTtlSeconds', dnsTtl, 0, 3600);
    this.tags = props.tags ?? {};
    const tags = (extra: Record<string, string> = {}) => ({ ...this.tags, ...extra });

    this.partition = new DataAwsPartition(this, 'partition');
    const account = new DataAwsCallerIdentity(this, 'account');
    const arnPrefix = `arn:${this.partition.partition}`;
    const logGroupName = `/aws/eks/${name}/cluster`;

    // One customer-managed key for Kubernetes secrets (envelope encryption) and the control-plane logs.
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'key-policy', {
      statement: [
        accountAdministersKey(this.partition.partition, account.accountId),
        logsEncryptLogGroup({ sid: 'CloudWatchLogsEncryptsControlPlaneLogs', arnPartition: this.partition.partition, region: props.region, accountId: account.accountId, logGroupName }),
      ],
    });
    this.key = new KmsKey(this, 'key', {
      description: `${name}: EKS secrets and control-plane logs`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
      tags: tags({ Name: `${name}-eks` }),
    });
    new KmsAlias(this, 'key-alias', { name: `alias/${name}-eks`, targetKeyId: this.key.keyId });

    const logGroup = new CloudwatchLogGroup(this, 'control-plane-logs', {
      name: logGroupName,
      retentionInDays: logRetention,
      kmsKeyId: this.key.arn,
      tags: tags(),
    });

    // Cluster role: the managed EKS policy plus use of its own key, nothing else.
    const clusterRole = new IamRole(this, 'cluster-role', {
      name: `${name}-cluster`,
      assumeRolePolicy: this.serviceAssumePolicy('cluster-assume', 'eks.amazonaws.com', ['sts:AssumeRole', 'sts:TagSession']),
      tags: tags(),
    });
    const clusterPolicy = new IamRolePolicyAttachment(this, 'cluster-policy', {
      role: clusterRole.name,
      policyArn: `${arnPrefix}:iam::aws:policy/AmazonEKSClusterPolicy`,
    });
    const keyUse = new DataAwsIamPolicyDocument(this, 'cluster-key-use', {
      statement: [
        { actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:DescribeKey', 'kms:ListGrants'], resources: [this.key.arn] },
        {
          actions: ['kms:CreateGrant'],
          resources: [this.key.arn],
          condition: [{ test: 'Bool', variable: 'kms:GrantIsForAWSResource', values: ['true'] }],
        },
      ],
    });
    const clusterKeyPolicy = new IamRolePolicy(this, 'cluster-key-policy', { name: 'secrets-key', role: clusterRole.id, policy: keyUse.json });

    this.cluster = new EksCluster(this, 'cluster', {
      name,
      version: props.kubernetesVersion,
      roleArn: clusterRole.arn,
      vpcConfig: {
        subnetIds: props.subnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: this.publicAccessCidrs.length > 0,
        publicAccessCidrs: this.publicAccessCidrs.length > 0 ? [...this.publicAccessCidrs] : undefined,
      },
      encryptionConfig: { resources: ['secrets'], provider: { keyArn: this.key.arn } },
      enabledClusterLogTypes: [...logTypes],
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: true },
      upgradePolicy: { supportType: 'STANDARD' },
      tags: tags({ Name: name }),
      dependsOn: [logGroup, clusterPolicy, clusterKeyPolicy],
    });
    this.clusterName = this.cluster.name;
    this.clusterEndpoint = this.cluster.endpoint;
    this.clusterCertificateAuthorityData = this.cluster.certificateAuthority.get(0).data;
    this.clusterSecurityGroupId = this.cluster.vpcConfig.clusterSecurityGroupId;
    this.oidcIssuerUrl = this.cluster.identity.get(0).oidc.get(0).issuer;

    admins.forEach((principalArn, i) => {
      const entry = new EksAccessEntry(this, `admin-${i}`, { clusterName: this.cluster.name, principalArn, type: 'STANDARD', tags: tags() });
      new EksAccessPolicyAssociation(this, `admin-${i}-policy`, {
        clusterName: this.cluster.name,
        principalArn: entry.principalArn,
        policyArn: `${arnPrefix}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
        accessScope: { type: 'cluster' },
      });
    });

    this.oidcProvider = new IamOpenidConnectProvider(this, 'oidc', {
      url: this.oidcIssuerUrl,
      clientIdList: ['sts.amazonaws.com'],
      tags: tags({ Name: `${name}-irsa` }),
    });

    // Nodes: worker + image pull only. The VPC CNI's permissions go to the aws-node service account.
    this.nodeRole = new IamRole(this, 'node-role', {
      name: `${name}-node`,
      assumeRolePolicy: this.serviceAssumePolicy('node-assume', 'ec2.amazonaws.com', ['sts:AssumeRole']),
      tags: tags(),
    });
    const nodePolicies = ['AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly'].map(
      (policy) =>
        new IamRolePolicyAttachment(this, `node-${policy}`, {
          role: this.nodeRole.name,
          policyArn: `${arnPrefix}:iam::aws:policy/${policy}`,
        }),
    );
    const cniRole = this.createServiceAccountRole('vpc-cni-role', { namespace: 'kube-system', serviceAccount: 'aws-node' });
    const cniPolicy = new IamRolePolicyAttachment(this, 'vpc-cni-policy', {
      role: cniRole.name,
      policyArn: `${arnPrefix}:iam::aws:policy/AmazonEKS_CNI_Policy`,
    });
    const vpcCni = new EksAddon(this, 'addon-vpc-cni', {
      clusterName: this.cluster.name,
      addonName: 'vpc-cni',
      addonVersion: addonVersions?.vpcCni,
      serviceAccountRoleArn: cniRole.arn,
      // Enforce Kubernetes NetworkPolicies (InferenceWorkloads: only the proxy and worker reach the model servers).
      configurationValues: JSON.stringify({ enableNetworkPolicy: 'true' }),
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
      tags: tags(),
    });
    new EksAddon(this, 'addon-kube-proxy', {
      clusterName: this.cluster.name,
      addonName: 'kube-proxy',
      addonVersion: addonVersions?.kubeProxy,
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
      tags: tags(),
    });

    const group = (
      groupId: string,
      size: NodeGroupSize,
      opts: { capacityType: 'ON_DEMAND' | 'SPOT'; amiType: string; volumeGiB: number; gpu: boolean },
    ): EksNodeGroup =>
      new NodeGroup(this, groupId, {
        clusterName: this.cluster.name,
        namePrefix: name,
        nodeRoleArn: this.nodeRole.arn,
        subnetIds: props.subnetIds,
        size,
        ...opts,
        // Nodes join only once the VPC CNI runs with its IRSA role: a node started earlier comes up with
        // aws-node lacking permissions (no pod IPs) until the add-on is updated.
        dependsOn: [...nodePolicies, cniPolicy, vpcCni],
        tags: this.tags,
      }).nodeGroup;
    const cpuAmi = props.cpuAmiType ?? 'AL2023_x86_64_STANDARD';
    const gpuAmi = props.gpuAmiType ?? 'AL2023_x86_64_NVIDIA';
    this.cpuNodeGroup = group('cpu', props.cpuNodes, {
      capacityType: 'ON_DEMAND',
      amiType: cpuAmi,
      volumeGiB: props.cpuVolumeSizeGiB ?? 50,
      gpu: false,
    });
    const gpuVolume = props.gpuVolumeSizeGiB ?? 500;
    if (props.gpuOnDemand.max > 0) {
      this.gpuOnDemandNodeGroup = group('gpu-on-demand', props.gpuOnDemand, {
        capacityType: 'ON_DEMAND',
        amiType: gpuAmi,
        volumeGiB: gpuVolume,
        gpu: true,
      });
    }
    if (props.gpuSpot.max > 0) {
      this.gpuSpotNodeGroup = group('gpu-spot', props.gpuSpot, { capacityType: 'SPOT', amiType: gpuAmi, volumeGiB: gpuVolume, gpu: true });
    }
    this.cpuAutoScalingGroupName = this.cpuNodeGroup.resources.get(0).autoscalingGroups.get(0).name;

    if (props.spotInterruptionQueue ?? false) {
      const interruptions = new SpotInterruptionQueue(this, 'interruption', { namePrefix: name, tags: this.tags });
      const role = this.createServiceAccountRole('node-termination-handler-role', {
        namespace: NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT.namespace,
        serviceAccount: NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT.name,
      });
      interruptions.grantHandler('node-termination-handler-policy', role);
      this.interruptionQueue = interruptions.queue;
      this.nodeTerminationHandlerRole = role;
    }

    // CoreDNS needs nodes to schedule on; create it once the CPU group exists.
    new EksAddon(this, 'addon-coredns', {
      clusterName: this.cluster.name,
      addonName: 'coredns',
      addonVersion: addonVersions?.coreDns,
      configurationValues: JSON.stringify({ corefile: clusterCorefile(dnsTtl) }),
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
      tags: tags(),
      dependsOn: [this.cpuNodeGroup],
    });
  }

  /**
   * Creates an IAM role that exactly one Kubernetes service account can assume through IRSA
   * (trust is pinned to `system:serviceaccount:<namespace>:<serviceAccount>` and the `sts` audience).
   * Attach the permissions the workload needs to the returned role.
   */
  public createServiceAccountRole(id: string, options: ServiceAccountRoleOptions): IamRole {
    const issuer = Fn.replace(this.oidcIssuerUrl, 'https://', '');
    const trust = new DataAwsIamPolicyDocument(this, `${id}-trust`, {
      statement: [
        {
          actions: ['sts:AssumeRoleWithWebIdentity'],
          principals: [{ type: 'Federated', identifiers: [this.oidcProvider.arn] }],
          condition: [
            { test: 'StringEquals', variable: `${issuer}:sub`, values: [`system:serviceaccount:${options.namespace}:${options.serviceAccount}`] },
            { test: 'StringEquals', variable: `${issuer}:aud`, values: ['sts.amazonaws.com'] },
          ],
        },
      ],
    });
    const roleName = options.roleName ?? `${this.baseName}-${options.namespace}-${options.serviceAccount}`.slice(0, 64);
    return new IamRole(this, id, {
      name: roleName,
      assumeRolePolicy: trust.json,
      tags: { ...this.tags },
    });
  }

  private serviceAssumePolicy(id: string, service: string, actions: string[]): string {
    return new DataAwsIamPolicyDocument(this, id, {
      statement: [{ actions, principals: [{ type: 'Service', identifiers: [service] }] }],
    }).json;
  }
}
