import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { GlobalTrafficManager } from '../constructs/gslb/global-traffic-manager';
import { EnvironmentConfig } from '../envs/types';
import { addAwsProvider, addBackend, stackNames } from './common';
import { PlatformStack } from './platform-stack';

/** Region of the Global Accelerator API. */
export const GLOBAL_ACCELERATOR_API_REGION = 'us-west-2';

export interface GlobalStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
  /** Every platform stack of the environment: each one's NLB becomes a GSLB target. */
  readonly platforms: readonly PlatformStack[];
  /** Zone for the records (the DNS stack's zone or `environment.hostedZoneId`). */
  readonly hostedZoneId: string;
}

/**
 * `<env>-global`: the GSLB. Route 53 health checks and latency records (plus geolocation overrides)
 * over every region's NLB, and Global Accelerator when the environment asks for it. Route 53 is a
 * global service managed through us-east-1; Global Accelerator through us-west-2 (a provider alias).
 */
export class GlobalStack extends TerraformStack {
  /** The GSLB construct. */
  public readonly traffic: GlobalTrafficManager;

  constructor(scope: Construct, props: GlobalStackProps) {
    const env = props.environment;
    const name = stackNames.global(env.name);
    super(scope, name);
    addAwsProvider(this, env, 'us-east-1');
    const acceleratorProvider = env.globalAccelerator
      ? addAwsProvider(this, env, GLOBAL_ACCELERATOR_API_REGION, 'global-accelerator')
      : undefined;
    addBackend(this, env, name);
    for (const p of props.platforms) this.addDependency(p);

    this.traffic = new GlobalTrafficManager(this, 'traffic', {
      name: `surgeguard-${env.name}`,
      domainName: env.domain,
      hostedZoneId: props.hostedZoneId,
      regions: props.platforms.map((p) => ({
        region: p.region.region,
        dnsName: p.loadBalancer.dnsName,
        canonicalHostedZoneId: p.loadBalancer.canonicalHostedZoneId,
        loadBalancerArn: p.loadBalancer.nlb.arn,
      })),
      geolocationRoutes: env.geolocationOverrides,
      globalAccelerator: env.globalAccelerator,
      acceleratorProvider,
    });

    new TerraformOutput(this, 'endpoint', { value: env.domain, description: 'What clients call' });
    new TerraformOutput(this, 'health_check_ids', {
      value: Object.fromEntries(Object.entries(this.traffic.healthChecks).map(([r, hc]) => [r, hc.id])),
      description: 'Route 53 health check per region',
    });
    if (this.traffic.accelerator) {
      new TerraformOutput(this, 'accelerator_dns_name', { value: this.traffic.acceleratorDomainName, description: 'Name of the accelerator entry' });
      new TerraformOutput(this, 'accelerator_ips', {
        value: this.traffic.accelerator.ipSets.get(0).ipAddresses,
        description: 'Static anycast addresses of the accelerator',
      });
    }
  }
}
