import { rmSync } from 'node:fs';
import { parse } from 'yaml';
import { dev } from '../../envs/dev';
import { prod } from '../../envs/prod';
import { ALERT_GROUPS } from '../../monitoring/alert-rules';
import { PROXY_CONTRACT } from '../../contract/service';
import { parseCidr } from '../../constructs/private/cidr';
import { synthApp, SynthesizedApp } from '../support/synth';

/** Issue 3's "done when", checked on the synthesized environments. */
describe('data stores, monitoring and workloads in the environment stacks', () => {
  let app: SynthesizedApp;
  beforeAll(() => {
    app = synthApp([dev, prod]);
  }, 120_000);
  afterAll(() => rmSync(app.outdir, { recursive: true, force: true }));

  const all = (stack: string, type: string) => Object.values(app.stack(stack).resource?.[type] ?? {}) as any[];

  it.each(prod.regions.map((r) => r.region))('prod %s has a cluster-mode Redis group sized from its RegionConfig', (region) => {
    const cfg = prod.regions.find((r) => r.region === region)!.redis;
    const [rg] = all(`prod-${region}`, 'aws_elasticache_replication_group');
    expect(rg).toMatchObject({
      cluster_mode: 'enabled',
      num_node_groups: cfg.shards,
      replicas_per_node_group: cfg.replicasPerShard,
      node_type: cfg.nodeType,
      snapshot_retention_limit: cfg.snapshotRetentionDays,
      automatic_failover_enabled: true,
      multi_az_enabled: true,
      transit_encryption_enabled: true,
    });
  });

  it.each(prod.regions.map((r) => r.region))('prod %s has a clustered, private RabbitMQ broker', (region) => {
    const [broker] = all(`prod-${region}`, 'aws_mq_broker');
    expect(broker).toMatchObject({ deployment_mode: 'CLUSTER_MULTI_AZ', engine_type: 'RabbitMQ', publicly_accessible: false, host_instance_type: 'mq.m5.xlarge' });
  });

  it.each(prod.regions.map((r) => r.region))('prod %s evaluates the brief\'s alerts in Managed Prometheus and routes them to SNS', (region) => {
    const [rules] = all(`prod-${region}`, 'aws_prometheus_rule_group_namespace');
    const alerts = parse(rules.data).groups.flatMap((g: { rules: { alert: string }[] }) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(ALERT_GROUPS.flatMap((g) => g.rules.map((r) => r.alert)));
    expect(all(`prod-${region}`, 'aws_prometheus_alert_manager_definition')).toHaveLength(1);
    expect(all(`prod-${region}`, 'aws_prometheus_scraper')).toHaveLength(1);
  });

  it.each(prod.regions.map((r) => r.region))('prod %s runs proxy, worker and model servers with autoscaling', (region) => {
    const stack = `prod-${region}-workloads`;
    const names = all(stack, 'kubernetes_deployment_v1').map((d) => d.metadata.name).sort();
    expect(names).toEqual(expect.arrayContaining(['surgeguard-grafana', 'surgeguard-model-server', 'surgeguard-proxy', 'surgeguard-worker']));
    const hpas = all(stack, 'kubernetes_horizontal_pod_autoscaler_v2').map((h) => h.metadata.name).sort();
    expect(hpas).toEqual(['surgeguard-model-server', 'surgeguard-proxy', 'surgeguard-worker']);
    const vllm = all(stack, 'kubernetes_deployment_v1').find((d) => d.metadata.name === 'surgeguard-model-server');
    const args: string[] = vllm.spec.template.spec.container[0].args;
    expect(args[args.indexOf('--tensor-parallel-size') + 1]).toBe(String(prod.regions[0].gpu.gpusPerReplica));
    expect(args[args.indexOf('--quantization') + 1]).toBe(prod.model.quantization);
  });

  it('points the proxy NodePort at the port the regional load balancer forwards to', () => {
    const svc = all('prod-us-east-1-workloads', 'kubernetes_service_v1').find((s) => s.metadata.name === 'surgeguard-proxy');
    expect(svc.spec.port[0].node_port).toBe(PROXY_CONTRACT.nodePort);
    const targetGroups = all('prod-us-east-1', 'aws_lb_target_group');
    expect(targetGroups.map((t) => t.port)).toContain(PROXY_CONTRACT.nodePort);
  });

  it('sizes dev down: one shard without replicas, a single-instance broker', () => {
    const [rg] = all('dev-us-east-1', 'aws_elasticache_replication_group');
    expect(rg).toMatchObject({ num_node_groups: 1, replicas_per_node_group: 0, multi_az_enabled: false });
    const [broker] = all('dev-us-east-1', 'aws_mq_broker');
    expect(broker).toMatchObject({ deployment_mode: 'SINGLE_INSTANCE', host_instance_type: 'mq.t3.micro' });
  });

  it('lets the data stores in only from the cluster security group', () => {
    const rules = all('prod-eu-west-1', 'aws_vpc_security_group_ingress_rule').filter((r) => r.from_port === 6379 || r.from_port === 5671);
    expect(rules).toHaveLength(2);
    for (const r of rules) {
      expect(r.referenced_security_group_id).toMatch(/aws_eks_cluster\..+\.vpc_config\[0\]\.cluster_security_group_id/);
      expect(r.cidr_ipv4).toBeUndefined();
    }
  });

  it('enforces NetworkPolicies in the cluster (VPC CNI network policy agent on)', () => {
    const cni = all('prod-us-east-1', 'aws_eks_addon').find((a) => a.addon_name === 'vpc-cni');
    expect(JSON.parse(cni.configuration_values)).toEqual({ enableNetworkPolicy: 'true' });
  });

  it.each([...prod.regions.map((r) => `prod-${r.region}`), 'dev-us-east-1'])(
    '%s: the model servers admit, besides the proxy and worker pods, exactly the collector\'s own subnets, where no pod gets an address',
    (cell) => {
      const subnets = app.stack(cell).resource!.aws_subnet as Record<string, any>;
      const tier = (t: string) => Object.keys(subnets).filter((id) => subnets[id].tags['surgeguard.io/tier'] === t);
      const [scraper] = all(cell, 'aws_prometheus_scraper');
      const eks = scraper.source[0].eks[0];
      expect(eks.subnet_ids).toEqual(tier('scraper').map((id) => `\${aws_subnet.${id}.id}`));
      // Nodes (and so VPC CNI pod addresses) live in the private subnets only.
      for (const group of all(cell, 'aws_eks_node_group')) for (const id of group.subnet_ids) expect(tier('private').map((s) => `\${aws_subnet.${s}.id}`)).toContain(id);
      const policies = Object.values(app.stack(`${cell}-workloads`).resource!.kubernetes_network_policy_v1 as Record<string, any>);
      const modelServer = policies.find((p) => p.metadata.name === 'surgeguard-model-server-ingress');
      const [clients, collector, ...rest] = modelServer.spec.ingress;
      expect(rest).toEqual([]);
      expect(clients.from.map((f: any) => f.pod_selector.match_labels)).toEqual([{ 'app.kubernetes.io/name': 'surgeguard-proxy' }, { 'app.kubernetes.io/name': 'surgeguard-worker' }]);
      expect(collector.from).toEqual(tier('scraper').map((id) => ({ ip_block: { cidr: subnets[id].cidr_block } })));
      for (const id of tier('private')) {
        const pods = parseCidr(subnets[id].cidr_block)!;
        for (const peer of collector.from) {
          const c = parseCidr(peer.ip_block.cidr)!;
          expect(c.last < pods.first || c.first > pods.last).toBe(true);
        }
      }
    },
  );

  it.each(['prod-us-east-1', 'dev-us-east-1'])('%s: every log group is one its writer names (no group that is never written)', (cell) => {
    const tf = app.stack(cell);
    const groups = Object.entries(tf.resource!.aws_cloudwatch_log_group as Record<string, any>);
    expect(groups.length).toBeGreaterThan(0);
    for (const [id, group] of groups) {
      // The writer refers to the group (its arn/name as a destination, or depends_on where the service
      // writes by a fixed name, as EKS does for control-plane logs) from another resource of the stack,
      // or a policy document grants a role of the stack the right to write it (the container log
      // shipper runs in the cluster; the add-ons stack's rules check it ships to exactly these groups).
      const others = Object.entries(tf.resource!).flatMap(([type, byId]) =>
        Object.entries(byId as Record<string, unknown>).filter(([otherId]) => !(type === 'aws_cloudwatch_log_group' && otherId === id)).map(([, r]) => JSON.stringify(r)),
      );
      const grants = Object.values((tf.data?.aws_iam_policy_document ?? {}) as Record<string, any>)
        .flatMap((d) => (d.statement ?? []) as any[])
        .filter((st) => (st.actions ?? []).includes('logs:PutLogEvents'))
        .map((st) => JSON.stringify(st.resources ?? []));
      others.push(...grants);
      const writers = others.filter((r) => r.includes(`aws_cloudwatch_log_group.${id}`));
      expect({ group: group.name, written: writers.length > 0 }).toEqual({ group: group.name, written: true });
    }
  });

  it('grants the proxy and worker IRSA roles read access to exactly the secrets they mount', () => {
    // the first cell holds the cross-region key: it also grants its own proxy role and each other
    // region's (those roles by cross-stack reference) their copy of it; the workers get none
    const own = (stack: string, pattern: RegExp) => all(stack, 'aws_iam_role_policy').filter((p) => pattern.test(p.role) && !p.role.includes('terraform_remote_state')).length;
    expect(own('prod-us-east-1', /proxy-role/)).toBe(3);
    expect(all('prod-us-east-1', 'aws_iam_role_policy').filter((p) => /terraform_remote_state.*proxy-role/.test(p.role))).toHaveLength(prod.regions.length - 1);
    expect(own('prod-us-east-1', /worker-role/)).toBe(2);
    expect(own('prod-us-east-1', /grafana-role/)).toBe(1);
    // another cell: Redis and AMQP only; its key copy is granted by the first cell
    expect(own('prod-eu-west-1', /proxy-role/)).toBe(2);
    expect(own('prod-eu-west-1', /worker-role/)).toBe(2);
  });

  it.each(['prod-us-east-1', 'dev-us-east-1'])(
    '%s: a declared Job stages the model with a role that writes only its prefix; the model servers keep read-only access',
    (cell) => {
      const stack = app.stack(cell);
      const docs = stack.data!.aws_iam_policy_document as Record<string, any>;
      const policies = Object.values(stack.resource!.aws_iam_role_policy as Record<string, any>);
      const statementsOf = (role: RegExp) =>
        policies.filter((p) => role.test(p.role)).flatMap((p) => docs[/data\.aws_iam_policy_document\.([^.]+)\.json/.exec(p.policy)![1]].statement as any[]);
      const model = cell.startsWith('prod') ? 'deepseek-ai/DeepSeek-V3' : 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B';
      const stager = statementsOf(/weights-stager-role/);
      const writes = stager.filter((st) => st.actions.some((a: string) => a === 's3:PutObject'));
      expect(writes).toHaveLength(1);
      expect(writes[0].resources).toEqual([expect.stringMatching(new RegExp(`\\.arn\\}/${model.replace('/', '\\/')}/\\*$`))]);
      expect(stager.flatMap((st) => st.actions)).not.toContain('s3:DeleteObject');
      const server = statementsOf(/model-server-role/).flatMap((st) => st.actions);
      expect(server).toContain('s3:GetObject');
      expect(server.filter((a: string) => /^s3:(Put|Delete|Abort)/.test(a) || a === 'kms:GenerateDataKey')).toEqual([]);
      const [job] = Object.values(app.stack(`${cell}-workloads`).resource!.kubernetes_job_v1 as Record<string, any>);
      const env = Object.fromEntries(job.spec.template.spec.container[0].env.map((e: any) => [e.name, e.value]));
      expect(env).toMatchObject({ MODEL_ID: model, WEIGHTS_PREFIX: model });
      expect(job.spec.template.spec.container[0].image).toMatch(/^vllm\/vllm-openai:v0\.8\.5@sha256:[0-9a-f]{64}$/);
    },
  );
});
