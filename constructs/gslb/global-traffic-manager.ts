import { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { GlobalacceleratorAccelerator } from '@cdktf/provider-aws/lib/globalaccelerator-accelerator';
import { GlobalacceleratorEndpointGroup } from '@cdktf/provider-aws/lib/globalaccelerator-endpoint-group';
import { GlobalacceleratorListener } from '@cdktf/provider-aws/lib/globalaccelerator-listener';
import { Route53HealthCheck } from '@cdktf/provider-aws/lib/route53-health-check';
import { Route53Record } from '@cdktf/provider-aws/lib/route53-record';
import { Route53Zone } from '@cdktf/provider-aws/lib/route53-zone';
import { PROXY_CONTRACT } from '../../contract/service';
import { FAILOVER_BUDGET } from '../../contract/failover-budget';
import { PropsValidator } from '../private/validation';

/** One region's public entry point, as seen by the global layer. */
/** The name the Global Accelerator is published under: `accelerator.<domain>` (on the regional certificates too). */
export function acceleratorDomainName(domain: string): string {
  return `accelerator.${domain}`;
}

export interface RegionEndpoint {
  /** AWS region name, e.g. `eu-west-1`: the latency-routing region and the record's set identifier. */
  readonly region: string;
  /** DNS name of the region's public load balancer (health-checked and aliased). */
  readonly dnsName: string;
  /** Route 53 zone id of that DNS name (the load balancer's canonical hosted zone id). */
  readonly canonicalHostedZoneId: string;
  /** ARN of the region's NLB: the Global Accelerator endpoint. */
  readonly loadBalancerArn: string;
}

/** Clients from a continent or country always go to one region (while it is healthy). */
export interface GeolocationRoute {
  /** Two-letter continent code (`EU`, `AS`, …). Exactly one of continent/country. @default - none (give `country`) */
  readonly continent?: string;
  /** ISO 3166-1 alpha-2 country code. Exactly one of continent/country. @default - none (give `continent`) */
  readonly country?: string;
  /** Region (one of `regions`) serving those clients. */
  readonly region: string;
}

export interface GlobalTrafficManagerProps {
  /** Name prefix of the health checks and the accelerator. */
  readonly name: string;
  /** DNS name clients use, e.g. `api.example.com`. */
  readonly domainName: string;
  /**
   * Route 53 hosted zone to write the records into (the zone of `domainName` or of a parent).
   * @default - a public zone for `domainName` is created (delegate to its name servers)
   */
  readonly hostedZoneId?: string;
  /** The regions; every one serves traffic (active-active). At least one, no duplicates. */
  readonly regions: readonly RegionEndpoint[];
  /**
   * Geolocation overrides on top of latency routing. When set, the latency records move to
   * `latency.<domainName>` and `domainName` gets geolocation records: one per override plus a default
   * (`*`) aliasing the latency set. An override whose region fails its health check falls back to the
   * default, so an override never pins clients to a dead region.
   * @see https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-geo.html
   * @default []
   */
  readonly geolocationRoutes?: readonly GeolocationRoute[];
  /** Path of the proxy's readiness endpoint, checked over HTTPS on 443. @default PROXY_CONTRACT.readyPath */
  readonly healthCheckPath?: string;
  /**
   * Seconds between checks from each Route 53 checker: 10 (fast) or 30.
   * @see https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html
   * @default 10
   */
  readonly healthCheckIntervalSeconds?: 10 | 30;
  /** Consecutive failures before a region counts as unhealthy (1-10). @default FAILOVER_BUDGET.route53.failureThreshold (2) */
  readonly healthCheckFailureThreshold?: number;
  /**
   * Put AWS Global Accelerator (two static anycast addresses, TCP 443/80) in front of the regional NLBs,
   * published as `accelerator.<domainName>`. Failover happens inside the accelerator within seconds,
   * independent of DNS caching.
   * @default false
   */
  readonly globalAccelerator?: boolean;
  /**
   * Provider for Global Accelerator, whose API lives in `us-west-2`. Required when `globalAccelerator` is set.
   * @default - none
   */
  readonly acceleratorProvider?: AwsProvider;
  /** Extra tags on every resource. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The global layer (GSLB): a health check per region against its public endpoint, latency-based
 * records that drop a region whose check fails, optional geolocation overrides, and optionally a
 * Global Accelerator with one endpoint group per region.
 */
export class GlobalTrafficManager extends Construct {
  /** Zone holding the records. */
  public readonly hostedZoneId: string;
  /** The zone, when this construct created it. */
  public readonly zone?: Route53Zone;
  /** Health check per region, by region name. */
  public readonly healthChecks: Readonly<Record<string, Route53HealthCheck>>;
  /** Latency records per region, by region name. */
  public readonly latencyRecords: Readonly<Record<string, Route53Record>>;
  /** Name the latency records are published under (`domainName`, or `latency.<domainName>` with overrides). */
  public readonly latencyRecordName: string;
  /** The accelerator, when enabled. */
  public readonly accelerator?: GlobalacceleratorAccelerator;
  /** Accelerator endpoint groups by region, when enabled. */
  public readonly acceleratorEndpointGroups: Readonly<Record<string, GlobalacceleratorEndpointGroup>>;
  /** Name published for the accelerator, when enabled. */
  public readonly acceleratorDomainName?: string;

  constructor(scope: Construct, id: string, props: GlobalTrafficManagerProps) {
    super(scope, id);
    const v = new PropsValidator('GlobalTrafficManager', id);
    v.atLeast('regions', props.regions, 1, 'must list at least one region');
    const names = props.regions.map((r) => r.region);
    v.unique('regions', names, (duplicate) => `lists "${String(duplicate)}" twice`);
    const overrides = props.geolocationRoutes ?? [];
    overrides.forEach((g, i) => {
      if ((g.continent === undefined) === (g.country === undefined)) v.fail(`geolocationRoutes[${i}]`, 'must set exactly one of continent or country');
      v.check(`geolocationRoutes[${i}].region`, g.region, (r) => names.includes(r), `"${g.region}" is not in regions`);
    });
    const accelerate = props.globalAccelerator ?? false;
    if (accelerate && props.acceleratorProvider === undefined) v.fail('globalAccelerator', 'needs acceleratorProvider (an AWS provider for us-west-2)');
    if (!accelerate && props.acceleratorProvider !== undefined) v.fail('acceleratorProvider', 'is set but globalAccelerator is not');
    const interval = props.healthCheckIntervalSeconds ?? FAILOVER_BUDGET.route53.requestIntervalSeconds;
    v.check('healthCheckIntervalSeconds', interval, (s) => s === 10 || s === 30, `must be 10 or 30, got ${String(interval)}`);
    const threshold = props.healthCheckFailureThreshold ?? FAILOVER_BUDGET.route53.failureThreshold;
    v.wholeNumber('healthCheckFailureThreshold', threshold, 1, 10);
    const path = props.healthCheckPath ?? PROXY_CONTRACT.readyPath;
    const tags = (extra: Record<string, string> = {}) => ({ ...props.tags, ...extra });

    if (props.hostedZoneId !== undefined) {
      this.hostedZoneId = props.hostedZoneId;
    } else {
      this.zone = new Route53Zone(this, 'zone', { name: props.domainName, comment: `${props.name}: surgeguard entry`, tags: tags() });
      this.hostedZoneId = this.zone.zoneId;
    }

    const checks: Record<string, Route53HealthCheck> = {};
    for (const r of props.regions) {
      checks[r.region] = new Route53HealthCheck(this, `health-${r.region}`, {
        type: 'HTTPS',
        fqdn: r.dnsName,
        port: 443,
        resourcePath: path,
        enableSni: true,
        requestInterval: interval,
        failureThreshold: threshold,
        measureLatency: true,
        tags: tags({ Name: `${props.name}-${r.region}` }),
      });
    }
    this.healthChecks = checks;

    this.latencyRecordName = overrides.length > 0 ? `latency.${props.domainName}` : props.domainName;
    const latency: Record<string, Route53Record> = {};
    for (const r of props.regions) {
      latency[r.region] = new Route53Record(this, `latency-${r.region}`, {
        zoneId: this.hostedZoneId,
        name: this.latencyRecordName,
        type: 'A',
        setIdentifier: r.region,
        latencyRoutingPolicy: { region: r.region },
        healthCheckId: checks[r.region].id,
        alias: { name: r.dnsName, zoneId: r.canonicalHostedZoneId, evaluateTargetHealth: true },
      });
    }
    this.latencyRecords = latency;

    if (overrides.length > 0) {
      const byRegion = new Map(props.regions.map((r) => [r.region, r]));
      overrides.forEach((g) => {
        const target = byRegion.get(g.region)!;
        const where = g.country !== undefined ? `country-${g.country}` : `continent-${g.continent}`;
        new Route53Record(this, `geo-${where}`, {
          zoneId: this.hostedZoneId,
          name: props.domainName,
          type: 'A',
          setIdentifier: `${where}-${g.region}`,
          geolocationRoutingPolicy: g.country !== undefined ? { country: g.country } : { continent: g.continent },
          healthCheckId: checks[g.region].id,
          alias: { name: target.dnsName, zoneId: target.canonicalHostedZoneId, evaluateTargetHealth: true },
        });
      });
      new Route53Record(this, 'geo-default', {
        zoneId: this.hostedZoneId,
        name: props.domainName,
        type: 'A',
        setIdentifier: 'default-latency',
        geolocationRoutingPolicy: { country: '*' },
        alias: { name: this.latencyRecordName, zoneId: this.hostedZoneId, evaluateTargetHealth: true },
        dependsOn: Object.values(latency),
      });
    }

    const groups: Record<string, GlobalacceleratorEndpointGroup> = {};
    if (accelerate) {
      const provider = props.acceleratorProvider!;
      this.accelerator = new GlobalacceleratorAccelerator(this, 'accelerator', {
        provider,
        name: `${props.name}-accelerator`.slice(0, 64),
        ipAddressType: 'IPV4',
        enabled: true,
        tags: tags({ Name: `${props.name}-accelerator` }),
      });
      const listener = new GlobalacceleratorListener(this, 'accelerator-listener', {
        provider,
        acceleratorArn: this.accelerator.id,
        protocol: 'TCP',
        clientAffinity: 'NONE',
        portRange: [
          { fromPort: 80, toPort: 80 },
          { fromPort: 443, toPort: 443 },
        ],
      });
      for (const r of props.regions) {
        groups[r.region] = new GlobalacceleratorEndpointGroup(this, `accelerator-${r.region}`, {
          provider,
          listenerArn: listener.id,
          endpointGroupRegion: r.region,
          trafficDialPercentage: 100,
          // NLB endpoints: the accelerator follows the NLB's own target health (protocol, port and
          // threshold apply to none here); the interval is kept at the shortest GA allows, the
          // budget's reaction time (AWS's workshop: GA acts within one interval).
          healthCheckProtocol: 'TCP',
          healthCheckPort: 443,
          healthCheckIntervalSeconds: FAILOVER_BUDGET.acceleratorReactionSeconds,
          thresholdCount: 3,
          endpointConfiguration: [{ endpointId: r.loadBalancerArn, weight: 128, clientIpPreservationEnabled: false }],
        });
      }
      this.acceleratorDomainName = acceleratorDomainName(props.domainName);
      new Route53Record(this, 'accelerator-record', {
        zoneId: this.hostedZoneId,
        name: this.acceleratorDomainName,
        type: 'A',
        alias: { name: this.accelerator.dnsName, zoneId: this.accelerator.hostedZoneId, evaluateTargetHealth: true },
      });
    }
    this.acceleratorEndpointGroups = groups;
  }
}
