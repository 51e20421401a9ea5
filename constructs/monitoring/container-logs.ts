import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { InferenceCluster } from '../cluster/inference-cluster';
import { accountAdministersKey, logsEncryptLogGroup } from '../private/kms-key-policy';
import { PropsValidator } from '../private/validation';

/** Namespace and service account of the log shipper (the IRSA trust of its role names them). */
export const CONTAINER_LOG_SHIPPER_SERVICE_ACCOUNT = { namespace: 'kube-system', name: 'fluent-bit' } as const;

/**
 * One log group of container logs and the pods it receives: those of the listed namespaces, or (`rest`)
 * of every namespace no other stream lists (kube-system, the add-ons' namespaces, anything added later).
 */
export interface ContainerLogStream {
  /** Short name: the log group's last path segment and the Fluent Bit tag prefix (`[a-z][a-z0-9-]*`). */
  readonly key: string;
  /** The namespaces whose pods' stdout/stderr go to this group, or `rest`. */
  readonly namespaces: readonly string[] | 'rest';
}

/** `/surgeguard/<name>/containers/<key>`: the log group of one stream. */
export function containerLogGroupName(name: string, key: string): string {
  return `/surgeguard/${name}/containers/${key}`;
}

export interface ContainerLogGroupsProps {
  /** Prefix of every name (`surgeguard-prod-use1`). */
  readonly name: string;
  /** AWS region of the cluster and the groups. */
  readonly region: string;
  /** The cluster whose pods' logs the groups receive (its OIDC provider trusts the shipper's role). */
  readonly cluster: InferenceCluster;
  /** The streams; exactly one must be `rest`, and no namespace may be listed twice. */
  readonly streams: readonly ContainerLogStream[];
  /** Retention of every group, in days (a CloudWatch Logs retention value). */
  readonly retentionDays: number;
  /** Tags. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The AWS side of container logs: one CloudWatch Logs group per stream, each encrypted with a
 * customer-managed key of its own (rotated; CloudWatch Logs may use it for these groups only) and kept
 * `retentionDays`, created by Terraform before any shipper runs — so nothing ever creates a group
 * unencrypted or with infinite retention — and the IRSA role of the shipper (`kube-system:fluent-bit`),
 * which may only create streams in and put events to these groups (no `CreateLogGroup`, no
 * `PutRetentionPolicy`, no other group).
 */
export class ContainerLogGroups extends Construct {
  /** The customer-managed key of the groups. */
  public readonly key: KmsKey;
  /** The log groups, by stream key. */
  public readonly groups: Readonly<Record<string, CloudwatchLogGroup>>;
  /** Log group names by stream key (plain strings: known at synth). */
  public readonly groupNames: Readonly<Record<string, string>>;
  /** The shipper's IRSA role (annotate its service account with the ARN). */
  public readonly shipperRole: IamRole;
  /** The streams, as given. */
  public readonly streams: readonly ContainerLogStream[];

  constructor(scope: Construct, id: string, props: ContainerLogGroupsProps) {
    super(scope, id);
    const v = new PropsValidator('ContainerLogGroups', id);
    v.logRetention('retentionDays', props.retentionDays);
    validateContainerLogStreams(v, props.streams);
    this.streams = props.streams;
    const tags = { ...(props.tags ?? {}) };
    const partition = new DataAwsPartition(this, 'partition').partition;
    const account = new DataAwsCallerIdentity(this, 'account').accountId;

    this.groupNames = Object.fromEntries(props.streams.map((s) => [s.key, containerLogGroupName(props.name, s.key)]));
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'key-policy', {
      statement: [
        accountAdministersKey(partition, account),
        ...props.streams.map((s) =>
          logsEncryptLogGroup({
            sid: `CloudWatchLogsEncryptsContainers${s.key.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase())}`,
            arnPartition: partition,
            region: props.region,
            accountId: account,
            logGroupName: this.groupNames[s.key],
          }),
        ),
      ],
    });
    this.key = new KmsKey(this, 'key', {
      description: `${props.name}: container logs`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
      tags: { ...tags, Name: `${props.name}-container-logs` },
    });
    new KmsAlias(this, 'key-alias', { name: `alias/${props.name}-container-logs`, targetKeyId: this.key.keyId });
    this.groups = Object.fromEntries(
      props.streams.map((s) => [
        s.key,
        new CloudwatchLogGroup(this, `group-${s.key}`, { name: this.groupNames[s.key], retentionInDays: props.retentionDays, kmsKeyId: this.key.arn, tags }),
      ]),
    );

    this.shipperRole = props.cluster.createServiceAccountRole(`${id}-shipper-role`, {
      namespace: CONTAINER_LOG_SHIPPER_SERVICE_ACCOUNT.namespace,
      serviceAccount: CONTAINER_LOG_SHIPPER_SERVICE_ACCOUNT.name,
    });
    const permissions = new DataAwsIamPolicyDocument(this, 'shipper-policy-doc', {
      statement: [
        {
          sid: 'ShipToOwnGroupsOnly',
          // Fluent Bit's cloudwatch_logs output calls CreateLogStream and PutLogEvents only, when
          // auto_create_group is off and no log_retention_days is set.
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: Object.values(this.groups).map((g) => `${g.arn}:*`),
        },
      ],
    });
    new IamRolePolicy(this, 'shipper-policy', { name: 'container-logs', role: this.shipperRole.id, policy: permissions.json });
  }
}

/** Stream keys unique and well-formed, exactly one `rest`, no namespace in two streams. */
export function validateContainerLogStreams(v: PropsValidator, streams: readonly ContainerLogStream[]): void {
  v.atLeast('streams', streams, 1, 'must list at least one stream');
  const keys = streams.map((s) => s.key);
  for (const key of keys) v.matches('streams', key, /^[a-z][a-z0-9-]{0,30}$/, `key "${key}" must be 1-31 lower-case letters, digits or dashes`);
  const dupKey = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dupKey !== undefined) v.fail('streams', `key "${dupKey}" is listed twice`);
  const rest = streams.filter((s) => s.namespaces === 'rest').length;
  if (rest !== 1) v.fail('streams', `must have exactly one "rest" stream (pods of every other namespace), found ${rest}`);
  const namespaces = streams.flatMap((s) => (s.namespaces === 'rest' ? [] : [...s.namespaces]));
  const dupNs = namespaces.find((n, i) => namespaces.indexOf(n) !== i);
  if (dupNs !== undefined) v.fail('streams', `namespace "${dupNs}" is in two streams`);
  for (const ns of namespaces) v.matches('streams', ns, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `namespace "${ns}" is not a Kubernetes namespace name`);
}
