import { rmSync } from 'fs';
import { ENVIRONMENTS, EnvironmentConfig } from '../../envs';
import { compareInventory, inventoriedStacks, readInventory, REGENERATE_COMMAND } from '../../scripts/inventory';
import { withFixtureArtifacts } from '../../scripts/fixture-artifacts';
import { synthApp, SynthesizedApp, TfJson } from '../support/synth';

// Whole-app synths take seconds on a loaded 2-core machine; the default 5 s is too tight.
jest.setTimeout(60_000);

const remoteRef = /^\$\{data\.terraform_remote_state\.cross-stack-reference-input-([a-z0-9-]+)\.outputs\.[A-Za-z0-9_-]+\}$/;

describe('stacks per environment', () => {
  let all: SynthesizedApp;
  beforeAll(() => {
    // The inventories are of the infrastructure, synthesized with fixed stand-in bundles.
    all = withFixtureArtifacts(() => synthApp(Object.values(ENVIRONMENTS)));
  });
  afterAll(() => rmSync(all.outdir, { recursive: true, force: true }));

  it('lays out dns, a platform, an add-ons and a workloads stack per region, and a global stack for each environment', () => {
    expect(all.stackNames).toEqual([
      'dev-dns', 'dev-global', 'dev-us-east-1', 'dev-us-east-1-addons', 'dev-us-east-1-workloads',
      'prod-ap-southeast-1', 'prod-ap-southeast-1-addons', 'prod-ap-southeast-1-workloads', 'prod-dns',
      'prod-eu-west-1', 'prod-eu-west-1-addons', 'prod-eu-west-1-workloads',
      'prod-global', 'prod-us-east-1', 'prod-us-east-1-addons', 'prod-us-east-1-workloads',
      'staging-dns', 'staging-eu-west-1', 'staging-eu-west-1-addons', 'staging-eu-west-1-workloads', 'staging-global',
      'staging-us-east-1', 'staging-us-east-1-addons', 'staging-us-east-1-workloads',
    ]);
  });

  it('gives every stack but the add-ons stacks (Helm only) an AWS provider for its region with the project default tags', () => {
    for (const name of all.stackNames) {
      if (name.endsWith('-addons')) {
        expect(all.stack(name).provider!.aws).toBeUndefined();
        continue;
      }
      const env = name.split('-')[0];
      const aws = all.stack(name).provider!.aws;
      const main = aws.find((p) => p.alias === undefined);
      const region = /-(dns|global)$/.test(name) ? 'us-east-1' : name.replace(`${env}-`, '').replace('-workloads', '');
      expect(main.region).toBe(region);
      expect(main.default_tags).toEqual([{ tags: { project: 'surgeguard', environment: env, region, 'managed-by': 'cdktf' } }]);
      expect(main.access_key).toBeUndefined();
      expect(main.secret_key).toBeUndefined();
    }
  });

  it('keeps dev state in relative local files and staging/prod state in S3 with native lock files', () => {
    for (const name of all.stackNames) {
      const backend = all.stack(name).terraform!.backend;
      if (name.startsWith('dev-')) {
        expect(backend).toEqual({ local: { path: `../../../terraform-state/${name}.tfstate` } });
      } else {
        const env = ENVIRONMENTS[name.split('-')[0]] as EnvironmentConfig & { backend: { type: 's3'; bucket: string } };
        const prefix = name.startsWith('prod-') ? 'surgeguard/prod' : 'surgeguard/staging';
        expect(backend).toEqual({
          s3: { bucket: env.backend.bucket, region: 'us-east-1', key: `${prefix}/${name}.tfstate`, encrypt: true, use_lockfile: true },
        });
      }
    }
  });

  it('points the prod global records at all three regional NLBs, each guarded by its health check', () => {
    const global = all.stack('prod-global');
    const checks = global.resource!.aws_route53_health_check;
    const latency = Object.values(global.resource!.aws_route53_record).filter((r: any) => r.latency_routing_policy) as any[];
    expect(latency.map((r) => r.latency_routing_policy.region).sort()).toEqual(['ap-southeast-1', 'eu-west-1', 'us-east-1']);
    for (const record of latency) {
      const region = record.latency_routing_policy.region;
      // The alias target comes from that region's platform stack through a cdktf cross-stack reference.
      expect(record.alias.name).toMatch(remoteRef);
      expect(remoteRef.exec(record.alias.name)![1]).toBe(`prod-${region}`);
      const checkId = /aws_route53_health_check\.([^.]+)\.id/.exec(record.health_check_id)![1];
      expect(checks[checkId].fqdn).toBe(record.alias.name);
      expect(record.alias.evaluate_target_health).toBe(true);
    }
    const zones = new Set(latency.map((r) => r.zone_id));
    expect(zones.size).toBe(1);
    expect([...zones][0]).toMatch(/cross-stack-reference-input-prod-dns/);
    // Global Accelerator through its us-west-2 provider alias, one endpoint group per region.
    expect(global.provider!.aws.map((p: any) => p.region).sort()).toEqual(['us-east-1', 'us-west-2']);
    expect(Object.keys(global.resource!.aws_globalaccelerator_endpoint_group)).toHaveLength(3);
  });

  it('has no Global Accelerator in dev and routes DE clients to eu-west-1 in prod', () => {
    expect(all.stack('dev-global').resource!.aws_globalaccelerator_accelerator).toBeUndefined();
    const geo = Object.values(all.stack('prod-global').resource!.aws_route53_record).filter((r: any) => r.geolocation_routing_policy) as any[];
    expect(geo.find((r) => r.geolocation_routing_policy.country === 'DE').set_identifier).toBe('country-DE-eu-west-1');
  });

  it('keeps Kubernetes resources out of the platform stacks', () => {
    for (const name of all.stackNames.filter((n) => !/-(workloads|addons)$/.test(n))) {
      const tf = all.stack(name);
      expect(Object.keys(tf.terraform!.required_providers)).toEqual(['aws']);
      expect(Object.keys(tf.resource ?? {}).filter((t) => t.startsWith('kubernetes_'))).toEqual([]);
    }
  });

  it('configures each workloads stack from its platform stack cluster, with tokens from aws eks get-token', () => {
    for (const name of all.stackNames.filter((n) => n.endsWith('-workloads'))) {
      const platform = name.replace(/-workloads$/, '');
      const tf: TfJson = all.stack(name);
      const [k8s] = tf.provider!.kubernetes;
      expect(remoteRef.exec(k8s.host)![1]).toBe(platform);
      expect(k8s.cluster_ca_certificate).toMatch(new RegExp(`^\\$\\{base64decode\\(data\\.terraform_remote_state\\.cross-stack-reference-input-${platform}\\.`));
      expect(k8s.token).toBeUndefined();
      expect(tf.data?.aws_eks_cluster_auth).toBeUndefined();
      expect(k8s.exec).toEqual([
        {
          api_version: 'client.authentication.k8s.io/v1beta1',
          command: 'aws',
          args: ['eks', 'get-token', '--cluster-name', expect.stringMatching(remoteRef), '--region', expect.any(String), '--output', 'json'],
        },
      ]);
      expect(remoteRef.exec(k8s.exec[0].args[3])![1]).toBe(platform);
      const namespaces = Object.values(tf.resource!.kubernetes_namespace_v1).map((n: any) => n.metadata.name);
      expect(namespaces.sort()).toEqual(['surgeguard', 'surgeguard-inference', 'surgeguard-monitoring']);
    }
  });

  it('leaves spot interruptions to the EKS managed spot node groups: no interruption queue, handler role or handler anywhere', () => {
    let spotGroups = 0;
    for (const name of all.stackNames) {
      const tf = all.stack(name);
      // Nothing inert: no queue nobody reads, no role nobody assumes, no handler without an image.
      expect(tf.resource?.aws_sqs_queue ?? {}).toEqual({});
      expect(tf.resource?.aws_cloudwatch_event_rule ?? {}).toEqual({});
      const roles = Object.values(tf.resource?.aws_iam_role ?? {}).map((r: any) => r.name);
      expect(roles.filter((r) => r.includes('termination-handler'))).toEqual([]);
      const deployments = Object.values(tf.resource?.kubernetes_deployment_v1 ?? {}).map((d: any) => d.metadata.name);
      expect(deployments).not.toContain('aws-node-termination-handler');
      // What handles them instead: every spot group is a managed node group (Capacity Rebalancing, drain).
      for (const group of Object.values(tf.resource?.aws_eks_node_group ?? {}) as any[]) if (group.capacity_type === 'SPOT') spotGroups += 1;
    }
    expect(spotGroups).toBeGreaterThan(0);
  });

  it('validates certificates in the DNS stack zone and publishes a per-region name', () => {
    const tf = all.stack('prod-eu-west-1');
    const records = Object.values(tf.resource!.aws_route53_record) as any[];
    const regional = records.find((r) => r.name === 'eu-west-1.api.surgeguard.example.com');
    expect(regional.zone_id).toMatch(/cross-stack-reference-input-prod-dns/);
    expect(Object.values(tf.resource!.aws_acm_certificate)[0]).toMatchObject({ domain_name: 'api.surgeguard.example.com' });
    expect(Object.keys(tf.output!)).toEqual(
      expect.arrayContaining(['cluster_name', 'cluster_endpoint', 'nlb_dns_name', 'alb_dns_name', 'static_ips', 'vpc_id']),
    );
  });

  it('turns on deletion protection for the prod load balancers only', () => {
    const lbs = (name: string) => Object.values(all.stack(name).resource!.aws_lb) as any[];
    for (const lb of lbs('prod-us-east-1')) expect(lb.enable_deletion_protection).toBe(true);
    for (const lb of lbs('dev-us-east-1')) expect(lb.enable_deletion_protection).toBe(false);
  });

  it('uses an existing zone and creates no dns stack when the environment names one', () => {
    const withZone = { ...ENVIRONMENTS.staging, name: 'qa', hostedZoneId: 'Z0123456789ABC' };
    const app = synthApp([withZone]);
    try {
      expect(app.stackNames).toEqual([
        'qa-eu-west-1', 'qa-eu-west-1-addons', 'qa-eu-west-1-workloads', 'qa-global', 'qa-us-east-1', 'qa-us-east-1-addons', 'qa-us-east-1-workloads',
      ]);
      const latency = Object.values(app.stack('qa-global').resource!.aws_route53_record) as any[];
      for (const r of latency) expect(r.zone_id).toBe('Z0123456789ABC');
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  });

  // A complement to the precise assertions: any change to any block of any stack fails here, named,
  // with its new content. After an intended change: `npm run inventories`, and review the diff of
  // test/stacks/inventories/ like code (a changed address is a resource Terraform would replace).
  it('keeps an inventory for exactly the stacks the environments synthesize', () => {
    expect(inventoriedStacks()).toEqual(all.stackNames);
  });

  it.each(Object.keys(ENVIRONMENTS))('matches the reviewed inventory of every %s stack, block by block', (env) => {
    const names = all.stackNames.filter((n) => n.startsWith(`${env}-`));
    expect(names.length).toBeGreaterThanOrEqual(4);
    const problems = names.flatMap((stack) => compareInventory(stack, readInventory(stack), all.stack(stack)));
    if (problems.length > 0) {
      throw new Error(
        `synth output differs from the committed inventories (test/stacks/inventories/):\n${problems.join('\n')}\n\n` +
          `If the change is intended, run \`${REGENERATE_COMMAND}\` and review the diff.`,
      );
    }
  });

  it('refuses to synthesize an invalid environment', () => {
    const bad = { ...ENVIRONMENTS.dev, regions: [{ ...ENVIRONMENTS.dev.regions[0], vpcCidr: '10.0.0.0/8' }] };
    expect(() => synthApp([bad])).toThrow('environment "dev": regions[0].vpcCidr: prefix /8 must be between /16 and /20');
  });
});
