import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { Monitoring, MonitoringProps, SCRAPER_KUBERNETES_USER } from '../../../constructs/monitoring/monitoring';
import { ALERT_GROUPS, renderRuleFile } from '../../../monitoring/alert-rules';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(overrides: Partial<MonitoringProps> = {}): { resources: Resources; data: Resources; mon: Monitoring } {
  let mon!: Monitoring;
  const json = synthConstruct((stack) => (mon = new Monitoring(stack, 'Monitoring', {
    name: 'surgeguard-prod-use1',
    region: 'us-east-1',
    clusterName: 'surgeguard-prod-use1',
    clusterArn: 'arn:aws:eks:us-east-1:123456789012:cluster/surgeguard-prod-use1',
    scraperSubnetIds: ['subnet-a', 'subnet-b', 'subnet-c'],
    scraperSecurityGroupIds: ['sg-cluster'],
    loadBalancer: { albArnSuffix: 'app/prod-use1/abc', targetGroupArnSuffix: 'targetgroup/proxy/def' },
    logRetentionDays: 90,
    ...overrides,
  })), { awsRegion: 'us-east-1' });
  return { resources: json.resource as Resources, data: json.data as Resources, mon };
}

const only = (r: Resources, type: string) => {
  const all = Object.values(r[type] ?? {});
  expect(all).toHaveLength(1);
  return all[0];
};

describe('Monitoring', () => {
  it('creates a Managed Prometheus workspace with logging and a managed collector scraping the EKS cluster', () => {
    const { resources } = synth();
    const ws = only(resources, 'aws_prometheus_workspace');
    expect(ws.alias).toBe('surgeguard-prod-use1');
    expect(ws.logging_configuration.log_group_arn).toMatch(/^\$\{aws_cloudwatch_log_group\..+\.arn\}:\*$/);
    const scraper = only(resources, 'aws_prometheus_scraper');
    expect(scraper.source).toEqual([
      { eks: [{ cluster_arn: 'arn:aws:eks:us-east-1:123456789012:cluster/surgeguard-prod-use1', subnet_ids: ['subnet-a', 'subnet-b', 'subnet-c'], security_group_ids: ['sg-cluster'] }] },
    ]);
    expect(scraper.destination[0].amp[0].workspace_arn).toMatch(/aws_prometheus_workspace\..+\.arn/);
    // The service creates the scraper's access entry (user aps-collector-user) on API-mode clusters.
    expect(resources.aws_eks_access_entry).toBeUndefined();
    expect(SCRAPER_KUBERNETES_USER).toBe('aps-collector-user');
  });

  it('scrapes only pods annotated for it, on their annotated port and path, keeping pod and namespace labels', () => {
    const { resources } = synth();
    const config = parse(only(resources, 'aws_prometheus_scraper').scrape_configuration);
    expect(config.global).toEqual({ scrape_interval: '30s', external_labels: { cluster: 'surgeguard-prod-use1' } });
    const job = config.scrape_configs[0];
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    expect(job.relabel_configs[0]).toEqual({ source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' });
    expect(job.relabel_configs).toContainEqual({ source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' });
    expect(job.relabel_configs).toContainEqual(expect.objectContaining({ target_label: '__address__', replacement: '$1:$2' }));
    const portRule = job.relabel_configs.find((r: { target_label?: string }) => r.target_label === '__address__');
    expect(new RegExp(`^${portRule.regex}$`).exec('10.0.3.7:8080;9090')!.slice(1)).toEqual(['10.0.3.7', '9090']);
  });

  it('has a scrape configuration promtool accepts (relabelling, global section)', () => {
    // Debian's promtool is built without Kubernetes service discovery, so the discovery block is
    // swapped for a static target; everything else (global, relabel actions and regexes) is checked as is.
    const config = parse(synth().mon.scrapeConfigYaml);
    for (const job of config.scrape_configs) {
      delete job.kubernetes_sd_configs;
      job.static_configs = [{ targets: ['127.0.0.1:9'] }];
    }
    const dir = mkdtempSync(join(tmpdir(), 'surgeguard-scrape-'));
    try {
      const file = join(dir, 'prometheus.yml');
      writeFileSync(file, stringify(config));
      const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8', timeout: 30_000 });
      if (r.error) throw new Error(`promtool could not run: ${r.error.message}`);
      expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uploads exactly the rendered alert rules of monitoring/alert-rules.ts', () => {
    const rules = only(synth().resources, 'aws_prometheus_rule_group_namespace');
    expect(rules.data).toBe(renderRuleFile(ALERT_GROUPS));
    expect(rules.workspace_id).toMatch(/aws_prometheus_workspace\..+\.id/);
  });

  it('routes alerts to the encrypted SNS topic, critical ones on their own fast route', () => {
    const { resources } = synth();
    const am = parse(only(resources, 'aws_prometheus_alert_manager_definition').definition).alertmanager_config;
    expect(am.route.routes).toEqual([expect.objectContaining({ receiver: 'sns-critical', matchers: ['severity="critical"'] })]);
    const topicRef = expect.stringMatching(/^\$\{aws_sns_topic\..+\.arn\}$/);
    for (const receiver of am.receivers) {
      expect(receiver.sns_configs).toEqual([expect.objectContaining({ topic_arn: topicRef, sigv4: { region: 'us-east-1' } })]);
    }
    const topic = only(resources, 'aws_sns_topic');
    expect(topic.kms_master_key_id).toMatch(/^\$\{aws_kms_key\..+\.arn\}$/);
    expect(only(resources, 'aws_kms_key').enable_key_rotation).toBe(true);
  });

  it('lets CloudWatch and Managed Prometheus, and only they, publish to the topic and use its key', () => {
    const { data } = synth();
    const docs = Object.values(data.aws_iam_policy_document) as { statement: { sid: string; principals?: { identifiers: string[] }[] }[] }[];
    const publishers = docs.flatMap((d) => d.statement).filter((s) => s.sid === 'AlarmPublishers' || s.sid === 'AlarmPublishersEncrypt');
    expect(publishers).toHaveLength(2);
    for (const s of publishers) expect(s.principals![0].identifiers).toEqual(['cloudwatch.amazonaws.com', 'aps.amazonaws.com']);
    const topic = docs.flatMap((d) => d.statement).find((s) => s.sid === 'AlarmPublishers') as unknown as { actions: string[] };
    expect(topic.actions).toEqual(['sns:Publish', 'sns:GetTopicAttributes']);
  });

  it('alarms on the load balancer 5xx ratio above 5 % and p99 above 2 s for 10 minutes', () => {
    const { resources, mon } = synth();
    const ratio = mon.loadBalancerAlarms['5xx-ratio'];
    expect(ratio).toBeDefined();
    const alarms = Object.values(resources.aws_cloudwatch_metric_alarm);
    const r = alarms.find((a) => a.alarm_name === 'surgeguard-prod-use1-alb-5xx-ratio')!;
    expect(r).toMatchObject({ threshold: 0.05, comparison_operator: 'GreaterThanThreshold', evaluation_periods: 3 });
    expect(r.metric_query.find((q: { id: string }) => q.id === 'ratio').expression).toBe('(FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests');
    const p99 = alarms.find((a) => a.alarm_name === 'surgeguard-prod-use1-alb-p99-latency')!;
    expect(p99).toMatchObject({ extended_statistic: 'p99', threshold: 2, evaluation_periods: 10, dimensions: { LoadBalancer: 'app/prod-use1/abc' } });
    const healthy = alarms.find((a) => a.alarm_name === 'surgeguard-prod-use1-alb-no-healthy-proxies')!;
    expect(healthy.dimensions).toEqual({ LoadBalancer: 'app/prod-use1/abc', TargetGroup: 'targetgroup/proxy/def' });
    for (const a of alarms) expect(a.alarm_actions).toEqual([expect.stringMatching(/aws_sns_topic/)]);
  });

  it('uses anomaly-detection bands for traffic volume and median latency instead of fixed lines', () => {
    const alarms = Object.values(synth().resources.aws_cloudwatch_metric_alarm);
    const traffic = alarms.find((a) => a.alarm_name === 'surgeguard-prod-use1-alb-request-anomaly')!;
    expect(traffic).toMatchObject({ comparison_operator: 'LessThanLowerOrGreaterThanUpperThreshold', threshold_metric_id: 'band' });
    expect(traffic.threshold).toBeUndefined();
    expect(traffic.metric_query).toContainEqual(expect.objectContaining({ id: 'band', expression: 'ANOMALY_DETECTION_BAND(requests, 2)' }));
    const p50 = alarms.find((a) => a.alarm_name === 'surgeguard-prod-use1-alb-p50-latency-anomaly')!;
    expect(p50).toMatchObject({ comparison_operator: 'GreaterThanUpperThreshold', threshold_metric_id: 'band' });
  });

  it('creates only the log group something writes, the workspace\'s, with retention (no container-insights group without a log shipper)', () => {
    const groups = Object.entries(synth().resources.aws_cloudwatch_log_group);
    expect(groups.map(([, g]) => [g.name, g.retention_in_days])).toEqual([['/aws/prometheus/surgeguard-prod-use1', 90]]);
    const [workspace] = Object.values(synth().resources.aws_prometheus_workspace);
    expect(workspace.logging_configuration.log_group_arn).toBe(`\${aws_cloudwatch_log_group.${groups[0][0]}.arn}:*`);
  });

  it('creates no load-balancer alarms without a load balancer', () => {
    const { resources } = synth({ loadBalancer: undefined });
    expect(resources.aws_cloudwatch_metric_alarm).toBeUndefined();
  });

  it.each([
    [{ name: 'bad name' }, 'name'],
    [{ scraperSubnetIds: ['subnet-a'] }, 'scraperSubnetIds'],
    [{ scraperSecurityGroupIds: [] }, 'scraperSecurityGroupIds'],
    [{ alertGroups: [] }, 'alertGroups'],
    [{ scrapeInterval: '30' }, 'scrapeInterval'],
  ] as [Partial<MonitoringProps>, string][])('rejects %j naming the prop %s', (overrides, prop) => {
    expect(() => synth(overrides)).toThrow(new RegExp(`Monitoring Monitoring: ${prop} `));
  });
});
