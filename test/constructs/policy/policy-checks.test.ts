import { readFileSync } from 'fs';
import { join } from 'path';
import { App, TerraformResource, TerraformStack, Testing } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { GlobalacceleratorAccelerator } from '@cdktf/provider-aws/lib/globalaccelerator-accelerator';
import { Route53Zone } from '@cdktf/provider-aws/lib/route53-zone';
import { Route53QueryLog } from '@cdktf/provider-aws/lib/route53-query-log';
import { Route53HostedZoneDnssec } from '@cdktf/provider-aws/lib/route53-hosted-zone-dnssec';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { LaunchTemplate } from '@cdktf/provider-aws/lib/launch-template';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { DeploymentV1, DeploymentV1SpecTemplateSpecContainer } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { ENVIRONMENTS } from '../../../envs';
import { buildEnvironment, EnvironmentStacks, POLICY_SUPPRESSIONS } from '../../../stacks';
import { evaluatePolicies, PolicyChecks, POLICY_RULES, suppressPolicy } from '../../../constructs/policy';

/** dev's stacks, built fresh for each test so doctoring one does not leak into the next. */
function dev(): EnvironmentStacks {
  return buildEnvironment(Testing.app(), ENVIRONMENTS.dev);
}

function resource(stack: TerraformStack, path: string): TerraformResource {
  const found = stack.node.findAll().find((c) => c.node.path === `${stack.node.id}/${path}`);
  if (!(found instanceof TerraformResource)) throw new Error(`no resource ${stack.node.id}/${path}`);
  return found;
}

/** The messages of `rule` on the resource at `path`, suppressed or not. */
function findings(stack: TerraformStack, rule: string, path: string, protect = false): { failing: string[]; suppressed: string[] } {
  const e = evaluatePolicies(stack, { protectStatefulResources: protect });
  const pick = (list: { rule: string; path: string; message: string }[]) => list.filter((v) => v.rule === rule && v.path === `${stack.node.id}/${path}`).map((v) => v.message);
  return { failing: pick(e.violations), suppressed: pick(e.suppressed) };
}

/** A stack of its own with an AWS and a Kubernetes provider, for resources surgeguard does not make. */
function scratchStack(): TerraformStack {
  const stack = new TerraformStack(Testing.app(), 'scratch');
  new AwsProvider(stack, 'aws', { region: 'us-east-1' });
  new KubernetesProvider(stack, 'k8s', {});
  return stack;
}

function deployment(stack: TerraformStack, container: Partial<DeploymentV1SpecTemplateSpecContainer>, podSecurity = true): DeploymentV1 {
  return new DeploymentV1(stack, 'app', {
    metadata: { name: 'app', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'app' } },
      template: {
        metadata: { labels: { app: 'app' } },
        spec: {
          securityContext: podSecurity ? { runAsNonRoot: true } : undefined,
          container: [{
            name: 'app',
            image: `registry.example/app@sha256:${'0'.repeat(64)}`,
            readinessProbe: { httpGet: { path: '/readyz', port: '8080' } },
            resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '128Mi' } },
            securityContext: { allowPrivilegeEscalation: false },
            ...container,
          }],
        },
      },
    },
  });
}

describe('policy checks pass on every environment with only reasoned suppressions', () => {
  it.each(['dev', 'staging', 'prod'])('%s: no unsuppressed violation and no stale suppression', (name) => {
    const env = ENVIRONMENTS[name];
    const stacks = buildEnvironment(Testing.app(), env);
    for (const stack of [...(stacks.dns ? [stacks.dns] : []), ...stacks.platforms, ...stacks.addons, ...stacks.workloads, stacks.global]) {
      const e = evaluatePolicies(stack, { protectStatefulResources: env.deletionProtection });
      expect(e.violations).toEqual([]);
      expect(e.unusedSuppressions).toEqual([]);
    }
  });

  it('every suppression names a known rule and gives a reason of at least 20 characters', () => {
    const ids = new Set(POLICY_RULES.map((r) => r.id));
    for (const s of POLICY_SUPPRESSIONS) {
      expect(ids.has(s.rule)).toBe(true);
      expect(s.reason.length).toBeGreaterThanOrEqual(20);
    }
  });

  it('has between 20 and 30 rules with unique ids', () => {
    expect(POLICY_RULES.length).toBeGreaterThanOrEqual(20);
    expect(POLICY_RULES.length).toBeLessThanOrEqual(30);
    expect(new Set(POLICY_RULES.map((r) => r.id)).size).toBe(POLICY_RULES.length);
  });
});

describe('policy checks fail app.synth() (Testing.synth ignores error annotations)', () => {
  it('fails the synth of an environment with one message per violation: rule id, resource path, what to change', () => {
    const app = new App({ outdir: Testing.app().outdir });
    const stacks = buildEnvironment(app, ENVIRONMENTS.dev);
    const platform = stacks.platforms[0];
    resource(platform, 'cluster/cpu-lt').addOverride('metadata_options.http_tokens', 'optional');
    resource(platform, 'entry/alb-https').addOverride('ssl_policy', 'ELBSecurityPolicy-2016-08');
    let message = '';
    try {
      app.synth();
    } catch (err) {
      message = String(err);
    }
    expect(message).toContain('[SG-NET-1] dev-us-east-1/cluster/cpu-lt: set metadata_options { http_tokens = "required"');
    expect(message).toContain('[SG-TLS-1] dev-us-east-1/entry/alb-https: set ssl_policy to a TLS 1.2+ policy');
    expect(message.match(/\[SG-/g)).toHaveLength(2);
  });

  it('rejects a suppression without a reason or for an unknown rule', () => {
    const r = resource(dev().platforms[0], 'cluster/cpu-lt');
    expect(() => suppressPolicy(r, 'SG-NET-1', 'ok')).toThrow(/give a reason a reviewer can judge/);
    expect(() => suppressPolicy(r, 'SG-NOPE', 'because this is a long enough reason')).toThrow(/unknown rule "SG-NOPE"/);
  });

  it('reports a suppression whose rule passes as stale (a warning, so it gets removed)', () => {
    const stack = scratchStack();
    const sg = new SecurityGroup(stack, 'sg', { name: 'x', vpcId: 'vpc-1' });
    suppressPolicy(sg, 'SG-NET-2', 'nothing is open here, so this suppression is stale');
    expect(evaluatePolicies(stack).unusedSuppressions).toEqual([expect.objectContaining({ rule: 'SG-NET-2', path: 'scratch/sg' })]);
  });

  it('writes suppressions with their reasons into the synthesized resource', () => {
    const stack = scratchStack();
    const sg = new SecurityGroup(stack, 'sg', { name: 'x', vpcId: 'vpc-1', ingress: [{ fromPort: 22, toPort: 22, protocol: 'tcp', cidrBlocks: ['0.0.0.0/0'] }] });
    suppressPolicy(sg, 'SG-NET-2', 'bastion for the test, opened on purpose');
    const outdir = Testing.fullSynth(stack);
    const json = JSON.parse(readFileSync(join(outdir, 'stacks', 'scratch', 'cdk.tf.json'), 'utf8'));
    expect(json.resource.aws_security_group.sg['//'].policy_suppressions).toEqual([{ rule: 'SG-NET-2', reason: 'bastion for the test, opened on purpose' }]);
    expect(evaluatePolicies(stack).violations).toEqual([]);
  });
});

describe('each rule catches a violation on a doctored construct', () => {
  it('SG-ENC-1: a replication group without transit encryption or customer key', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-ENC-1', 'redis/ReplicationGroup').failing).toEqual([]);
    resource(p, 'redis/ReplicationGroup').addOverride('transit_encryption_enabled', false);
    resource(p, 'redis/ReplicationGroup').addOverride('kms_key_id', '');
    expect(findings(p, 'SG-ENC-1', 'redis/ReplicationGroup').failing).toEqual(['set kms_key_id to a customer-managed KMS key', 'set transit_encryption_enabled = true (TLS)']);
  });

  it('SG-ENC-2: an ActiveMQ broker on the AWS-owned key (RabbitMQ, which allows only that key, is skipped)', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-ENC-2', 'queue/Broker').failing).toEqual([]);
    resource(p, 'queue/Broker').addOverride('engine_type', 'ActiveMQ');
    expect(findings(p, 'SG-ENC-2', 'queue/Broker').failing).toHaveLength(1);
  });

  it.each([
    ['SG-ENC-3', 'network/flow-log-group', 'kms_key_id'],
    ['SG-ENC-4', 'redis/AuthToken/Secret', 'kms_key_id'],
    ['SG-ENC-5', 'monitoring/AlarmTopic', 'kms_master_key_id'],
  ])('%s: %s without its customer key', (rule, path, attribute) => {
    const p = dev().platforms[0];
    expect(findings(p, rule, path).failing).toEqual([]);
    resource(p, path).addOverride(attribute, '');
    expect(findings(p, rule, path).failing).toEqual([expect.stringMatching(new RegExp(`^set ${attribute} to a customer-managed KMS key`))]);
  });

  it.each([
    ['SG-ENC-7', 'monitoring/Workspace', 'kms_key_arn'],
  ])('%s: %s is caught (and suppressed with a reason); given a key, the suppression goes stale', (rule, path, attribute) => {
    const p = dev().platforms[0];
    expect(findings(p, rule, path).suppressed).toHaveLength(1);
    resource(p, path).addOverride(attribute, 'arn:aws:kms:us-east-1:123456789012:key/x');
    expect(findings(p, rule, path).suppressed).toEqual([]);
    expect(evaluatePolicies(p).unusedSuppressions.map((u) => u.rule)).toContain(rule);
  });

  it('SG-ENC-8: an EKS cluster whose secrets are not envelope-encrypted', () => {
    const p = dev().platforms[0];
    resource(p, 'cluster/cluster').addOverride('encryption_config.provider.key_arn', '');
    expect(findings(p, 'SG-ENC-8', 'cluster/cluster').failing).toHaveLength(1);
  });

  it('SG-ENC-9: an unencrypted launch-template volume, and one on the AWS-managed key', () => {
    const stack = scratchStack();
    new LaunchTemplate(stack, 'lt', { blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { encrypted: 'false' } }] });
    expect(findings(stack, 'SG-ENC-9', 'lt').failing).toEqual([
      'set block_device_mappings /dev/xvda ebs.encrypted = true',
      "set block_device_mappings /dev/xvda ebs.kms_key_id to a customer-managed key (the account's aws/ebs key is AWS-managed)",
    ]);
    const ok = scratchStack();
    new LaunchTemplate(ok, 'lt', { blockDeviceMappings: [{ deviceName: '/dev/xvda', ebs: { encrypted: 'true', kmsKeyId: 'arn:aws:kms:us-east-1:1:key/x' } }] });
    expect(findings(ok, 'SG-ENC-9', 'lt').failing).toEqual([]);
  });

  it('SG-ENC-10: a bucket on SSE-S3 is caught (the ALB log bucket is suppressed: AWS delivers only to SSE-S3)', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-ENC-10', 'entry/access-logs').suppressed).toEqual(['use sse_algorithm aws:kms with kms_master_key_id = <customer key>']);
  });

  it('SG-S3-1 and SG-S3-2: a bucket with public policies allowed and versioning suspended', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-S3-1', 'entry/access-logs').failing).toEqual([]);
    resource(p, 'entry/access-logs-public-access').addOverride('block_public_policy', false);
    resource(p, 'entry/access-logs-versioning').addOverride('versioning_configuration.status', 'Suspended');
    expect(findings(p, 'SG-S3-1', 'entry/access-logs').failing).toEqual(['set block_public_policy = true on dev-us-east-1/entry/access-logs-public-access']);
    expect(findings(p, 'SG-S3-2', 'entry/access-logs').failing).toEqual(['add an aws_s3_bucket_versioning with status Enabled']);
  });

  it('SG-KMS-1: a key without rotation or explicit policy', () => {
    const p = dev().platforms[0];
    resource(p, 'cluster/key').addOverride('enable_key_rotation', false);
    resource(p, 'cluster/key').addOverride('policy', '');
    expect(findings(p, 'SG-KMS-1', 'cluster/key').failing).toEqual([
      'set enable_key_rotation = true',
      expect.stringMatching(/^set policy explicitly/),
    ]);
  });

  it('SG-TLS-1: an HTTPS listener on an old policy, and an HTTP listener that forwards instead of redirecting', () => {
    const p = dev().platforms[0];
    resource(p, 'entry/alb-https').addOverride('ssl_policy', 'ELBSecurityPolicy-2016-08');
    resource(p, 'entry/alb-http').addOverride('default_action', [{ type: 'forward', target_group_arn: 'arn' }]);
    expect(findings(p, 'SG-TLS-1', 'entry/alb-https').failing).toHaveLength(1);
    expect(findings(p, 'SG-TLS-1', 'entry/alb-http').failing).toEqual([expect.stringMatching(/may only redirect to HTTPS/)]);
    expect(findings(p, 'SG-TLS-1', 'entry/nlb-443').failing).toEqual([]); // TCP pass-through
  });

  it('SG-NET-1: IMDSv1 allowed, or a hop limit above 2', () => {
    const p = dev().platforms[0];
    resource(p, 'cluster/gpu-spot-lt').addOverride('metadata_options.http_put_response_hop_limit', 3);
    expect(findings(p, 'SG-NET-1', 'cluster/gpu-spot-lt').failing).toHaveLength(1);
  });

  it('SG-NET-2: anywhere-open ingress is caught except on a public NLB\'s listener ports', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-NET-2', 'entry/nlb-in-443-0').failing).toEqual([]);
    resource(p, 'redis/Ingress0').addOverride('cidr_ipv4', '0.0.0.0/0');
    expect(findings(p, 'SG-NET-2', 'redis/Ingress0').failing).toHaveLength(1);
    resource(p, 'entry/nlb').addOverride('internal', true);
    expect(findings(p, 'SG-NET-2', 'entry/nlb-in-443-0').failing).toHaveLength(1);
  });

  it('SG-NET-3: a public EKS endpoint without an allow-list', () => {
    const p = dev().platforms[0];
    resource(p, 'cluster/cluster').addOverride('vpc_config.endpoint_public_access', true);
    expect(findings(p, 'SG-NET-3', 'cluster/cluster').failing).toHaveLength(1);
    resource(p, 'cluster/cluster').addOverride('vpc_config.public_access_cidrs', ['203.0.113.0/24']);
    expect(findings(p, 'SG-NET-3', 'cluster/cluster').failing).toEqual([]);
  });

  it('SG-NET-4: a publicly accessible broker', () => {
    const p = dev().platforms[0];
    resource(p, 'queue/Broker').addOverride('publicly_accessible', true);
    expect(findings(p, 'SG-NET-4', 'queue/Broker').failing).toHaveLength(1);
  });

  it('SG-LOG-1: an ALB without access logs; an NLB only once it has a TLS listener', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-LOG-1', 'entry/nlb').failing).toEqual([]);
    resource(p, 'entry/alb').addOverride('access_logs.enabled', false);
    expect(findings(p, 'SG-LOG-1', 'entry/alb').failing).toHaveLength(1);
    resource(p, 'entry/nlb-443').addOverride('protocol', 'TLS');
    expect(findings(p, 'SG-LOG-1', 'entry/nlb').failing).toHaveLength(1);
  });

  it('SG-LOG-2: an EKS cluster without audit logs', () => {
    const p = dev().platforms[0];
    resource(p, 'cluster/cluster').addOverride('enabled_cluster_log_types', undefined);
    expect(findings(p, 'SG-LOG-2', 'cluster/cluster').failing).toEqual(['add api, audit, authenticator to enabled_cluster_log_types']);
  });

  it('SG-LOG-3: an accelerator without flow logs', () => {
    const stack = scratchStack();
    new GlobalacceleratorAccelerator(stack, 'acc', { name: 'a' });
    expect(findings(stack, 'SG-LOG-3', 'acc').failing).toHaveLength(1);
    const ok = scratchStack();
    new GlobalacceleratorAccelerator(ok, 'acc', { name: 'a', attributes: { flowLogsEnabled: true, flowLogsS3Bucket: 'b', flowLogsS3Prefix: 'p' } });
    expect(findings(ok, 'SG-LOG-3', 'acc').failing).toEqual([]);
  });

  it('SG-LOG-4 and SG-DNS-1: a public zone without query logging or DNSSEC', () => {
    const stack = scratchStack();
    new Route53Zone(stack, 'zone', { name: 'example.org' });
    expect(findings(stack, 'SG-LOG-4', 'zone').failing).toHaveLength(1);
    expect(findings(stack, 'SG-DNS-1', 'zone').failing).toHaveLength(1);
    const ok = scratchStack();
    const zone = new Route53Zone(ok, 'zone', { name: 'example.org' });
    new Route53QueryLog(ok, 'log', { zoneId: zone.zoneId, cloudwatchLogGroupArn: 'arn:aws:logs:us-east-1:1:log-group:/x' });
    new Route53HostedZoneDnssec(ok, 'dnssec', { hostedZoneId: zone.id });
    expect(findings(ok, 'SG-LOG-4', 'zone').failing).toEqual([]);
    expect(findings(ok, 'SG-DNS-1', 'zone').failing).toEqual([]);
  });

  it('SG-LOG-5: a VPC whose flow log is gone', () => {
    const p = dev().platforms[0];
    resource(p, 'network/flow-log').addOverride('vpc_id', 'vpc-0123456789abcdef0');
    expect(findings(p, 'SG-LOG-5', 'network/vpc').failing).toEqual(['add an aws_flow_log for the VPC']);
  });

  it('SG-DATA-1: in a protected environment, a replication group without snapshots and a load balancer without deletion protection', () => {
    const p = dev().platforms[0];
    expect(findings(p, 'SG-DATA-1', 'redis/ReplicationGroup').failing).toEqual([]); // dev is not protected
    expect(findings(p, 'SG-DATA-1', 'redis/ReplicationGroup', true).failing).toEqual(['set final_snapshot_identifier', 'set snapshot_retention_limit > 0']);
    expect(findings(p, 'SG-DATA-1', 'entry/nlb', true).failing).toEqual(['set enable_deletion_protection = true']);
  });

  it('SG-SEC-1: a literal secret value, and a secret-looking container variable given as a literal', () => {
    const p = dev().platforms[0];
    resource(p, 'redis/AuthToken/Version').addOverride('secret_string', 'hunter2-hunter2');
    expect(findings(p, 'SG-SEC-1', 'redis/AuthToken/Version').failing).toEqual(['secret_string holds a literal: reference a generated secret instead']);
    const stack = scratchStack();
    deployment(stack, { env: [{ name: 'UPSTREAM_API_KEY', value: 'sk-live-123' }] });
    expect(findings(stack, 'SG-SEC-1', 'app').failing).toEqual(['container app env UPSTREAM_API_KEY is a literal: use value_from.secret_key_ref']);
  });

  it('SG-K8S-1..4: a container by tag, without readiness probe, requests or memory limit, running as root with escalation', () => {
    const ok = scratchStack();
    deployment(ok, {});
    for (const rule of ['SG-K8S-1', 'SG-K8S-2', 'SG-K8S-3', 'SG-K8S-4']) expect(findings(ok, rule, 'app').failing).toEqual([]);
    const bad = scratchStack();
    deployment(bad, { image: 'nginx:1.27', readinessProbe: undefined, resources: undefined, securityContext: { allowPrivilegeEscalation: true } }, false);
    expect(findings(bad, 'SG-K8S-1', 'app').failing).toEqual(['pin container app image nginx:1.27 by digest (<image>@sha256:<digest>)']);
    expect(findings(bad, 'SG-K8S-2', 'app').failing).toEqual(['add a readiness_probe to container app']);
    expect(findings(bad, 'SG-K8S-3', 'app').failing).toEqual(['set resources requests.cpu, requests.memory, limits.memory on container app']);
    expect(findings(bad, 'SG-K8S-4', 'app').failing).toEqual([
      'set allow_privilege_escalation = false on container app',
      'set run_as_non_root = true for container app (pod or container security_context)',
    ]);
  });

  it('the aspect is what buildEnvironment adds to every stack', () => {
    const stacks = dev();
    // Aspects are invoked at app.synth(); the stacks carry one PolicyChecks each.
    const { Aspects } = jest.requireActual('cdktf') as typeof import('cdktf');
    for (const stack of [stacks.dns!, ...stacks.platforms, ...stacks.addons, ...stacks.workloads, stacks.global]) {
      expect(Aspects.of(stack).all.some((a) => a instanceof PolicyChecks)).toBe(true);
    }
  });
});
