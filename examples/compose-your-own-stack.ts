/**
 * Composing surgeguard's constructs inside your own cdktf stack: one region, your own VPC CIDR,
 * your existing certificate and zone, the GSLB in front. docs/architecture.md quotes the part between the
 * docs markers; test/examples/compose-your-own-stack.test.ts compiles this file, synthesizes it, and checks the quote.
 */
import { App, S3Backend, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { GlobalTrafficManager, InferenceCluster, Network, RegionalLoadBalancer } from '../constructs';

// docs:start
export class MyInferenceStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: 'eu-central-1', defaultTags: [{ tags: { team: 'ml-platform' } }] });
    new S3Backend(this, { bucket: 'my-tf-state', key: `${id}.tfstate`, region: 'eu-central-1', encrypt: true });
    this.addOverride('terraform.backend.s3.use_lockfile', true);

    const network = new Network(this, 'network', { name: 'llm-euc1', region: 'eu-central-1', cidrBlock: '10.80.0.0/16' });
    const cluster = new InferenceCluster(this, 'cluster', {
      name: 'llm-euc1',
      region: 'eu-central-1',
      kubernetesVersion: '1.32',
      subnetIds: network.privateSubnetIds,
      adminPrincipalArns: ['arn:aws:iam::123456789012:role/ml-platform-ci'],
      cpuNodes: { instanceTypes: ['m7i.xlarge'], min: 2, max: 6, desired: 2 },
      gpuOnDemand: { instanceTypes: ['g6e.2xlarge'], min: 1, max: 2, desired: 1 },
      gpuSpot: { instanceTypes: ['g6e.2xlarge', 'g5.2xlarge', 'g6.2xlarge'], min: 0, max: 8, desired: 0 },
    });
    const entry = new RegionalLoadBalancer(this, 'entry', {
      name: 'llm-euc1',
      vpcId: network.vpcId,
      publicSubnetIds: network.publicSubnetIds,
      privateSubnetIds: network.privateSubnetIds,
      domainName: 'llm.example.org',
      certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/11111111-2222-3333-4444-555555555555',
      targetSecurityGroupId: cluster.clusterSecurityGroupId,
      targetAutoScalingGroupNames: [cluster.cpuAutoScalingGroupName],
      stickinessDurationSeconds: 600,
    });
    new GlobalTrafficManager(this, 'gslb', {
      name: 'llm',
      domainName: 'llm.example.org',
      hostedZoneId: 'Z0EXAMPLE12345',
      regions: [
        {
          region: 'eu-central-1',
          dnsName: entry.dnsName,
          canonicalHostedZoneId: entry.canonicalHostedZoneId,
          loadBalancerArn: entry.nlb.arn,
        },
      ],
    });
  }
}
// docs:end

/** Synthesizes the example app into `outdir`. */
export function synthesizeExample(outdir = 'cdktf.out.example'): App {
  const app = new App({ outdir });
  new MyInferenceStack(app, 'my-inference');
  app.synth();
  return app;
}

if (require.main === module) synthesizeExample();
