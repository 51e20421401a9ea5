import { loadSynthOutput } from '../../tools/common/synth-output';
import { compareSynths, ResourceChange, SynthDiff } from '../../tools/diff/compare';
import { renderMarkdown, statefulRisks } from '../../tools/diff/render';
import { costDeltas } from '../../tools/diff/main';
import { FixtureStack, res, writeSynth } from '../support/synth-fixture';

const P = 'prod-us-east-1';

function diffOf(before: FixtureStack, after: FixtureStack, stack = P): SynthDiff {
  return compareSynths(loadSynthOutput(writeSynth({ [stack]: before })), loadSynthOutput(writeSynth({ [stack]: after })));
}

function change(diff: SynthDiff, address: string): ResourceChange {
  const found = diff.stacks.flatMap((s) => s.resources).find((r) => r.address === address);
  if (!found) throw new Error(`no change of ${address}; changes: ${diff.stacks.flatMap((s) => s.resources.map((r) => r.address)).join(', ')}`);
  return found;
}

function markdown(diff: SynthDiff): string {
  return renderMarkdown({ before: 'a', after: 'b', diff, costs: [] });
}

function section(md: string, title: string): string {
  const start = md.indexOf(`## ${title}`);
  if (start < 0) return '';
  const next = md.indexOf('\n## ', start + 3);
  return md.slice(start, next < 0 ? undefined : next);
}

const redis = (overrides: Record<string, unknown> = {}) => ({
  resource: {
    aws_elasticache_replication_group: {
      redis_rg: res(`${P}/redis/ReplicationGroup`, {
        replication_group_id: 'surgeguard-prod-use1', node_type: 'cache.r7g.xlarge', num_node_groups: 3, replicas_per_node_group: 2,
        subnet_group_name: 'surgeguard-prod-use1', engine: 'redis', ...overrides,
      }),
    },
  },
});

describe('synth diff: risk (replacements and destructions of stateful resources)', () => {
  it('reports a Redis replication group whose subnet group changes as a stateful replacement forced by subnet_group_name', () => {
    const diff = diffOf(redis(), redis({ subnet_group_name: 'other' }));
    const rg = change(diff, 'aws_elasticache_replication_group.redis_rg');
    expect(rg.action).toBe('replace');
    expect(rg.forcedBy).toEqual([{ attribute: 'subnet_group_name' }]);
    expect(rg.stateful).toMatch(/job results/);
    const risk = section(markdown(diff), '⚠️ Risk');
    expect(risk).toContain('`prod-us-east-1/redis/ReplicationGroup` (aws_elasticache_replication_group) | **REPLACE** | `subnet_group_name` changed');
  });

  it('treats a node-type or shard-count change of the replication group as an in-place capacity change, not a replacement', () => {
    const diff = diffOf(redis(), redis({ node_type: 'cache.r7g.2xlarge', num_node_groups: 4 }));
    const rg = change(diff, 'aws_elasticache_replication_group.redis_rg');
    expect(rg.action).toBe('update');
    expect(statefulRisks(diff)).toEqual([]);
    const md = markdown(diff);
    expect(section(md, 'Capacity')).toContain('`node_type`: `cache.r7g.xlarge` → `cache.r7g.2xlarge`');
    expect(section(md, 'Capacity')).toContain('`num_node_groups`: `3` → `4`');
    expect(section(md, '⚠️ Risk')).toContain('Nothing is replaced');
  });

  it('flags an engine change of the replication group as a possible replacement (downgrades force one)', () => {
    const diff = diffOf(redis({ engine: 'valkey' }), redis({ engine: 'redis' }));
    expect(change(diff, 'aws_elasticache_replication_group.redis_rg').mayReplace.map((m) => m.attribute)).toEqual(['engine']);
    expect(section(markdown(diff), '⚠️ Risk')).toMatch(/May be replaced[\s\S]*`engine` changed — engine\/engine_version force a new group only on a downgrade/);
  });

  it('replaces a broker whose deployment mode changes, and updates one whose instance type changes in place', () => {
    const broker = (a: Record<string, unknown>) => ({ resource: { aws_mq_broker: { q: res(`${P}/queue/Broker`, { broker_name: 'b', engine_type: 'RabbitMQ', host_instance_type: 'mq.m5.large', deployment_mode: 'CLUSTER_MULTI_AZ', ...a }) } } });
    expect(change(diffOf(broker({}), broker({ deployment_mode: 'SINGLE_INSTANCE' })), 'aws_mq_broker.q').action).toBe('replace');
    const resized = diffOf(broker({}), broker({ host_instance_type: 'mq.m5.xlarge' }));
    expect(change(resized, 'aws_mq_broker.q').action).toBe('update');
    expect(section(markdown(resized), 'Capacity')).toContain('`host_instance_type`: `mq.m5.large` → `mq.m5.xlarge`');
  });

  it('lists a removed bucket as destroyed and stateful', () => {
    const bucket = { resource: { aws_s3_bucket: { logs: res(`${P}/entry/logs`, { bucket: 'surgeguard-prod-logs' }) } } };
    const diff = diffOf(bucket, { resource: {} });
    expect(change(diff, 'aws_s3_bucket.logs').action).toBe('delete');
    expect(section(markdown(diff), '⚠️ Risk')).toContain('| **DESTROY** | removed from the configuration | every object in the bucket |');
  });

  it('follows a replacement into the resources whose replacement-forcing arguments refer to it, across stacks', () => {
    const platform = (cidr: string) => ({
      resource: {
        aws_vpc: { vpc: res(`${P}/network/vpc`, { cidr_block: cidr }) },
        aws_subnet: { sub: res(`${P}/network/private-0`, { vpc_id: '${aws_vpc.vpc.id}', cidr_block: cidr.replace('/16', '/18') }) },
        aws_eks_cluster: { cluster: res(`${P}/cluster/cluster`, { name: 'c', vpc_config: { subnet_ids: ['${aws_subnet.sub.id}'] } }) },
        aws_iam_role: { role: res(`${P}/cluster/role`, { name: 'r' }) },
        aws_iam_role_policy: { pol: res(`${P}/cluster/pol`, { role: '${aws_iam_role.role.name}', name: 'p' }) },
      },
      output: { 'cross-stack-output-aws_eks_clustercluster_name': { value: '${aws_eks_cluster.cluster.name}' }, 'cross-stack-output-aws_eks_clustercluster_arn': { value: '${aws_eks_cluster.cluster.arn}' } },
    });
    const global = {
      resource: {
        aws_iam_role_policy_attachment: { a: res('prod-global/x/a', { role: 'x', policy_arn: '${data.terraform_remote_state.cross-stack-reference-input-prod-us-east-1.outputs.cross-stack-output-aws_eks_clustercluster_arn}' }) },
        aws_ssm_parameter: { p: res('prod-global/x/p', { name: '${data.terraform_remote_state.cross-stack-reference-input-prod-us-east-1.outputs.cross-stack-output-aws_eks_clustercluster_name}', value: 'v', type: 'String' }) },
      },
      data: { terraform_remote_state: { 'cross-stack-reference-input-prod-us-east-1': { backend: 's3', config: {} } } },
    };
    const diff = compareSynths(
      loadSynthOutput(writeSynth({ [P]: platform('10.30.0.0/16'), 'prod-global': global })),
      loadSynthOutput(writeSynth({ [P]: platform('10.40.0.0/16'), 'prod-global': global })),
    );
    expect(change(diff, 'aws_vpc.vpc').forcedBy).toEqual([{ attribute: 'cidr_block' }]);
    expect(change(diff, 'aws_subnet.sub').action).toBe('replace');
    expect(change(diff, 'aws_eks_cluster.cluster').forcedBy).toEqual([{ attribute: 'vpc_config.subnet_ids', replacedDependency: `${P}:aws_subnet.sub` }]);
    // A new cluster has a new ARN: the attachment in another stack that names it is replaced.
    expect(change(diff, 'aws_iam_role_policy_attachment.a').forcedBy).toEqual([{ attribute: 'policy_arn', replacedDependency: `${P}:aws_eks_cluster.cluster` }]);
    // ...but its name is a literal that did not change: what refers to the name stays.
    expect(diff.stacks.flatMap((s) => s.resources).map((r) => r.address)).not.toContain('aws_ssm_parameter.p');
    expect(diff.stacks.flatMap((s) => s.resources).map((r) => r.address)).not.toContain('aws_iam_role_policy.pol');
  });
});

describe('synth diff: capacity, traffic, security, the rest', () => {
  it('shows node-group scaling and instance-type changes under Capacity with old → new', () => {
    const ng = (a: Record<string, unknown>) => ({ resource: { aws_eks_node_group: { spot: res(`${P}/cluster/gpu-spot`, { node_group_name: 'n', capacity_type: 'SPOT', instance_types: ['p5.48xlarge'], scaling_config: { min_size: 0, max_size: 12, desired_size: 0 }, ...a }) } } });
    const diff = diffOf(ng({}), ng({ scaling_config: { min_size: 0, max_size: 16, desired_size: 0 } }));
    expect(section(markdown(diff), 'Capacity')).toContain('`scaling_config.max_size`: `12` → `16`');
    const retyped = diffOf(ng({}), ng({ instance_types: ['p5.48xlarge', 'p4d.24xlarge'] }));
    expect(change(retyped, 'aws_eks_node_group.spot').forcedBy).toEqual([{ attribute: 'instance_types' }]);
  });

  it('shows HPA bounds and deployment replicas under Capacity', () => {
    const hpa = (max: number) => ({ resource: { kubernetes_horizontal_pod_autoscaler_v2: { h: res(`${P}-workloads/w/proxy-hpa`, { metadata: { name: 'proxy', namespace: 'gw' }, spec: { min_replicas: 3, max_replicas: max } }) } } });
    expect(section(markdown(diffOf(hpa(20), hpa(30))), 'Capacity')).toContain('`spec.max_replicas`: `20` → `30`');
  });

  it('shows record weights, health checks and listener changes under Traffic', () => {
    const dns = (w: number, threshold: number) => ({
      resource: {
        aws_route53_record: { r: res('prod-global/traffic/api-us', { zone_id: 'Z', name: 'api', type: 'A', set_identifier: 'us', weighted_routing_policy: { weight: w } }) },
        aws_route53_health_check: { h: res('prod-global/traffic/health-us', { type: 'HTTPS', failure_threshold: threshold }) },
      },
    });
    const md = markdown(diffOf(dns(100, 3), dns(0, 2), 'prod-global'));
    expect(section(md, 'Traffic')).toContain('`weighted_routing_policy.weight`: `100` → `0`');
    expect(section(md, 'Traffic')).toContain('`failure_threshold`: `3` → `2`');
  });

  it('shows security-group openings and IAM policy statements under Security, and ignores statement order', () => {
    const doc = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
    const s1 = { Effect: 'Allow', Action: 'sqs:ReceiveMessage', Resource: '*' };
    const s2 = { Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' };
    const s3 = { Effect: 'Allow', Action: 's3:*', Resource: '*' };
    const sec = (cidr: string, statements: unknown[]) => ({
      resource: {
        aws_vpc_security_group_ingress_rule: { i: res(`${P}/entry/nlb-in`, { security_group_id: 'sg-1', cidr_ipv4: cidr, from_port: 443, to_port: 443, ip_protocol: 'tcp' }) },
        aws_iam_role_policy: { p: res(`${P}/cluster/nth`, { name: 'nth', role: 'r', policy: doc(statements) }) },
      },
    });
    expect(diffOf(sec('10.0.0.0/8', [s1, s2]), sec('10.0.0.0/8', [s2, s1])).stacks).toEqual([]);
    const md = markdown(diffOf(sec('10.0.0.0/8', [s1, s2]), sec('0.0.0.0/0', [s1, s3])));
    const security = section(md, 'Security');
    expect(security).toContain('`cidr_ipv4`: `10.0.0.0/8` → `0.0.0.0/0`');
    expect(security).toContain('`policy.Statement[1].Action`: `ec2:DescribeInstances` → `s3:*`');
  });

  it('puts tag and description changes under Everything else', () => {
    const lg = (days: number) => ({ resource: { aws_cloudwatch_log_group: { l: res(`${P}/monitoring/app`, { name: '/x', retention_in_days: days }) } } });
    expect(section(markdown(diffOf(lg(30), lg(90))), 'Everything else')).toContain('`retention_in_days`: `30` → `90`');
  });
});

describe('synth diff: noise and artifacts', () => {
  it('ignores cdktf metadata, depends_on, set order and renamed cross-stack outputs', () => {
    const consumer = (output: string) => ({
      resource: { aws_route53_health_check: { h: res('prod-global/traffic/h', { fqdn: `\${data.terraform_remote_state.cross-stack-reference-input-${P}.outputs.${output}}`, type: 'HTTPS' }) } },
      data: { terraform_remote_state: { [`cross-stack-reference-input-${P}`]: { backend: 's3', config: { key: 'k' } } } },
    });
    const producer = (output: string, path: string, subnets: string[], dependsOn: string[]) => ({
      resource: {
        aws_lb: { nlb: res(path, { name: 'nlb', subnets, depends_on: dependsOn }) },
      },
      output: { [output]: { value: '${aws_lb.nlb.dns_name}' } },
    });
    const before = writeSynth({ [P]: producer('cross-stack-output-aws_lbnlb_AAAAdns_name', `${P}/entry/nlb`, ['a', 'b'], ['x']), 'prod-global': consumer('cross-stack-output-aws_lbnlb_AAAAdns_name') });
    const after = writeSynth({ [P]: producer('cross-stack-output-aws_lbnlb_BBBBdns_name', `${P}/entry/nlb-moved`, ['b', 'a'], ['y']), 'prod-global': consumer('cross-stack-output-aws_lbnlb_BBBBdns_name') });
    const diff = compareSynths(loadSynthOutput(before), loadSynthOutput(after));
    expect(diff.stacks).toEqual([]);
    expect(diff.noiseOnly).toBe(1);
  });

  it('reports an image or bundle that differs only by its sha256 as "artifact changed: <name>"', () => {
    const d1 = 'a'.repeat(64);
    const d2 = 'b'.repeat(64);
    const dep = (digest: string) => ({ resource: { kubernetes_deployment_v1: { proxy: res(`${P}-workloads/w/proxy`, {
      metadata: { name: 'proxy', namespace: 'gw', annotations: { 'surgeguard.io/bundle': `s3://artifacts/bundles/worker-${digest}.tgz` } },
      spec: { template: { spec: { container: [{ name: 'proxy', image: `ghcr.io/surgeguard/proxy@sha256:${digest}` }] } } },
    }) } } });
    const md = markdown(diffOf(dep(d1), dep(d2), `${P}-workloads`));
    expect(md).toContain('`spec.template.spec.container[0].image`: artifact changed: **proxy** (aaaaaaaaaaaa… → bbbbbbbbbbbb…)');
    expect(md).toContain('artifact changed: **worker**');
  });

  it('shows a policy suppression added to a resource, with its reason', () => {
    const sg = (meta: Record<string, unknown>) => ({ resource: { aws_security_group: { s: res(`${P}/entry/nlb-sg`, { name: 'n', vpc_id: 'v' }, meta) } } });
    const md = markdown(diffOf(sg({}), sg({ policy_suppressions: [{ rule: 'SG-1', reason: 'public NLB listener' }] })));
    expect(section(md, 'Security')).toContain('policy rule **SG-1 suppressed**: public NLB listener');
  });
});

describe('synth diff: cost delta', () => {
  it('includes the monthly cost delta of an environment whose priced resources change', () => {
    const ng = (max: number) => ({ resource: { aws_eks_node_group: { g: res(`${P}/cluster/gpu`, { node_group_name: 'gpu', capacity_type: 'ON_DEMAND', instance_types: ['g6.xlarge'], scaling_config: { min_size: 1, max_size: max } }) } } });
    const before = loadSynthOutput(writeSynth({ [P]: ng(2) }));
    const after = loadSynthOutput(writeSynth({ [P]: ng(4) }));
    const costs = costDeltas(before, after);
    expect(costs.map((c) => c.environment)).toEqual(['prod']);
    const md = renderMarkdown({ before: 'a', after: 'b', diff: compareSynths(before, after), costs });
    // g6.xlarge on-demand, 730 h, plus a 20 GB gp3 root volume per node: two more nodes at max.
    const perNode = 0.805 * 730 + 20 * 0.08;
    expect(section(md, 'Cost')).toContain(`| prod | $${Math.round(perNode).toLocaleString('en-US')} – $${Math.round(2 * perNode).toLocaleString('en-US')} |`);
    expect(section(md, 'Cost')).toContain(`| $0 | +$${Math.round(2 * perNode).toLocaleString('en-US')} |`);
  });
});
