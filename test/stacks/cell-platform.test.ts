import { rmSync } from 'fs';
import { ENVIRONMENTS } from '../../envs';
import { resourceList, resources, SynthesizedApp, synthApp } from '../support/synth';

let synth: SynthesizedApp;
beforeAll(() => {
  synth = synthApp([ENVIRONMENTS.dev, ENVIRONMENTS.prod]);
});
afterAll(() => rmSync(synth.outdir, { recursive: true, force: true }));

describe('the certificate covers every client-facing name', () => {
  it('prod: the global name, the regional name and accelerator.<domain>, each validated through DNS', () => {
    const cert = resourceList(synth.stack('prod-eu-west-1'), 'aws_acm_certificate')[0];
    expect(cert.domain_name).toBe('api.surgeguard.example.com');
    expect(cert.subject_alternative_names).toEqual(['eu-west-1.api.surgeguard.example.com', 'accelerator.api.surgeguard.example.com']);
    const records = resourceList(synth.stack('prod-eu-west-1'), 'aws_route53_record').find((r) => r.for_each !== undefined);
    // One validation record per name of the certificate (for_each over its domain_validation_options).
    expect(records.for_each).toContain('aws_acm_certificate.entry_certificate');
    expect(records.for_each).toContain('domain_validation_options');
  });

  it('dev (no accelerator): the global and regional names only', () => {
    const cert = resourceList(synth.stack('dev-us-east-1'), 'aws_acm_certificate')[0];
    expect(cert.subject_alternative_names).toEqual(['us-east-1.dev.surgeguard.example.com']);
  });

  it('the name the accelerator is published under is the one on the certificate', () => {
    const alias = resourceList(synth.stack('prod-global'), 'aws_route53_record').find((r) => r.alias?.name?.includes('globalaccelerator') || String(r.name).startsWith('accelerator.'));
    expect(alias.name).toBe('accelerator.api.surgeguard.example.com');
  });
});

describe('node groups start after the VPC CNI and its IRSA role', () => {
  it.each(['dev-us-east-1', 'prod-us-east-1'])('%s: every node group depends on the vpc-cni add-on and the CNI policy attachment', (stack) => {
    const tf = synth.stack(stack);
    const addon = Object.entries(resources(tf, 'aws_eks_addon')).find(([, a]) => a.addon_name === 'vpc-cni')![0];
    const policy = Object.keys(resources(tf, 'aws_iam_role_policy_attachment')).find((id) => id.includes('vpc-cni-policy'))!;
    const groups = resourceList(tf, 'aws_eks_node_group');
    expect(groups.length).toBeGreaterThanOrEqual(2);
    for (const g of groups) {
      expect(g.depends_on).toEqual(expect.arrayContaining([`aws_eks_addon.${addon}`, `aws_iam_role_policy_attachment.${policy}`]));
    }
  });
});

describe('log groups are ones something writes', () => {
  it('creates no Amazon MQ log group (Amazon MQ names it after the broker id and creates it) and outputs the real name', () => {
    const tf = synth.stack('prod-us-east-1');
    expect(resourceList(tf, 'aws_cloudwatch_log_group').map((g) => g.name).filter((n) => String(n).startsWith('/aws/amazonmq'))).toEqual([]);
    const output = Object.entries(tf.output ?? {}).find(([id]) => id.includes('GeneralLogGroup'))![1] as { value: string };
    expect(output.value).toMatch(/^\/aws\/amazonmq\/broker\/\$\{aws_mq_broker\.[^}]+\.id\}\/general$/);
  });
});
