import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { MqBroker } from '@cdktf/provider-aws/lib/mq-broker';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { SecretsmanagerSecret } from '@cdktf/provider-aws/lib/secretsmanager-secret';
import { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { Fn, TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { THRESHOLDS } from '../../monitoring/thresholds';
import { PRIORITY_CLASSES } from '../../contract/priority';
import { JOB_QUEUE_TOPOLOGY, JobQueueTopology } from '../../contract/queue-topology';
import { GeneratedSecret } from './generated-secret';
import { PropsValidator } from '../private/validation';

/** AMQP 0-9-1 over TLS, the only listener the broker opens to the cluster. */
export const AMQPS_PORT = 5671;

/**
 * RabbitMQ definitions (the format of `rabbitmqctl import_definitions` and the management
 * API) of a job topology: exchanges, queues with their arguments, bindings. Rendered from
 * the shared topology data, never typed by hand.
 */
export interface RabbitDefinitions {
  readonly exchanges: readonly { name: string; vhost: string; type: string; durable: true; auto_delete: false; internal: false; arguments: Record<string, never> }[];
  readonly queues: readonly { name: string; vhost: string; durable: true; auto_delete: false; arguments: Readonly<Record<string, string | number>> }[];
  readonly bindings: readonly { source: string; vhost: string; destination: string; destination_type: 'queue'; routing_key: string; arguments: Record<string, never> }[];
}

/** Renders a job topology as RabbitMQ definitions for one virtual host. Deterministic. */
export function renderRabbitDefinitions(topology: JobQueueTopology, vhost = '/'): RabbitDefinitions {
  const exchange = (name: string, type: string) => ({ name, vhost, type, durable: true as const, auto_delete: false as const, internal: false as const, arguments: {} });
  const queue = (q: { name: string; arguments: Readonly<Record<string, string | number>> }) => ({
    name: q.name,
    vhost,
    durable: true as const,
    auto_delete: false as const,
    arguments: q.arguments,
  });
  const bind = (source: string, destination: string, routingKey: string) => ({
    source,
    vhost,
    destination,
    destination_type: 'queue' as const,
    routing_key: routingKey,
    arguments: {},
  });
  return {
    exchanges: [exchange(topology.exchange, topology.exchangeType), exchange(topology.deadLetterExchange, topology.deadLetterExchangeType)],
    queues: [
      ...PRIORITY_CLASSES.map((c) => queue(topology.classQueues[c])),
      ...topology.retryQueues.map(queue),
      queue(topology.deadLetterQueue),
    ],
    bindings: [
      ...PRIORITY_CLASSES.map((c) => bind(topology.exchange, topology.classQueues[c].name, c)),
      bind(topology.deadLetterExchange, topology.deadLetterQueue.name, ''),
    ],
  };
}

/**
 * Memory of Amazon MQ for RabbitMQ instance types, GiB. RabbitMQ blocks publishers when a node
 * uses more than its memory limit (`RabbitMQMemLimit`, tuned by Amazon MQ to about 40 % of RAM).
 * @see https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-broker-instance-types.html
 */
const INSTANCE_MEMORY_GIB: Readonly<Record<string, number>> = {
  'mq.t3.micro': 1,
  'mq.m5.large': 8,
  'mq.m5.xlarge': 16,
  'mq.m5.2xlarge': 32,
  'mq.m5.4xlarge': 64,
  'mq.m7g.medium': 4,
  'mq.m7g.large': 8,
  'mq.m7g.xlarge': 16,
  'mq.m7g.2xlarge': 32,
  'mq.m7g.4xlarge': 64,
  'mq.m7g.8xlarge': 128,
  'mq.m7g.12xlarge': 192,
  'mq.m7g.16xlarge': 256,
};

export interface MessageQueueProps {
  /** Broker name and prefix of everything else: 1–50 letters, digits, hyphens and underscores. */
  readonly name: string;
  /** VPC of the broker. */
  readonly vpcId: string;
  /**
   * Private subnets. A single-instance broker uses the first; a cluster spreads its three
   * nodes over the subnets' availability zones (at least two subnets).
   */
  readonly subnetIds: readonly string[];
  /** Security groups allowed to connect on AMQPS (5671). At least one. */
  readonly allowedSecurityGroupIds: readonly string[];
  /**
   * Broker instance type.
   * @default 'mq.m5.large'
   * @see https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-broker-instance-types.html
   */
  readonly instanceType?: string;
  /**
   * `CLUSTER_MULTI_AZ` (three nodes over three zones, quorum queues replicated) or
   * `SINGLE_INSTANCE` (one node; for development only).
   * @default 'CLUSTER_MULTI_AZ'
   */
  readonly deploymentMode?: 'CLUSTER_MULTI_AZ' | 'SINGLE_INSTANCE';
  /**
   * RabbitMQ engine version (`major.minor`; minor upgrades are automatic). 3.13 runs on the
   * m5/t3 instance families; 4.x requires m7g instances. The job topology (one quorum queue
   * per priority class) is the same under both.
   * @default '3.13'
   */
  readonly engineVersion?: string;
  /**
   * Name of the broker user the runtimes connect as.
   * @default 'surgeguard'
   */
  readonly username?: string;
  /**
   * Name of the Secrets Manager secret holding the user's password.
   * @default 'surgeguard/<name>/rabbitmq-password'
   */
  readonly passwordSecretName?: string;
  /**
   * Weekly maintenance window start (UTC).
   * @default { dayOfWeek: 'SUNDAY', timeOfDay: '04:00' }
   */
  readonly maintenanceWindow?: { readonly dayOfWeek: string; readonly timeOfDay: string };
  /**
   * The job topology whose queues get depth alarms and whose definitions are published.
   * @default JOB_QUEUE_TOPOLOGY
   */
  readonly topology?: JobQueueTopology;
  /**
   * Alarm when a class queue holds more ready messages than this for `queueBacklogMinutes`.
   * @default THRESHOLDS.queueBacklog (1000)
   */
  readonly queueBacklogThreshold?: number;
  /**
   * Minutes the backlog must last before the alarm fires.
   * @default THRESHOLDS.queueBacklogForMinutes (3)
   */
  readonly queueBacklogMinutes?: number;
  /**
   * Alarm when any node uses more memory than this, in bytes.
   * @default - 80 % of the node's memory limit (about 40 % of the instance's RAM)
   */
  readonly memoryAlarmBytes?: number;
  /**
   * SNS topic notified when an alarm changes state.
   * @default - alarms without actions
   */
  readonly alarmTopicArn?: string;
  /**
   * Secrets Manager KMS key for the password secret.
   * @default - the account's `aws/secretsmanager` key
   */
  readonly secretKmsKeyArn?: string;
}

/**
 * Amazon MQ for RabbitMQ for durable asynchronous jobs: private, encrypted at rest with an
 * AWS-owned key (RabbitMQ brokers cannot use a customer-managed key), a clustered
 * three-node broker outside development, automatic minor upgrades, general logs, a set
 * maintenance window, a user whose password AWS generates into Secrets Manager, alarms on
 * the depth of every class queue and the dead-letter queue (from the shared topology), on
 * memory and CPU; and the topology's RabbitMQ definitions published to SSM.
 */
export class MessageQueue extends Construct {
  /** The broker. */
  public readonly broker: MqBroker;
  /**
   * The general log group: Amazon MQ creates `/aws/amazonmq/broker/<broker id>/general` itself when
   * the broker first logs (during its creation), so Terraform cannot create it first with a
   * retention; set the retention once after the first deploy (docs/serving-plan.md, "Log groups").
   */
  public readonly generalLogGroupName: string;
  /** Security group of the broker. */
  public readonly securityGroup: SecurityGroup;
  /** The broker user's password in Secrets Manager. */
  public readonly password: GeneratedSecret;
  /**
   * Secret holding the full connection URL `amqps://<user>:<password>@<host>:5671`, which is
   * what the runtimes take (`amqp.url: { fromEnv: … }`). Derived in Terraform from the password
   * version and the broker endpoint: references in synth, the value only in state.
   */
  public readonly connectionUrlSecret: SecretsmanagerSecret;
  /** ARN of `connectionUrlSecret`. */
  public readonly connectionUrlSecretArn: string;
  /** The broker user name (not secret). */
  public readonly username: string;
  /** AMQPS endpoint, `amqps://<host>:5671`. */
  public readonly amqpsEndpoint: string;
  /** Resolved deployment mode. */
  public readonly deploymentMode: 'CLUSTER_MULTI_AZ' | 'SINGLE_INSTANCE';
  /** Resolved engine version. */
  public readonly engineVersion: string;
  /** The topology alarms and definitions are rendered from. */
  public readonly topology: JobQueueTopology;
  /** RabbitMQ definitions of the topology. */
  public readonly definitions: RabbitDefinitions;
  /** SSM parameter holding `definitions` as JSON. */
  public readonly definitionsParameter: SsmParameter;
  /** Queue-depth alarms, by queue name. */
  public readonly queueAlarms: Readonly<Record<string, CloudwatchMetricAlarm>>;
  /** Memory and CPU alarms. */
  public readonly memoryAlarm: CloudwatchMetricAlarm;
  public readonly cpuAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: MessageQueueProps) {
    super(scope, id);
    const v = new PropsValidator('MessageQueue', id);
    v.matches('name', props.name, /^[A-Za-z0-9_-]{1,50}$/, `"${props.name}" must be 1-50 letters, digits, hyphens or underscores`);
    const instanceType = props.instanceType ?? 'mq.m5.large';
    this.deploymentMode = props.deploymentMode ?? 'CLUSTER_MULTI_AZ';
    this.engineVersion = props.engineVersion ?? '3.13';
    this.username = props.username ?? 'surgeguard';
    this.topology = props.topology ?? JOB_QUEUE_TOPOLOGY;
    // Instance type and engine version pick alarm thresholds and compatibility at synth: no tokens.
    if (!/^mq\.[a-z0-9]+\.[a-z0-9]+$/.test(instanceType)) v.fail('instanceType', `"${instanceType}" is not an Amazon MQ instance type`);
    const version = /^(\d+)\.(\d+)(\.\d+)?$/.exec(this.engineVersion);
    if (!version) v.fail('engineVersion', `"${this.engineVersion}" is not a RabbitMQ version like 3.13`);
    const [major, minor] = [Number(version![1]), Number(version![2])];
    if (major < 3 || (major === 3 && minor < 13)) v.fail('engineVersion', `must be 3.13 or later (quorum queues with delivery limits), got ${this.engineVersion}`);
    if (major >= 4 && !instanceType.startsWith('mq.m7g.')) v.fail('engineVersion', `${this.engineVersion} needs an mq.m7g instance type, got ${instanceType}`);
    if (this.deploymentMode === 'CLUSTER_MULTI_AZ' && instanceType === 'mq.t3.micro') v.fail('instanceType', 'mq.t3.micro supports SINGLE_INSTANCE only');
    v.atLeast('subnetIds', props.subnetIds, 1, 'must list at least one subnet');
    if (this.deploymentMode === 'CLUSTER_MULTI_AZ') v.atLeast('subnetIds', props.subnetIds, 2, 'must list at least two subnets (zones) for CLUSTER_MULTI_AZ');
    v.atLeast('allowedSecurityGroupIds', props.allowedSecurityGroupIds, 1, 'must list at least one security group: nothing could connect');
    v.check('username', this.username, (u) => /^[A-Za-z0-9_.~-]{2,100}$/.test(u) && u !== 'guest', `"${this.username}" must be 2-100 characters of letters, digits, _ . ~ - and not "guest"`);
    const memoryGib = INSTANCE_MEMORY_GIB[instanceType];
    if (props.memoryAlarmBytes === undefined && memoryGib === undefined) v.fail('memoryAlarmBytes', `must be set: the memory of ${instanceType} is not known`);
    const backlog = props.queueBacklogThreshold ?? THRESHOLDS.queueBacklog;
    const backlogMinutes = props.queueBacklogMinutes ?? THRESHOLDS.queueBacklogForMinutes;
    v.check('queueBacklogThreshold', backlog, (b) => b > 0, `must be above 0, got ${backlog}`);
    v.wholeNumber('queueBacklogMinutes', backlogMinutes, 1);

    const name = props.name;
    this.password = new GeneratedSecret(this, 'Password', {
      name: props.passwordSecretName ?? `surgeguard/${name}/rabbitmq-password`,
      description: `Password of RabbitMQ user ${this.username} on broker ${name}`,
      length: 32,
      // Amazon MQ passwords may not contain commas, colons or equals signs.
      excludePunctuation: true,
      kmsKeyArn: props.secretKmsKeyArn,
    });

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      name: `${name}-rabbitmq`,
      description: `Amazon MQ ${name}: AMQPS from the cluster nodes only`,
      vpcId: props.vpcId,
      revokeRulesOnDelete: true,
    });
    props.allowedSecurityGroupIds.forEach((sg, i) => {
      new VpcSecurityGroupIngressRule(this, `Ingress${i}`, {
        securityGroupId: this.securityGroup.id,
        referencedSecurityGroupId: sg,
        ipProtocol: 'tcp',
        fromPort: AMQPS_PORT,
        toPort: AMQPS_PORT,
        description: 'AMQPS from an allowed security group',
      });
    });


    const window = props.maintenanceWindow ?? { dayOfWeek: 'SUNDAY', timeOfDay: '04:00' };
    this.broker = new MqBroker(this, 'Broker', {
      brokerName: name,
      engineType: 'RabbitMQ',
      engineVersion: this.engineVersion,
      autoMinorVersionUpgrade: true,
      hostInstanceType: instanceType,
      deploymentMode: this.deploymentMode,
      publiclyAccessible: false,
      subnetIds: this.deploymentMode === 'SINGLE_INSTANCE' ? [props.subnetIds[0]] : [...props.subnetIds],
      securityGroups: [this.securityGroup.id],
      authenticationStrategy: 'simple',
      storageType: 'ebs',
      encryptionOptions: { useAwsOwnedKey: true },
      logs: { general: true },
      maintenanceWindowStartTime: { dayOfWeek: window.dayOfWeek, timeOfDay: window.timeOfDay, timeZone: 'UTC' },
      // console_access applies to ActiveMQ only; RabbitMQ users reach the console with their password.
      user: [{ username: this.username, password: this.password.value }],
      applyImmediately: false,
    });
    this.generalLogGroupName = `/aws/amazonmq/broker/${this.broker.id}/general`;
    new TerraformOutput(this, 'GeneralLogGroup', { value: this.generalLogGroupName, description: `General log group of broker ${name} (created by Amazon MQ)` });
    this.amqpsEndpoint = Fn.element(this.broker.instances.get(0).endpoints, 0);
    this.connectionUrlSecret = new SecretsmanagerSecret(this, 'ConnectionUrl', {
      name: `${props.passwordSecretName ?? `surgeguard/${name}/rabbitmq-password`}-url`,
      description: `AMQPS URL with credentials of ${this.username} on broker ${name}`,
      kmsKeyId: props.secretKmsKeyArn,
      recoveryWindowInDays: 7,
    });
    new SecretsmanagerSecretVersion(this, 'ConnectionUrlVersion', {
      secretId: this.connectionUrlSecret.id,
      // The password is alphanumeric (punctuation excluded), so it needs no URL encoding.
      secretString: Fn.replace(this.amqpsEndpoint, 'amqps://', `amqps://${this.username}:${this.password.value}@`),
    });
    this.connectionUrlSecretArn = this.connectionUrlSecret.arn;

    this.definitions = renderRabbitDefinitions(this.topology);
    const definitionsJson = JSON.stringify(this.definitions);
    this.definitionsParameter = new SsmParameter(this, 'Definitions', {
      name: `/surgeguard/${name}/rabbitmq/definitions`,
      // The description names the topology's former path (now contract/queue-topology.ts): it is
      // deployed text, kept as is so that the move changes no live resource.
      description: 'RabbitMQ definitions of the job topology (runtime/common/queue-topology.ts); not secret',
      type: 'String',
      tier: definitionsJson.length > 4096 ? 'Advanced' : 'Standard',
      value: definitionsJson,
    });

    const actions = props.alarmTopicArn ? [props.alarmTopicArn] : undefined;
    const queueAlarms: Record<string, CloudwatchMetricAlarm> = {};
    const queueAlarm = (key: string, queue: string, metric: string, threshold: number, minutes: number, what: string) =>
      new CloudwatchMetricAlarm(this, `QueueAlarm-${key}`, {
        alarmName: `${name}-${queue}-depth`,
        alarmDescription: what,
        namespace: 'AWS/AmazonMQ',
        metricName: metric,
        dimensions: { Broker: name, VirtualHost: '/', Queue: queue },
        statistic: 'Maximum',
        period: 60,
        evaluationPeriods: minutes,
        datapointsToAlarm: minutes,
        threshold,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'notBreaching',
        alarmActions: actions,
        okActions: actions,
      });
    for (const cls of PRIORITY_CLASSES) {
      const q = this.topology.classQueues[cls].name;
      queueAlarms[q] = queueAlarm(cls, q, 'MessageReadyCount', backlog, backlogMinutes, `More than ${backlog} ready ${cls} jobs for ${backlogMinutes} minutes in ${q}`);
    }
    const dlq = this.topology.deadLetterQueue.name;
    queueAlarms[dlq] = queueAlarm('dead', dlq, 'MessageCount', 0, 1, `Poison or exhausted jobs arrived in the dead-letter queue ${dlq}`);
    this.queueAlarms = queueAlarms;

    // Node metrics carry a Node dimension whose values (rabbit@ip-…) exist only after
    // deploy, so these alarms aggregate over the broker's nodes with a Metrics Insights query.
    const memoryLimitBytes = memoryGib !== undefined ? memoryGib * 0.4 * 1024 ** 3 : undefined;
    const memoryThreshold = props.memoryAlarmBytes ?? Math.round(memoryLimitBytes! * 0.8);
    const insights = (key: string, metric: string, threshold: number, what: string) =>
      new CloudwatchMetricAlarm(this, key, {
        alarmName: `${name}-${key.toLowerCase()}`,
        alarmDescription: what,
        metricQuery: [
          {
            id: 'q',
            expression: `SELECT MAX(${metric}) FROM SCHEMA("AWS/AmazonMQ", Broker, Node) WHERE Broker = '${name}'`,
            period: 60,
            returnData: true,
          },
        ],
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        threshold,
        comparisonOperator: 'GreaterThanThreshold',
        treatMissingData: 'missing',
        alarmActions: actions,
        okActions: actions,
      });
    this.memoryAlarm = insights('Memory', 'RabbitMQMemUsed', memoryThreshold, `A node of ${name} uses more than ${memoryThreshold} bytes (publishers are blocked at the memory limit)`);
    this.cpuAlarm = insights('Cpu', 'SystemCpuUtilization', 80, `A node of ${name} has used more than 80 % CPU for 5 minutes`);

    new TerraformOutput(this, 'AmqpsEndpoint', { value: this.amqpsEndpoint, description: `AMQPS endpoint of broker ${name}` });
    new TerraformOutput(this, 'ConnectionUrlSecretArn', { value: this.connectionUrlSecretArn, description: `Secrets Manager ARN of the AMQPS URL (with credentials) of ${name}` });
    new TerraformOutput(this, 'PasswordSecretArn', { value: this.password.secretArn, description: `Secrets Manager ARN of the password of ${this.username}@${name}` });
  }

  /** Lets an IAM role (by name) read the broker password and the connection URL from Secrets Manager. */
  public grantReadCredentials(roleName: string, id = 'PasswordRead'): IamRolePolicy {
    const statements: { sid: string; actions: string[]; resources: string[] }[] = [
      { sid: 'ReadSecrets', actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [this.password.secretArn, this.connectionUrlSecret.arn] },
    ];
    if (this.password.kmsKeyArn) statements.push({ sid: 'DecryptSecrets', actions: ['kms:Decrypt'], resources: [this.password.kmsKeyArn] });
    const doc = new DataAwsIamPolicyDocument(this, `${id}Document`, { statement: statements });
    return new IamRolePolicy(this, id, { role: roleName, name: `${this.broker.brokerName}-credentials-read`, policy: doc.json });
  }
}
