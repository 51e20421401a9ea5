import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { Route53Zone } from '@cdktf/provider-aws/lib/route53-zone';
import { EnvironmentConfig } from '../envs/types';
import { addAwsProvider, addBackend, stackNames } from './common';

export interface DnsStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
}

/**
 * `<env>-dns`: the public hosted zone for the environment's domain, created only when the environment
 * names no existing `hostedZoneId`. Regional stacks validate their certificates in it and the global
 * stack writes its records there; keeping it apart avoids a cycle between those stacks.
 * After the first deploy, delegate the domain to the `name_servers` output.
 */
export class DnsStack extends TerraformStack {
  /** The zone. */
  public readonly zone: Route53Zone;
  /** Id of the zone (a cross-stack reference for the other stacks). */
  public readonly zoneId: string;

  constructor(scope: Construct, props: DnsStackProps) {
    const env = props.environment;
    const name = stackNames.dns(env.name);
    super(scope, name);
    addAwsProvider(this, env, 'us-east-1');
    addBackend(this, env, name);
    this.zone = new Route53Zone(this, 'zone', {
      name: env.domain,
      comment: `surgeguard ${env.name}: public entry`,
      forceDestroy: !env.deletionProtection,
    });
    this.zoneId = this.zone.zoneId;
    new TerraformOutput(this, 'zone_id', { value: this.zone.zoneId, description: `Route 53 zone of ${env.domain}` });
    new TerraformOutput(this, 'name_servers', {
      value: this.zone.nameServers,
      description: `Delegate ${env.domain} to these name servers`,
    });
  }
}
