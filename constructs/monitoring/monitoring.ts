import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { accountAdministersKey } from '../private/kms-key-policy';
import { PropsValidator } from '../private/validation';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { PrometheusAlertManagerDefinition } from '@cdktf/provider-aws/lib/prometheus-alert-manager-definition';
import { PrometheusRuleGroupNamespace } from '@cdktf/provider-aws/lib/prometheus-rule-group-namespace';
import { PrometheusScraper } from '@cdktf/provider-aws/lib/prometheus-scraper';
import { PrometheusWorkspace } from '@cdktf/provider-aws/lib/prometheus-workspace';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy';
import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { ALERT_GROUPS, AlertGroup, renderRuleFile } from '../../monitoring/alert-rules';
import { THRESHOLDS } from '../../monitoring/thresholds';

/** Kubernetes user name the managed scraper authenticates as (bound to a ClusterRole in-cluster). */
export const SCRAPER_KUBERNETES_USER = 'aps-collector-user';

/** Pod annotations the managed scraper reads to find targets. */
export const SCRAPE_ANNOTATIONS = {
  scrape: 'prometheus.io/scrape',
  port: 'prometheus.io/port',
  path: 'prometheus.io/path',
} as const;

/** The regional load balancer, for CloudWatch alarms. */
export interface MonitoredLoadBalancer {
  /** `arn_suffix` of the ALB (`app/<name>/<id>`). */
  readonly albArnSuffix: string;
  /** `arn_suffix` of the ALB target group of the proxy (`targetgroup/<name>/<id>`). */
  readonly targetGroupArnSuffix: string;
}

export interface MonitoringProps {
  /** Prefix of every name (`surgeguard-prod-use1`). */
  readonly name: string;
  /** AWS region, for the Alertmanager's SigV4 signing of SNS calls. */
  readonly region: string;
  /** EKS cluster the managed collector scrapes. */
  readonly clusterName: string;
  /** ARN of that cluster. */
  readonly clusterArn: string;
  /**
   * Subnets the managed collector's interfaces live in (one interface per subnet; at least two zones, at
   * most five subnets), in the cluster's VPC. Give it subnets of its own (`Network.scraperSubnetIds`) so
   * that a NetworkPolicy `ipBlock` of their CIDRs matches the collector and no pod.
   */
  readonly scraperSubnetIds: readonly string[];
  /** Security groups of the collector's interfaces: must reach the pods (the cluster security group). */
  readonly scraperSecurityGroupIds: readonly string[];
  /**
   * Alert groups evaluated by the workspace.
   * @default ALERT_GROUPS (monitoring/alert-rules.ts)
   */
  readonly alertGroups?: readonly AlertGroup[];
  /**
   * The regional load balancer to alarm on.
   * @default - no load-balancer alarms
   */
  readonly loadBalancer?: MonitoredLoadBalancer;
  /**
   * Days to keep logs (workspace logs, container application logs).
   * @default 30
   */
  readonly logRetentionDays?: number;
  /**
   * Scrape interval of the managed collector, Prometheus duration.
   * @default '30s'
   */
  readonly scrapeInterval?: string;
}

/**
 * Regional monitoring on the AWS side. Choice: Amazon Managed Service for Prometheus with the
 * agentless managed collector (`aws_prometheus_scraper`) — nothing to run, patch or size in the
 * cluster, storage and rule evaluation survive the loss of the cluster, and the same PromQL rules
 * work as in-cluster. The workspace evaluates the rules of `monitoring/alert-rules.ts` and its
 * Alertmanager routes them to an SNS topic encrypted with a customer-managed key (the AWS-managed
 * SNS key cannot be used by CloudWatch or AMP). CloudWatch alarms cover what Prometheus does not
 * see: the load balancer in front of the proxies (5xx ratio, p99, no healthy targets) with
 * anomaly-detection bands where a fixed line would be wrong (traffic volume, median latency).
 */
export class Monitoring extends Construct {
  /** The Prometheus workspace. */
  public readonly workspace: PrometheusWorkspace;
  /** The managed collector. */
  public readonly scraper: PrometheusScraper;
  /** IAM role the collector uses (mapped to the Kubernetes user `aps-collector-user`). */
  public readonly scraperRoleArn: string;
  /** The rule namespace holding the alert rules. */
  public readonly rules: PrometheusRuleGroupNamespace;
  /** The Alertmanager definition. */
  public readonly alertManager: PrometheusAlertManagerDefinition;
  /** Encrypted SNS topic every alert and alarm goes to; subscribe on-call here. */
  public readonly alarmTopic: SnsTopic;
  /** Key encrypting the topic. */
  public readonly topicKey: KmsKey;
  /** CloudWatch alarms on the load balancer, by name. */
  public readonly loadBalancerAlarms: Readonly<Record<string, CloudwatchMetricAlarm>>;
  /** Remote-write/query endpoint of the workspace. */
  public readonly prometheusEndpoint: string;
  /** The Alertmanager configuration (YAML) uploaded to the workspace. */
  public readonly alertManagerYaml: string;
  /** The scrape configuration (YAML) of the collector. */
  public readonly scrapeConfigYaml: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const v = new PropsValidator('Monitoring', id);
    v.matches('name', props.name, /^[a-zA-Z0-9-]{1,40}$/, `"${props.name}" must be 1-40 letters, digits or hyphens`);
    v.atLeast('scraperSubnetIds', props.scraperSubnetIds, 2, 'must list subnets in at least two availability zones');
    v.atLeast('scraperSecurityGroupIds', props.scraperSecurityGroupIds, 1, 'must list at least one security group');
    const groups = props.alertGroups ?? ALERT_GROUPS;
    v.atLeast('alertGroups', groups, 1, 'must hold at least one group');
    const scrapeInterval = props.scrapeInterval ?? '30s';
    v.matches('scrapeInterval', scrapeInterval, /^\d+(s|m)$/, `"${scrapeInterval}" is not a Prometheus duration like 30s`);
    const retention = props.logRetentionDays ?? 30;
    v.logRetention('logRetentionDays', retention);
    const name = props.name;

    const account = new DataAwsCallerIdentity(this, 'Account');
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'TopicKeyPolicy', {
      statement: [
        accountAdministersKey('aws', account.accountId),
        {
          sid: 'AlarmPublishersEncrypt',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com', 'aps.amazonaws.com'] }],
          condition: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [account.accountId] }],
        },
      ],
    });
    this.topicKey = new KmsKey(this, 'TopicKey', {
      description: `surgeguard ${name}: alarm topic`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
    });
    this.alarmTopic = new SnsTopic(this, 'AlarmTopic', { name: `${name}-alarms`, kmsMasterKeyId: this.topicKey.arn });
    const topicPolicy = new DataAwsIamPolicyDocument(this, 'AlarmTopicPolicy', {
      statement: [
        {
          sid: 'AlarmPublishers',
          // Managed Prometheus' Alertmanager reads the topic's attributes before publishing.
          actions: ['sns:Publish', 'sns:GetTopicAttributes'],
          resources: [this.alarmTopic.arn],
          principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com', 'aps.amazonaws.com'] }],
          condition: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [account.accountId] }],
        },
      ],
    });
    new SnsTopicPolicy(this, 'AlarmTopicPolicyAttachment', { arn: this.alarmTopic.arn, policy: topicPolicy.json });

    const workspaceLog = new CloudwatchLogGroup(this, 'WorkspaceLog', { name: `/aws/prometheus/${name}`, retentionInDays: retention });
    this.workspace = new PrometheusWorkspace(this, 'Workspace', {
      alias: name,
      loggingConfiguration: { logGroupArn: `${workspaceLog.arn}:*` },
    });
    this.prometheusEndpoint = this.workspace.prometheusEndpoint;

    this.rules = new PrometheusRuleGroupNamespace(this, 'Rules', {
      name: 'surgeguard-alerts',
      workspaceId: this.workspace.id,
      data: renderRuleFile(groups),
    });

    this.alertManagerYaml = stringify(
      {
        alertmanager_config: {
          route: {
            receiver: 'sns-warning',
            group_by: ['alertname', 'pool', 'queue', 'upstream'],
            group_wait: '30s',
            group_interval: '5m',
            repeat_interval: '4h',
            routes: [{ receiver: 'sns-critical', matchers: ['severity="critical"'], group_wait: '10s', repeat_interval: '1h' }],
          },
          inhibit_rules: [
            // While the 5xx ratio pages, the breaker warnings that explain it are noise.
            { source_matchers: ['alertname="SurgeguardHighErrorRatio"'], target_matchers: ['alertname="SurgeguardCircuitBreakerOpen"'], equal: ['pool'] },
          ],
          receivers: (['critical', 'warning'] as const).map((severity) => ({
            name: `sns-${severity}`,
            sns_configs: [
              {
                topic_arn: this.alarmTopic.arn,
                sigv4: { region: props.region },
                subject: `[${severity}] surgeguard ${name}: {{ .CommonLabels.alertname }}`,
                attributes: { severity },
              },
            ],
          })),
        },
      },
      { lineWidth: 0 },
    );
    this.alertManager = new PrometheusAlertManagerDefinition(this, 'AlertManager', {
      workspaceId: this.workspace.id,
      definition: this.alertManagerYaml,
    });

    this.scrapeConfigYaml = stringify(
      {
        global: { scrape_interval: scrapeInterval, external_labels: { cluster: props.clusterName } },
        scrape_configs: [
          {
            job_name: 'surgeguard-pods',
            kubernetes_sd_configs: [{ role: 'pod' }],
            relabel_configs: [
              { source_labels: [`__meta_kubernetes_pod_annotation_${promLabel(SCRAPE_ANNOTATIONS.scrape)}`], action: 'keep', regex: 'true' },
              { source_labels: [`__meta_kubernetes_pod_annotation_${promLabel(SCRAPE_ANNOTATIONS.path)}`], action: 'replace', target_label: '__metrics_path__', regex: '(.+)' },
              {
                source_labels: ['__address__', `__meta_kubernetes_pod_annotation_${promLabel(SCRAPE_ANNOTATIONS.port)}`],
                action: 'replace',
                regex: '([^:]+)(?::\\d+)?;(\\d+)',
                replacement: '$1:$2',
                target_label: '__address__',
              },
              { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
              { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
              { source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], target_label: 'app' },
              { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
            ],
          },
        ],
      },
      { lineWidth: 0 },
    );
    this.scraper = new PrometheusScraper(this, 'Scraper', {
      alias: name,
      scrapeConfiguration: this.scrapeConfigYaml,
      source: [
        { eks: [{ clusterArn: props.clusterArn, subnetIds: [...props.scraperSubnetIds], securityGroupIds: [...props.scraperSecurityGroupIds] }] },
      ],
      destination: [{ amp: [{ workspaceArn: this.workspace.arn }] }],
    });
    // The collector's role reaches the Kubernetes API as SCRAPER_KUBERNETES_USER. On a cluster in
    // API authentication mode (InferenceCluster), Managed Prometheus creates that access entry
    // itself when it creates the scraper — declaring it here as well would collide. The RBAC the
    // user needs is bound in-cluster by ClusterMonitoring.
    this.scraperRoleArn = this.scraper.roleArn;

    // No `/aws/containerinsights/<cluster>/application` group: nothing in the cell ships container logs
    // to CloudWatch (no Fluent Bit, no CloudWatch Observability add-on), so such a group would never be
    // written. Container logs stay on the nodes (`kubectl logs`); docs/operating.md says how to add shipping.

    this.loadBalancerAlarms = props.loadBalancer ? this.loadBalancerAlarmsFor(name, props.loadBalancer) : {};

    new TerraformOutput(this, 'PrometheusEndpoint', { value: this.prometheusEndpoint, description: `Amazon Managed Prometheus endpoint of ${name}` });
    new TerraformOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.arn, description: `SNS topic of the alerts of ${name}: subscribe on-call here` });
  }

  /** Lets an IAM role (by name) query the workspace (Grafana's data source). */
  public grantQuery(roleName: string, id = 'QueryPolicy'): IamRolePolicy {
    const doc = new DataAwsIamPolicyDocument(this, `${id}Document`, {
      statement: [
        {
          actions: ['aps:QueryMetrics', 'aps:GetSeries', 'aps:GetLabels', 'aps:GetMetricMetadata'],
          resources: [this.workspace.arn],
        },
      ],
    });
    return new IamRolePolicy(this, id, { role: roleName, name: `${this.node.id}-query`, policy: doc.json });
  }

  private loadBalancerAlarmsFor(name: string, lb: MonitoredLoadBalancer): Record<string, CloudwatchMetricAlarm> {
    const actions = [this.alarmTopic.arn];
    const dims = { LoadBalancer: lb.albArnSuffix };
    const metric = (id: string, metricName: string, stat: string, dimensions: Record<string, string> = dims) => ({
      id,
      returnData: false,
      metric: { namespace: 'AWS/ApplicationELB', metricName, stat, period: 60, dimensions },
    });
    const alarms: Record<string, CloudwatchMetricAlarm> = {};
    const add = (key: string, config: Omit<ConstructorParameters<typeof CloudwatchMetricAlarm>[2], 'alarmName' | 'alarmActions' | 'okActions'>) => {
      alarms[key] = new CloudwatchMetricAlarm(this, `Alb-${key}`, { alarmName: `${name}-alb-${key}`, alarmActions: actions, okActions: actions, ...config });
    };
    const errorMinutes = THRESHOLDS.errorRatioForMinutes + 1;
    add('5xx-ratio', {
      alarmDescription: `More than ${THRESHOLDS.errorRatio * 100} % of requests answered 5xx (load balancer or proxy) for ${errorMinutes} minutes`,
      comparisonOperator: 'GreaterThanThreshold',
      threshold: THRESHOLDS.errorRatio,
      evaluationPeriods: errorMinutes,
      datapointsToAlarm: errorMinutes,
      treatMissingData: 'notBreaching',
      metricQuery: [
        metric('target5xx', 'HTTPCode_Target_5XX_Count', 'Sum'),
        metric('elb5xx', 'HTTPCode_ELB_5XX_Count', 'Sum'),
        metric('requests', 'RequestCount', 'Sum'),
        { id: 'ratio', expression: '(FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests', label: '5xx ratio', returnData: true },
      ],
    });
    add('p99-latency', {
      alarmDescription: `p99 target response time above ${THRESHOLDS.p99LatencySeconds} s for ${THRESHOLDS.p99LatencyForMinutes} minutes`,
      namespace: 'AWS/ApplicationELB',
      metricName: 'TargetResponseTime',
      dimensions: dims,
      extendedStatistic: 'p99',
      period: 60,
      evaluationPeriods: THRESHOLDS.p99LatencyForMinutes,
      datapointsToAlarm: THRESHOLDS.p99LatencyForMinutes,
      threshold: THRESHOLDS.p99LatencySeconds,
      comparisonOperator: 'GreaterThanThreshold',
      treatMissingData: 'notBreaching',
    });
    add('no-healthy-proxies', {
      alarmDescription: 'No healthy proxy behind the load balancer: the region serves nothing',
      namespace: 'AWS/ApplicationELB',
      metricName: 'HealthyHostCount',
      dimensions: { ...dims, TargetGroup: lb.targetGroupArnSuffix },
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      treatMissingData: 'breaching',
    });
    // Traffic volume has a daily and weekly shape: a fixed line is either always firing at
    // peak or blind at night. The anomaly band learns the shape (2 standard deviations).
    add('request-anomaly', {
      alarmDescription: 'Request count outside its learned band (sudden surge or sudden loss of traffic)',
      comparisonOperator: 'LessThanLowerOrGreaterThanUpperThreshold',
      thresholdMetricId: 'band',
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      treatMissingData: 'notBreaching',
      metricQuery: [
        { ...metric('requests', 'RequestCount', 'Sum'), returnData: true },
        { id: 'band', expression: 'ANOMALY_DETECTION_BAND(requests, 2)', label: 'expected request count', returnData: true },
      ],
    });
    // Median latency depends on prompt mix and model; alarm when it leaves its own normal
    // (the brief's "p50 < 500 ms normal") rather than at one number for every model.
    add('p50-latency-anomaly', {
      alarmDescription: 'Median target response time above its learned band',
      comparisonOperator: 'GreaterThanUpperThreshold',
      thresholdMetricId: 'band',
      evaluationPeriods: 10,
      datapointsToAlarm: 8,
      treatMissingData: 'notBreaching',
      metricQuery: [
        { ...metric('p50', 'TargetResponseTime', 'p50'), returnData: true },
        { id: 'band', expression: 'ANOMALY_DETECTION_BAND(p50, 3)', label: 'expected median latency', returnData: true },
      ],
    });
    return alarms;
  }
}

/** `prometheus.io/scrape` -> `prometheus_io_scrape`, as Kubernetes SD exposes annotations. */
function promLabel(annotation: string): string {
  return annotation.replace(/[^a-zA-Z0-9_]/g, '_');
}
