import { Construct } from 'constructs';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { SqsQueuePolicy } from '@cdktf/provider-aws/lib/sqs-queue-policy';

/** Namespace and service account of the AWS Node Termination Handler (queue-processor mode). */
export const NODE_TERMINATION_HANDLER_SERVICE_ACCOUNT = { namespace: 'kube-system', name: 'aws-node-termination-handler' } as const;
/**
 * EventBridge patterns whose events go to the interruption queue: the 2-minute spot interruption
 * notice, rebalance recommendations, instance state changes and scheduled EC2 maintenance.
 * @see https://github.com/aws/aws-node-termination-handler#queue-processor
 */
export const INTERRUPTION_EVENT_PATTERNS: Readonly<Record<string, object>> = {
  'spot-interruption': { source: ['aws.ec2'], 'detail-type': ['EC2 Spot Instance Interruption Warning'] },
  rebalance: { source: ['aws.ec2'], 'detail-type': ['EC2 Instance Rebalance Recommendation'] },
  'state-change': { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'] },
  'scheduled-change': { source: ['aws.health'], 'detail-type': ['AWS Health Event'], detail: { service: ['EC2'], eventTypeCategory: ['scheduledChange'] } },
};

export interface SpotInterruptionQueueProps {
  /** Prefix of the names: the queue is `<namePrefix>-interruptions`, the rules `<namePrefix>-<kind>`. */
  readonly namePrefix: string;
  /** Tags of every resource. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The AWS side of spot interruption handling for the AWS Node Termination Handler in queue-processor
 * mode: an SQS queue (SSE, messages kept 5 minutes) fed by one EventBridge rule per
 * {@link INTERRUPTION_EVENT_PATTERNS} entry, with a queue policy that admits only those rules.
 * Managed node groups drain on rebalance recommendations only; this covers the notice that comes
 * without one. Deploy NTH with `QUEUE_URL` = `queue.url` and give its role {@link grantHandler}.
 *
 * The resources are created directly in `scope` with ids `<id>-queue`, `<id>-<kind>`,
 * `<id>-<kind>-target`, `<id>-queue-policy(-doc)` — the Terraform addresses they had when
 * InferenceCluster built them itself (construct ids are state addresses).
 */
export class SpotInterruptionQueue {
  /** The queue of interruption events. */
  public readonly queue: SqsQueue;
  /** The EventBridge rules feeding it, by kind. */
  public readonly rules: Readonly<Record<string, CloudwatchEventRule>>;

  private readonly scope: Construct;

  constructor(scope: Construct, id: string, props: SpotInterruptionQueueProps) {
    this.scope = scope;
    const tags = { ...(props.tags ?? {}) };
    const name = props.namePrefix;
    this.queue = new SqsQueue(scope, `${id}-queue`, {
      name: `${name}-interruptions`,
      messageRetentionSeconds: 300, // an interruption notice is worthless after its two minutes
      sqsManagedSseEnabled: true,
      tags,
    });
    const rules: Record<string, CloudwatchEventRule> = {};
    for (const [kind, pattern] of Object.entries(INTERRUPTION_EVENT_PATTERNS)) {
      const rule = new CloudwatchEventRule(scope, `${id}-${kind}`, {
        name: `${name}-${kind}`,
        description: `${name}: ${kind} events for the Node Termination Handler`,
        eventPattern: JSON.stringify(pattern),
        tags: { ...tags },
      });
      new CloudwatchEventTarget(scope, `${id}-${kind}-target`, { rule: rule.name, arn: this.queue.arn });
      rules[kind] = rule;
    }
    this.rules = rules;
    const queuePolicy = new DataAwsIamPolicyDocument(scope, `${id}-queue-policy-doc`, {
      statement: [
        {
          sid: 'EventBridgeSendsInterruptionEvents',
          actions: ['sqs:SendMessage'],
          resources: [this.queue.arn],
          principals: [{ type: 'Service', identifiers: ['events.amazonaws.com', 'sqs.amazonaws.com'] }],
          condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: Object.values(rules).map((r) => r.arn) }],
        },
      ],
    });
    new SqsQueuePolicy(scope, `${id}-queue-policy`, { queueUrl: this.queue.url, policy: queuePolicy.json });
  }

  /**
   * Gives the Node Termination Handler's role what it needs: consume the queue, and describe
   * instances and auto scaling groups (Describe calls support no resource-level permissions).
   * Creates `<id>-policy-doc` and the inline policy `<id>` (named `interruption-queue`) in the scope.
   */
  public grantHandler(id: string, role: IamRole): IamRolePolicy {
    const permissions = new DataAwsIamPolicyDocument(this.scope, `${id}-doc`, {
      statement: [
        { sid: 'ConsumeInterruptionQueue', actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resources: [this.queue.arn] },
        {
          sid: 'DescribeInstancesAndGroups',
          actions: ['ec2:DescribeInstances', 'autoscaling:DescribeAutoScalingInstances', 'autoscaling:DescribeTags'],
          resources: ['*'],
        },
      ],
    });
    return new IamRolePolicy(this.scope, id, { name: 'interruption-queue', role: role.id, policy: permissions.json });
  }
}
