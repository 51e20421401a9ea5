import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CodebuildProject } from '@cdktf/provider-aws/lib/codebuild-project';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { EksAccessEntry } from '@cdktf/provider-aws/lib/eks-access-entry';
import { EksAccessPolicyAssociation } from '@cdktf/provider-aws/lib/eks-access-policy-association';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { accountAdministersKey, logsEncryptLogGroup } from '../private/kms-key-policy';

/** Terraform release the runner installs (HashiCorp's signed RPM repository); the version the tests validate with. */
export const RUNNER_TERRAFORM_VERSION = '1.11.4';
/**
 * CodeBuild's curated Amazon Linux 2023 image (AWS CLI v2 included). AWS patches curated images in place
 * and CodeBuild cannot pin them by digest: the one image here not pinned by digest; pass `image` (an ECR
 * image by digest) to pin it. What the build installs on it is pinned (Terraform by version, GPG-checked).
 */
export const RUNNER_IMAGE = 'aws/codebuild/amazonlinux-x86_64-standard:5.0';
const CURATED_IMAGE = /^aws\/codebuild\/[a-z0-9_-]+:[0-9.]+$/;
const DIGEST_IMAGE = /^[\w.-]+(\/[\w.-]+)*@sha256:[0-9a-f]{64}$/;
const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([\w./-]+)@sha256:[0-9a-f]{64}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/;

const RETENTION_DAYS = new Set([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]);

export interface DeployRunnerProps {
  /** Name prefix of the project, role, security group and log group (`<name>-deploy`). */
  readonly name: string;
  /** AWS region of the cluster and the project. */
  readonly region: string;
  /** VPC of the cluster. */
  readonly vpcId: string;
  /** Private subnets the builds run in (they reach the internet through NAT: registries, chart repositories). */
  readonly subnetIds: readonly string[];
  /** EKS cluster name (an access entry makes the runner's role cluster-admin there). */
  readonly clusterName: string;
  /** The cluster security group: the runner gets HTTPS to the private API endpoint through it. */
  readonly clusterSecurityGroupId: string;
  /** The environment's state bucket (S3 backend). */
  readonly stateBucket: string;
  /** KMS key ARN of the state objects, when the backend names one (IAM needs the ARN, not an alias). @default - SSE-S3 */
  readonly stateKmsKeyId?: string;
  /** State keys the runner reads only (the platform stack, for its outputs). */
  readonly readStateKeys: readonly string[];
  /** State keys the runner plans and applies (the add-ons and workloads stacks). */
  readonly writeStateKeys: readonly string[];
  /** S3 key (in the state bucket) of the zip of synthesized stacks the builds run. */
  readonly bundleKey: string;
  /** Stacks a build applies, in order (directories `stacks/<stack>` of the bundle). */
  readonly stacks: readonly string[];
  /** Days to keep build logs. @default 30 */
  readonly logRetentionDays?: number;
  /** Build timeout in minutes (GPU node pools and Helm rollouts take a while). @default 90 */
  readonly timeoutMinutes?: number;
  /**
   * Build image: a CodeBuild curated image, or an ECR image by digest (`<repo>@sha256:<64 hex>`) with the
   * AWS CLI v2 and dnf. A mutable tag of any other image is refused.
   * @default RUNNER_IMAGE
   */
  readonly image?: string;
  /** Tags of every taggable resource. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * A deploy runner inside the VPC for clusters whose API endpoint is private: a CodeBuild project in the
 * private subnets that runs `terraform init` + `plan`/`apply` over the add-ons and workloads stacks of
 * one cell, from a zip of `cdktf.out` uploaded to the state bucket. Least privilege: it reads the
 * platform stack's state, writes only the state (and lock files) of the stacks it applies, reads the
 * bundle, writes its own log group, and is cluster-admin through an EKS access entry; it needs no other
 * AWS permission because those stacks hold no AWS resources. HTTPS from it to the API endpoint is the
 * only ingress it adds.
 */
export class DeployRunner extends Construct {
  /** The CodeBuild project (`aws codebuild start-build --project-name <projectName>`). */
  public readonly project: CodebuildProject;
  /** The role builds run as. */
  public readonly role: IamRole;
  /** The security group of the build containers. */
  public readonly securityGroup: SecurityGroup;
  /** Name of the project. */
  public readonly projectName: string;
  /** Customer-managed key of the build logs (and of CodeBuild's build output). */
  public readonly key: KmsKey;

  constructor(scope: Construct, id: string, props: DeployRunnerProps) {
    super(scope, id);
    const where = `DeployRunner ${this.node.path}`;
    if (props.stacks.length === 0) throw new Error(`${where}: stacks must list at least one stack`);
    for (const s of props.stacks) if (!/^[a-z0-9-]+$/.test(s)) throw new Error(`${where}: stacks: "${s}" is not a stack name`);
    if (props.writeStateKeys.length === 0) throw new Error(`${where}: writeStateKeys must list the state of the stacks it applies`);
    const overlap = props.readStateKeys.find((k) => props.writeStateKeys.includes(k));
    if (overlap) throw new Error(`${where}: state key ${overlap} is in both readStateKeys and writeStateKeys`);
    if (!Token.isUnresolved(props.subnetIds) && props.subnetIds.length === 0) throw new Error(`${where}: subnetIds must list the private subnets`);
    const retention = props.logRetentionDays ?? 30;
    if (!RETENTION_DAYS.has(retention)) throw new Error(`${where}: logRetentionDays ${retention} is not a CloudWatch Logs retention value`);
    const timeout = props.timeoutMinutes ?? 90;
    if (!Number.isInteger(timeout) || timeout < 5 || timeout > 480) throw new Error(`${where}: timeoutMinutes ${timeout} must be 5-480`);

    const image = props.image ?? RUNNER_IMAGE;
    if (!Token.isUnresolved(image) && !CURATED_IMAGE.test(image) && !DIGEST_IMAGE.test(image)) {
      throw new Error(`${where}: image "${image}" must be a CodeBuild curated image or pinned by digest (<repo>@sha256:<64 hex>)`);
    }
    if (!Token.isUnresolved(image) && DIGEST_IMAGE.test(image) && !ECR_IMAGE.test(image)) {
      throw new Error(`${where}: image "${image}" must be in ECR (the runner's role pulls a custom image from ECR only)`);
    }
    if (props.stateKmsKeyId !== undefined && !Token.isUnresolved(props.stateKmsKeyId) && !KMS_KEY_ARN.test(props.stateKmsKeyId)) {
      throw new Error(`${where}: stateKmsKeyId "${props.stateKmsKeyId}" must be a KMS key ARN (IAM policies match ARNs, not ids or aliases)`);
    }
    const tags = props.tags ?? {};

    const name = `${props.name}-deploy`;
    this.projectName = name;
    const partition = new DataAwsPartition(this, 'partition').partition;
    const account = new DataAwsCallerIdentity(this, 'account').accountId;

    this.securityGroup = new SecurityGroup(this, 'security-group', {
      name,
      description: `${name}: deploy runner builds (egress only)`,
      vpcId: props.vpcId,
      tags: { ...tags, Name: name },
    });
    new VpcSecurityGroupEgressRule(this, 'egress-https', {
      securityGroupId: this.securityGroup.id,
      description: 'HTTPS: the cluster API, AWS APIs, the Terraform registry and chart repositories',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      cidrIpv4: '0.0.0.0/0',
    });
    new VpcSecurityGroupIngressRule(this, 'cluster-api-from-runner', {
      securityGroupId: props.clusterSecurityGroupId,
      description: `${name}: Kubernetes API from the deploy runner`,
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      referencedSecurityGroupId: this.securityGroup.id,
    });

    // One customer-managed key for the build logs (CloudWatch Logs may use it for this log group only)
    // and CodeBuild's build output, as the other constructs encrypt their logs.
    const logGroupName = `/aws/codebuild/${name}`;
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'key-policy', {
      statement: [
        accountAdministersKey(partition, account),
        logsEncryptLogGroup({ sid: 'CloudWatchLogsEncryptsBuildLogs', arnPartition: partition, region: props.region, accountId: account, logGroupName }),
      ],
    });
    this.key = new KmsKey(this, 'key', {
      description: `${name}: deploy runner build logs`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
      tags: { ...tags, Name: name },
    });
    new KmsAlias(this, 'key-alias', { name: `alias/${name}`, targetKeyId: this.key.keyId });
    const logGroup = new CloudwatchLogGroup(this, 'logs', { name: logGroupName, retentionInDays: retention, kmsKeyId: this.key.arn, tags });

    const trust = new DataAwsIamPolicyDocument(this, 'trust', {
      statement: [
        {
          actions: ['sts:AssumeRole'],
          principals: [{ type: 'Service', identifiers: ['codebuild.amazonaws.com'] }],
          condition: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [account] }],
        },
      ],
    });
    this.role = new IamRole(this, 'role', { name, assumeRolePolicy: trust.json, tags });
    const bucketArn = `arn:${partition}:s3:::${props.stateBucket}`;
    const objects = (keys: readonly string[]) => keys.map((k) => `${bucketArn}/${k}`);
    const permissions = new DataAwsIamPolicyDocument(this, 'policy-doc', {
      statement: [
        { sid: 'BuildLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [`${logGroup.arn}:*`] },
        {
          sid: 'BuildInVpc',
          // CodeBuild's VPC calls support no resource-level permissions.
          actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:DescribeDhcpOptions', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVpcs'],
          resources: ['*'],
        },
        {
          sid: 'BuildInOwnSubnets',
          actions: ['ec2:CreateNetworkInterfacePermission'],
          resources: [`arn:${partition}:ec2:${props.region}:${account}:network-interface/*`],
          condition: [
            { test: 'StringEquals', variable: 'ec2:AuthorizedService', values: ['codebuild.amazonaws.com'] },
            { test: 'ArnEquals', variable: 'ec2:Subnet', values: props.subnetIds.map((s) => `arn:${partition}:ec2:${props.region}:${account}:subnet/${s}`) },
          ],
        },
        { sid: 'ListState', actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: [bucketArn] },
        { sid: 'ReadPlatformState', actions: ['s3:GetObject'], resources: objects(props.readStateKeys) },
        // The build's S3 source: CodeBuild fetches a given object version when started with --source-version.
        { sid: 'ReadBundle', actions: ['s3:GetObject', 's3:GetObjectVersion'], resources: objects([props.bundleKey]) },
        {
          sid: 'WriteOwnStateAndLocks',
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: objects(props.writeStateKeys.flatMap((k) => [k, `${k}.tflock`])),
        },
        ...(props.stateKmsKeyId
          ? [{ sid: 'StateKey', actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [props.stateKmsKeyId] }]
          : []),
        ...ecrPull(image, partition),
        { sid: 'BuildOutputKey', actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], resources: [this.key.arn] },
      ],
    });
    const policy = new IamRolePolicy(this, 'policy', { name: 'deploy-runner', role: this.role.id, policy: permissions.json });

    // Cluster-wide admin: the add-ons stack installs CRDs, ClusterRoles and webhooks, which no namespace scope allows.
    const entry = new EksAccessEntry(this, 'access-entry', { clusterName: props.clusterName, principalArn: this.role.arn, type: 'STANDARD', tags });
    new EksAccessPolicyAssociation(this, 'access-policy', {
      clusterName: props.clusterName,
      principalArn: entry.principalArn,
      policyArn: `arn:${partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
      accessScope: { type: 'cluster' },
    });

    this.project = new CodebuildProject(this, 'project', {
      name,
      description: `Plans/applies ${props.stacks.join(', ')} from inside the VPC (private EKS endpoint)`,
      serviceRole: this.role.arn,
      encryptionKey: this.key.arn,
      buildTimeout: timeout,
      queuedTimeout: 60,
      concurrentBuildLimit: 1, // one apply at a time per cell (the state lock would refuse a second anyway)
      source: { type: 'S3', location: `${props.stateBucket}/${props.bundleKey}`, buildspec: runnerBuildspec(props.stacks) },
      artifacts: { type: 'NO_ARTIFACTS' },
      environment: {
        type: 'LINUX_CONTAINER',
        computeType: 'BUILD_GENERAL1_SMALL',
        image,
        imagePullCredentialsType: CURATED_IMAGE.test(image) ? 'CODEBUILD' : 'SERVICE_ROLE',
        privilegedMode: false,
        environmentVariable: [{ name: 'ACTION', value: 'plan', type: 'PLAINTEXT' }],
      },
      vpcConfig: { vpcId: props.vpcId, subnets: [...props.subnetIds], securityGroupIds: [this.securityGroup.id] },
      logsConfig: { cloudwatchLogs: { groupName: logGroup.name, status: 'ENABLED' }, s3Logs: { status: 'DISABLED' } },
      tags,
      dependsOn: [policy],
    });
  }
}

/** Pull permissions on the ECR repository of a custom build image (none for a curated image). */
function ecrPull(image: string, partition: string) {
  const m = Token.isUnresolved(image) ? null : ECR_IMAGE.exec(image);
  if (!m) return [];
  const [, account, region, repository] = m;
  return [
    { sid: 'PullImageToken', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
    {
      sid: 'PullImage',
      actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      resources: [`arn:${partition}:ecr:${region}:${account}:repository/${repository}`],
    },
  ];
}

/**
 * The build: install the pinned Terraform from HashiCorp's signed repository, then for each stack in
 * order `terraform init` and `plan` (ACTION=plan, the default) or `apply -auto-approve` (ACTION=apply).
 */
export function runnerBuildspec(stacks: readonly string[]): string {
  const lines = [
    'version: 0.2',
    'env:',
    '  shell: bash',
    '  variables:',
    '    TF_IN_AUTOMATION: "1"',
    '    TF_INPUT: "0"',
    `    STACKS: "${stacks.join(' ')}"`,
    'phases:',
    '  install:',
    '    commands:',
    '      - dnf install -y dnf-plugins-core',
    '      - dnf config-manager --add-repo https://rpm.releases.hashicorp.com/AmazonLinux/hashicorp.repo',
    `      - dnf install -y terraform-${RUNNER_TERRAFORM_VERSION}`,
    '      - terraform version && aws --version',
    '  build:',
    '    commands:',
    '      - case "$ACTION" in plan|apply) ;; *) echo "ACTION must be plan or apply, got $ACTION"; exit 2;; esac',
    '      - |',
    '        set -euo pipefail',
    '        for stack in $STACKS; do',
    '          echo "== $ACTION $stack"',
    '          terraform -chdir="stacks/$stack" init -input=false',
    '          if [ "$ACTION" = apply ]; then terraform -chdir="stacks/$stack" apply -input=false -auto-approve; else terraform -chdir="stacks/$stack" plan -input=false; fi',
    '        done',
  ];
  return `${lines.join('\n')}\n`;
}
