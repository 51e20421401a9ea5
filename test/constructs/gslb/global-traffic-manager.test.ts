import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { GlobalTrafficManager, GlobalTrafficManagerProps } from '../../../constructs/gslb/global-traffic-manager';
import { resourceList, resources, synthConstruct } from '../../support/synth';

const regions = ['us-east-1', 'eu-west-1', 'ap-southeast-1'].map((region) => ({
  region,
  dnsName: `nlb-${region}.elb.amazonaws.com`,
  canonicalHostedZoneId: `ZONE-${region}`,
  loadBalancerArn: `arn:aws:elasticloadbalancing:${region}:123456789012:loadbalancer/net/x/1`,
}));
const base: GlobalTrafficManagerProps = { name: 'surgeguard-prod', domainName: 'api.example.com', hostedZoneId: 'Z123', regions };

function synth(props: Partial<GlobalTrafficManagerProps> = {}, withAccelerator = false) {
  return synthConstruct((s) => {
    const acceleratorProvider = withAccelerator ? new AwsProvider(s, 'ga', { region: 'us-west-2', alias: 'ga' }) : undefined;
    new GlobalTrafficManager(s, 'gtm', { ...base, acceleratorProvider, globalAccelerator: withAccelerator, ...props });
  });
}

describe('GlobalTrafficManager', () => {
  it('checks every region over HTTPS on the proxy readiness path, every 10 s, 2 failures (the failover budget)', () => {
    const checks = resourceList(synth(), 'aws_route53_health_check');
    expect(checks.map((c) => c.fqdn)).toEqual(expect.arrayContaining(regions.map((r) => r.dnsName)));
    expect(checks).toHaveLength(3);
    for (const c of checks) {
      expect(c).toMatchObject({ type: 'HTTPS', port: 443, resource_path: '/readyz', request_interval: 10, failure_threshold: 2, enable_sni: true });
    }
  });

  it('serves every region through latency records that each carry their region health check (active-active)', () => {
    const tf = synth();
    const checks = resources(tf, 'aws_route53_health_check');
    const checkIdOf = (fqdn: string) => Object.keys(checks).find((k) => checks[k].fqdn === fqdn)!;
    const records = resourceList(tf, 'aws_route53_record');
    expect(records).toHaveLength(3);
    for (const r of regions) {
      const record = records.find((x) => x.set_identifier === r.region);
      expect(record).toEqual({
        zone_id: 'Z123',
        name: 'api.example.com',
        type: 'A',
        set_identifier: r.region,
        latency_routing_policy: { region: r.region },
        health_check_id: `\${aws_route53_health_check.${checkIdOf(r.dnsName)}.id}`,
        alias: { name: r.dnsName, zone_id: r.canonicalHostedZoneId, evaluate_target_health: true },
      });
    }
  });

  it('moves latency records under latency.<domain> and puts geolocation overrides with a default on the domain', () => {
    const tf = synth({ geolocationRoutes: [{ country: 'DE', region: 'eu-west-1' }, { continent: 'AS', region: 'ap-southeast-1' }] });
    const records = resourceList(tf, 'aws_route53_record');
    const latency = records.filter((r) => r.latency_routing_policy);
    expect(latency.map((r) => r.name)).toEqual(['latency.api.example.com', 'latency.api.example.com', 'latency.api.example.com']);
    const geo = records.filter((r) => r.geolocation_routing_policy);
    const de = geo.find((r) => r.geolocation_routing_policy.country === 'DE');
    expect(de).toMatchObject({ name: 'api.example.com', alias: { name: 'nlb-eu-west-1.elb.amazonaws.com', evaluate_target_health: true } });
    expect(de.health_check_id).toMatch(/aws_route53_health_check\..*eu-west-1.*\.id/);
    expect(geo.find((r) => r.geolocation_routing_policy.continent === 'AS').alias.name).toBe('nlb-ap-southeast-1.elb.amazonaws.com');
    const fallback = geo.find((r) => r.geolocation_routing_policy.country === '*');
    expect(fallback.alias).toEqual({ name: 'latency.api.example.com', zone_id: 'Z123', evaluate_target_health: true });
  });

  it('adds a Global Accelerator with an endpoint group per region through the us-west-2 provider', () => {
    const tf = synth({}, true);
    const accelerator = Object.values(resources(tf, 'aws_globalaccelerator_accelerator'));
    expect(accelerator).toHaveLength(1);
    expect(accelerator[0].provider).toBe('aws.ga');
    const listener = Object.values(resources(tf, 'aws_globalaccelerator_listener'))[0];
    expect(listener.port_range).toEqual([{ from_port: 80, to_port: 80 }, { from_port: 443, to_port: 443 }]);
    const groups = resourceList(tf, 'aws_globalaccelerator_endpoint_group');
    expect(groups.map((g) => g.endpoint_group_region).sort()).toEqual(['ap-southeast-1', 'eu-west-1', 'us-east-1']);
    for (const g of groups) {
      expect(g.provider).toBe('aws.ga');
      expect(g.traffic_dial_percentage).toBe(100);
      expect(g.endpoint_configuration[0].endpoint_id).toBe(regions.find((r) => r.region === g.endpoint_group_region)!.loadBalancerArn);
    }
    const record = resourceList(tf, 'aws_route53_record').find((r) => r.name === 'accelerator.api.example.com');
    expect(record.alias.name).toMatch(/aws_globalaccelerator_accelerator\..+\.dns_name/);
  });

  it('creates a zone when no zone id is given', () => {
    const tf = synth({ hostedZoneId: undefined });
    const zones = resources(tf, 'aws_route53_zone');
    expect(Object.values(zones).map((z) => z.name)).toEqual(['api.example.com']);
    const zoneId = Object.keys(zones)[0];
    for (const r of resourceList(tf, 'aws_route53_record')) expect(r.zone_id).toBe(`\${aws_route53_zone.${zoneId}.zone_id}`);
  });

  it.each([
    [{ regions: [] }, 'regions must list at least one region'],
    [{ regions: [regions[0], regions[0]] }, 'regions lists "us-east-1" twice'],
    [{ geolocationRoutes: [{ country: 'DE', continent: 'EU', region: 'eu-west-1' }] }, 'geolocationRoutes[0] must set exactly one of continent or country'],
    [{ geolocationRoutes: [{ country: 'JP', region: 'ap-northeast-1' }] }, 'geolocationRoutes[0].region "ap-northeast-1" is not in regions'],
    [{ globalAccelerator: true }, 'globalAccelerator needs acceleratorProvider'],
    [{ healthCheckIntervalSeconds: 5 as 10 }, 'healthCheckIntervalSeconds must be 10 or 30'],
  ])('rejects invalid props %j', (override, message) => {
    expect(() => synth(override)).toThrow(`GlobalTrafficManager gtm: ${message}`);
  });
});
