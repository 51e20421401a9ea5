import { Construct } from 'constructs';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { InferenceCluster } from '../cluster/inference-cluster';
import { CLUSTER_AUTOSCALER_SERVICE_ACCOUNT } from './cluster-autoscaler';

export interface ClusterAutoscalerRoleProps {
  /** The cluster whose node groups the autoscaler resizes. */
  readonly cluster: InferenceCluster;
  /** AWS region of the cluster (scopes `eks:DescribeNodegroup`). */
  readonly region: string;
}

/**
 * The AWS side of the Cluster Autoscaler: an IRSA role for `kube-system:cluster-autoscaler` that may
 * resize and terminate instances only of Auto Scaling groups tagged as this cluster's
 * (`k8s.io/cluster-autoscaler/<cluster>` = `owned`, set by EKS on managed node groups), describe
 * groups, instances and instance types (no resource-level permissions exist for those), and read
 * this cluster's node groups (labels and taints for scale-from-zero).
 */
export class ClusterAutoscalerRole extends Construct {
  /** The IRSA role (annotate the autoscaler's service account with its ARN). */
  public readonly role: IamRole;

  constructor(scope: Construct, id: string, props: ClusterAutoscalerRoleProps) {
    super(scope, id);
    const cluster = props.cluster;
    this.role = cluster.createServiceAccountRole(`${id}-role`, {
      namespace: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.namespace,
      serviceAccount: CLUSTER_AUTOSCALER_SERVICE_ACCOUNT.name,
    });
    const partition = new DataAwsPartition(this, 'partition');
    const account = new DataAwsCallerIdentity(this, 'account');
    const doc = new DataAwsIamPolicyDocument(this, 'policy-doc', {
      statement: [
        {
          sid: 'ResizeOwnGroupsOnly',
          actions: ['autoscaling:SetDesiredCapacity', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
          resources: ['*'],
          condition: [{ test: 'StringEquals', variable: `aws:ResourceTag/k8s.io/cluster-autoscaler/${cluster.clusterName}`, values: ['owned'] }],
        },
        {
          sid: 'Describe',
          // Describe calls support no resource-level permissions.
          actions: [
            'autoscaling:DescribeAutoScalingGroups',
            'autoscaling:DescribeAutoScalingInstances',
            'autoscaling:DescribeLaunchConfigurations',
            'autoscaling:DescribeScalingActivities',
            'autoscaling:DescribeTags',
            'ec2:DescribeImages',
            'ec2:DescribeInstanceTypes',
            'ec2:DescribeLaunchTemplateVersions',
            'ec2:GetInstanceTypesFromInstanceRequirements',
          ],
          resources: ['*'],
        },
        {
          sid: 'ReadOwnNodeGroups',
          actions: ['eks:DescribeNodegroup'],
          resources: [`arn:${partition.partition}:eks:${props.region}:${account.accountId}:nodegroup/${cluster.clusterName}/*/*`],
        },
      ],
    });
    new IamRolePolicy(this, 'policy', { name: 'cluster-autoscaler', role: this.role.id, policy: doc.json });
  }
}
