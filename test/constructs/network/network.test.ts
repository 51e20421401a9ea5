import { Network, subnetCidr } from '../../../constructs/network/network';
import { parseCidr } from '../../../constructs/private/cidr';
import { onlyResource, resourceList, resources, synthConstruct } from '../../support/synth';

const base = { name: 'surgeguard-prod-use1', region: 'us-east-1', cidrBlock: '10.30.0.0/16' } as const;

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a)!;
  const y = parseCidr(b)!;
  return x.first <= y.last && y.first <= x.last;
}

describe('subnetCidr', () => {
  it('cuts a CIDR into equal parts', () => {
    expect(subnetCidr('10.30.0.0/16', 2, 0)).toBe('10.30.0.0/18');
    expect(subnetCidr('10.30.0.0/16', 2, 3)).toBe('10.30.192.0/18');
    expect(subnetCidr(subnetCidr('10.30.0.0/16', 2, 3), 2, 2)).toBe('10.30.224.0/20');
    expect(subnetCidr('10.40.16.0/20', 2, 1)).toBe('10.40.20.0/22');
  });
  it('refuses parts smaller than /28 and indexes out of range', () => {
    expect(() => subnetCidr('10.0.0.0/26', 3, 0)).toThrow('/29 is smaller than the /28 AWS allows');
    expect(() => subnetCidr('10.0.0.0/16', 2, 4)).toThrow('index 4 outside 0..3');
  });
});

describe('Network', () => {
  it('spreads public and private subnets over three zones with disjoint CIDRs', () => {
    const tf = synthConstruct((s) => new Network(s, 'net', base));
    expect(onlyResource(tf, 'aws_vpc')).toMatchObject({ cidr_block: '10.30.0.0/16', enable_dns_hostnames: true, enable_dns_support: true });
    const subnets = resourceList(tf, 'aws_subnet');
    const tier = (t: string) => subnets.filter((s) => s.tags['surgeguard.io/tier'] === t);
    expect(tier('private').map((s) => s.cidr_block)).toEqual(['10.30.0.0/18', '10.30.64.0/18', '10.30.128.0/18']);
    expect(tier('public').map((s) => s.cidr_block)).toEqual(['10.30.192.0/20', '10.30.208.0/20', '10.30.224.0/20']);
    const zones = Object.keys(tf.data!.aws_availability_zones)[0];
    expect(tier('private').map((s) => s.availability_zone)).toEqual([0, 1, 2].map((i) => `\${element(data.aws_availability_zones.${zones}.names, ${i})}`));
    expect(tier('public').map((s) => s.availability_zone)).toEqual(tier('private').map((s) => s.availability_zone));
    for (const s of subnets) expect(s.map_public_ip_on_launch).toBe(false);
    for (const s of tier('public')) expect(s.tags['kubernetes.io/role/elb']).toBe('1');
    for (const s of tier('private')) expect(s.tags['kubernetes.io/role/internal-elb']).toBe('1');
  });

  it('gives the metrics collector a /28 per zone of its own, from the sixteenth nothing else uses, with only the local route', () => {
    for (const [cidrBlock, availabilityZoneCount, expected] of [
      ['10.30.0.0/16', 3, ['10.30.240.0/28', '10.30.240.16/28', '10.30.240.32/28']],
      ['10.40.16.0/20', 2, ['10.40.31.0/28', '10.40.31.16/28']],
    ] as const) {
      const tf = synthConstruct((s) => {
        const net = new Network(s, 'net', { ...base, cidrBlock, availabilityZoneCount });
        expect(net.scraperSubnetCidrs).toEqual(expected);
        expect(net.scraperSubnetIds).toHaveLength(availabilityZoneCount);
      });
      const subnets = resourceList(tf, 'aws_subnet');
      const scraper = subnets.filter((s) => s.tags['surgeguard.io/tier'] === 'scraper');
      expect(scraper.map((s) => s.cidr_block)).toEqual(expected);
      expect(scraper.map((s) => s.availability_zone)).toEqual(subnets.filter((s) => s.tags['surgeguard.io/tier'] === 'private').map((s) => s.availability_zone));
      // No pod ever takes an address there: every other subnet is disjoint from them.
      const others = subnets.filter((s) => s.tags['surgeguard.io/tier'] !== 'scraper').map((s) => s.cidr_block as string);
      for (const c of expected) for (const o of others) expect(overlaps(c, o)).toBe(false);
      // Their own route table, with no route at all (the VPC-local route is implicit): no NAT, no internet.
      const tables = resources(tf, 'aws_route_table');
      const scraperTable = Object.keys(tables).find((id) => tables[id].tags.Name.endsWith('-scraper'))!;
      const associations = resourceList(tf, 'aws_route_table_association').filter((a) => a.route_table_id === `\${aws_route_table.${scraperTable}.id}`);
      expect(associations).toHaveLength(availabilityZoneCount);
      expect(resourceList(tf, 'aws_route').filter((r) => r.route_table_id === `\${aws_route_table.${scraperTable}.id}`)).toEqual([]);
    }
  });

  it('puts a NAT gateway in every zone and routes each private subnet through its own', () => {
    const tf = synthConstruct((s) => new Network(s, 'net', base));
    const nats = resources(tf, 'aws_nat_gateway');
    expect(Object.keys(nats)).toHaveLength(3);
    expect(resourceList(tf, 'aws_eip')).toHaveLength(3);
    const natRoutes = resourceList(tf, 'aws_route').filter((r) => r.nat_gateway_id);
    expect(natRoutes.map((r) => r.nat_gateway_id)).toEqual(Object.keys(nats).map((id) => `\${aws_nat_gateway.${id}.id}`));
    const igwRoutes = resourceList(tf, 'aws_route').filter((r) => r.gateway_id);
    expect(igwRoutes).toHaveLength(1);
  });

  it('shares one NAT gateway across two zones when asked (dev)', () => {
    const tf = synthConstruct((s) => new Network(s, 'net', { ...base, availabilityZoneCount: 2, natGateways: 'single' }));
    const nats = Object.keys(resources(tf, 'aws_nat_gateway'));
    expect(nats).toHaveLength(1);
    expect(resourceList(tf, 'aws_subnet')).toHaveLength(6);
    const natRoutes = resourceList(tf, 'aws_route').filter((r) => r.nat_gateway_id);
    expect(natRoutes.map((r) => r.nat_gateway_id)).toEqual([`\${aws_nat_gateway.${nats[0]}.id}`, `\${aws_nat_gateway.${nats[0]}.id}`]);
  });

  it('adds an S3 gateway endpoint and ECR, STS and Logs interface endpoints with private DNS', () => {
    const tf = synthConstruct((s) => new Network(s, 'net', base));
    const endpoints = resourceList(tf, 'aws_vpc_endpoint');
    const gateway = endpoints.filter((e) => e.vpc_endpoint_type === 'Gateway');
    expect(gateway.map((e) => e.service_name)).toEqual(['com.amazonaws.us-east-1.s3']);
    expect(gateway[0].route_table_ids).toHaveLength(3);
    const interfaces = endpoints.filter((e) => e.vpc_endpoint_type === 'Interface');
    expect(interfaces.map((e) => e.service_name).sort()).toEqual(['ecr.api', 'ecr.dkr', 'logs', 'sts'].map((s) => `com.amazonaws.us-east-1.${s}`));
    for (const e of interfaces) {
      expect(e.private_dns_enabled).toBe(true);
      expect(e.subnet_ids).toHaveLength(3);
    }
    const https = onlyResource(tf, 'aws_vpc_security_group_ingress_rule');
    expect(https).toMatchObject({ from_port: 443, to_port: 443, cidr_ipv4: '10.30.0.0/16' });
  });

  it('logs all VPC traffic to a log group encrypted with a rotated customer-managed key', () => {
    const tf = synthConstruct((s) => new Network(s, 'net', { ...base, flowLogRetentionDays: 90 }));
    const key = onlyResource(tf, 'aws_kms_key');
    expect(key.enable_key_rotation).toBe(true);
    const group = onlyResource(tf, 'aws_cloudwatch_log_group');
    expect(group).toMatchObject({ name: '/surgeguard/surgeguard-prod-use1/vpc-flow-logs', retention_in_days: 90 });
    expect(group.kms_key_id).toMatch(/^\$\{aws_kms_key\..+\.arn\}$/);
    const flow = onlyResource(tf, 'aws_flow_log');
    expect(flow).toMatchObject({ traffic_type: 'ALL', log_destination_type: 'cloud-watch-logs' });
    expect(flow.log_destination).toMatch(/aws_cloudwatch_log_group\..+\.arn/);
  });

  it('locks down the default security group', () => {
    const tf = synthConstruct((s) => new Network(s, 'net', base));
    const sg = onlyResource(tf, 'aws_default_security_group');
    expect(sg.ingress).toBeUndefined();
    expect(sg.egress).toBeUndefined();
  });

  it.each([
    [{ cidrBlock: '10.30.0.0/24' }, 'cidrBlock "10.30.0.0/24" must be an IPv4 CIDR between /16 and /20'],
    [{ cidrBlock: 'ten' }, 'cidrBlock "ten" must be an IPv4 CIDR'],
    [{ availabilityZoneCount: 4 as 3 }, 'availabilityZoneCount must be 2 or 3, got 4'],
    [{ flowLogRetentionDays: 42 }, 'flowLogRetentionDays 42 is not a CloudWatch Logs retention value'],
    [{ interfaceEndpoints: ['sts', 'sts'] }, 'interfaceEndpoints lists a service twice'],
    [{ name: 'Upper' }, 'name "Upper" must be'],
  ])('rejects invalid props %j', (override, message) => {
    expect(() => synthConstruct((s) => new Network(s, 'net', { ...base, ...override }))).toThrow(`Network net: ${message}`);
  });
});
