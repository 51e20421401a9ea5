import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { DataAwsAvailabilityZones } from '@cdktf/provider-aws/lib/data-aws-availability-zones';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { accountAdministersKey, logsEncryptLogGroup } from '../private/kms-key-policy';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { DefaultSecurityGroup } from '@cdktf/provider-aws/lib/default-security-group';
import { Eip } from '@cdktf/provider-aws/lib/eip';
import { FlowLog } from '@cdktf/provider-aws/lib/flow-log';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { NatGateway } from '@cdktf/provider-aws/lib/nat-gateway';
import { Route } from '@cdktf/provider-aws/lib/route';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { Subnet } from '@cdktf/provider-aws/lib/subnet';
import { Vpc } from '@cdktf/provider-aws/lib/vpc';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { parseCidr } from '../private/cidr';
import { PropsValidator } from '../private/validation';

/** Interface endpoints created by default: what EKS nodes pull and call without a NAT hop. */
export const DEFAULT_INTERFACE_ENDPOINTS: readonly string[] = ['ecr.api', 'ecr.dkr', 'sts', 'logs'];

/** What `Network` builds: the VPC's range and zones, NAT, endpoints, flow-log retention, tags. */
export interface NetworkProps {
  /** Name prefix of every resource (`Name` tags, log group, role). Lower-case letters, digits, dashes. */
  readonly name: string;
  /** AWS region the VPC lives in; names the VPC endpoint services and the CloudWatch Logs principal. */
  readonly region: string;
  /**
   * IPv4 CIDR of the VPC, between /16 and /20. The first `availabilityZoneCount` quarters become the
   * private subnets (compute and data: EKS pods take VPC addresses, so they get the room); the last
   * quarter is cut into sixteenths of the VPC: the first ones are the public subnets (load balancers
   * only), and the last sixteenth holds one /28 per zone for the metrics collector (`scraperSubnets`).
   * @see https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html
   */
  readonly cidrBlock: string;
  /**
   * Availability zones to spread over (the first N zones of the region that need no opt-in).
   * @default 3
   */
  readonly availabilityZoneCount?: 2 | 3;
  /**
   * `per-az`: one NAT gateway per zone, so losing a zone does not cut the others off the internet.
   * `single`: one shared NAT gateway (cheaper; for development only).
   * @default 'per-az'
   */
  readonly natGateways?: 'per-az' | 'single';
  /**
   * Days to keep VPC flow logs (a CloudWatch Logs retention value).
   * @default 30
   */
  readonly flowLogRetentionDays?: number;
  /**
   * Interface VPC endpoints (service suffixes after `com.amazonaws.<region>.`), placed in the private
   * subnets with private DNS. An S3 gateway endpoint is always added to the private route tables.
   * @default DEFAULT_INTERFACE_ENDPOINTS (ecr.api, ecr.dkr, sts, logs)
   */
  readonly interfaceEndpoints?: readonly string[];
  /** Extra tags on every resource of the network. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Splits `cidr` into 2^bits equal parts and returns part `index` (deterministic, done at synth). */
export function subnetCidr(cidr: string, bits: number, index: number): string {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`subnetCidr: "${cidr}" is not a CIDR block`);
  const prefix = parsed.prefix + bits;
  if (prefix > 28) throw new Error(`subnetCidr: /${prefix} is smaller than the /28 AWS allows`);
  if (index < 0 || index >= 2 ** bits) throw new Error(`subnetCidr: index ${index} outside 0..${2 ** bits - 1}`);
  const start = parsed.first + index * 2 ** (32 - prefix);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256);
  return `${octets.join('.')}/${prefix}`;
}

/**
 * A VPC laid out for one surgeguard region: public subnets for load balancers only, private subnets
 * for compute and data, NAT per zone (or one shared), an S3 gateway endpoint plus interface endpoints
 * that keep image pulls and AWS API calls off the NAT, and flow logs to a KMS-encrypted log group.
 */
export class Network extends Construct {
  /** The VPC. */
  public readonly vpc: Vpc;
  /** Id of the VPC. */
  public readonly vpcId: string;
  /** CIDR of the VPC. */
  public readonly cidrBlock: string;
  /** Number of availability zones used. */
  public readonly availabilityZoneCount: number;
  /** NAT layout in effect. */
  public readonly natGateways: 'per-az' | 'single';
  /** Availability zone names, one per subnet pair (tokens resolved at plan). */
  public readonly availabilityZones: string[];
  /** Public subnets (load balancers and NAT gateways only; no public IPs on launch). */
  public readonly publicSubnets: Subnet[];
  /** Private subnets (nodes, pods, data stores). */
  public readonly privateSubnets: Subnet[];
  /** Ids of `publicSubnets`, in zone order. */
  public readonly publicSubnetIds: string[];
  /** Ids of `privateSubnets`, in zone order. */
  public readonly privateSubnetIds: string[];
  /**
   * One /28 per zone, carved from the last sixteenth of the VPC (which nothing else uses), for the
   * network interfaces of the Amazon Managed Prometheus collector only. No node is launched in them,
   * so no pod IP (VPC CNI) is ever taken from them: a NetworkPolicy `ipBlock` of these CIDRs matches
   * the collector and nothing else. Their route table has only the implicit local route: the
   * collector reaches the API server and the pods inside the VPC, and AWS delivers what it scrapes
   * to the workspace over its own network, not through these subnets.
   */
  public readonly scraperSubnets: Subnet[];
  /** Ids of `scraperSubnets`, in zone order. */
  public readonly scraperSubnetIds: string[];
  /** CIDRs of `scraperSubnets`, in zone order (known at synth). */
  public readonly scraperSubnetCidrs: string[];
  /** Route tables of the private subnets, one per zone. */
  public readonly privateRouteTables: RouteTable[];
  /** The NAT gateways (one per zone, or one). */
  public readonly natGatewayResources: NatGateway[];
  /** Security group of the interface endpoints (HTTPS from the VPC). */
  public readonly endpointSecurityGroup: SecurityGroup;
  /** Customer-managed KMS key (rotated yearly) encrypting the flow-log group. */
  public readonly logKey: KmsKey;
  /** Log group receiving the VPC flow logs. */
  public readonly flowLogGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const v = new PropsValidator('Network', id);
    v.matches('name', props.name, /^[a-z][a-z0-9-]{0,39}$/, `"${props.name}" must be 1-40 lower-case letters, digits or dashes`);
    // Not token-aware on purpose: the subnet plan is computed from the block at synth.
    const range = parseCidr(props.cidrBlock);
    if (!range || range.prefix < 16 || range.prefix > 20) v.fail('cidrBlock', `"${props.cidrBlock}" must be an IPv4 CIDR between /16 and /20`);
    this.availabilityZoneCount = props.availabilityZoneCount ?? 3;
    // Not token-aware either: the number of subnets is decided at synth.
    if (this.availabilityZoneCount !== 2 && this.availabilityZoneCount !== 3) v.fail('availabilityZoneCount', `must be 2 or 3, got ${String(props.availabilityZoneCount)}`);
    this.natGateways = props.natGateways ?? 'per-az';
    const retention = props.flowLogRetentionDays ?? 30;
    v.logRetention('flowLogRetentionDays', retention);
    const endpoints = props.interfaceEndpoints ?? DEFAULT_INTERFACE_ENDPOINTS;
    v.unique('interfaceEndpoints', endpoints, () => 'lists a service twice');
    this.cidrBlock = props.cidrBlock;
    const name = props.name;
    const tags = (extra: Record<string, string>) => ({ ...props.tags, ...extra });

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: props.cidrBlock,
      enableDnsHostnames: true,
      enableDnsSupport: true,
      tags: tags({ Name: name }),
    });
    this.vpcId = this.vpc.id;

    // Lock down the default security group: nothing should use it, and if something does, it gets no traffic.
    new DefaultSecurityGroup(this, 'default-sg', { vpcId: this.vpc.id, tags: tags({ Name: `${name}-default-deny` }) });

    const zones = new DataAwsAvailabilityZones(this, 'zones', {
      state: 'available',
      filter: [{ name: 'opt-in-status', values: ['opt-in-not-required'] }],
    });
    this.availabilityZones = [];
    for (let i = 0; i < this.availabilityZoneCount; i++) this.availabilityZones.push(Fn.element(zones.names, i));

    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id, tags: tags({ Name: name }) });
    const publicRoutes = new RouteTable(this, 'public-rt', { vpcId: this.vpc.id, tags: tags({ Name: `${name}-public` }) });
    new Route(this, 'public-default-route', {
      routeTableId: publicRoutes.id,
      destinationCidrBlock: '0.0.0.0/0',
      gatewayId: igw.id,
    });

    this.publicSubnets = [];
    this.privateSubnets = [];
    this.privateRouteTables = [];
    this.natGatewayResources = [];
    for (let i = 0; i < this.availabilityZoneCount; i++) {
      const az = this.availabilityZones[i];
      const pub = new Subnet(this, `public-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: subnetCidr(subnetCidr(props.cidrBlock, 2, 3), 2, i),
        mapPublicIpOnLaunch: false,
        tags: tags({ Name: `${name}-public-${i}`, 'kubernetes.io/role/elb': '1', 'surgeguard.io/tier': 'public' }),
      });
      new RouteTableAssociation(this, `public-rta-${i}`, { subnetId: pub.id, routeTableId: publicRoutes.id });
      this.publicSubnets.push(pub);

      const priv = new Subnet(this, `private-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: az,
        cidrBlock: subnetCidr(props.cidrBlock, 2, i),
        mapPublicIpOnLaunch: false,
        tags: tags({ Name: `${name}-private-${i}`, 'kubernetes.io/role/internal-elb': '1', 'surgeguard.io/tier': 'private' }),
      });
      this.privateSubnets.push(priv);

      if (this.natGateways === 'per-az' || i === 0) {
        const eip = new Eip(this, `nat-eip-${i}`, { domain: 'vpc', tags: tags({ Name: `${name}-nat-${i}` }) });
        this.natGatewayResources.push(
          new NatGateway(this, `nat-${i}`, {
            allocationId: eip.allocationId,
            subnetId: pub.id,
            tags: tags({ Name: `${name}-nat-${i}` }),
            dependsOn: [igw],
          }),
        );
      }
      const rt = new RouteTable(this, `private-rt-${i}`, { vpcId: this.vpc.id, tags: tags({ Name: `${name}-private-${i}` }) });
      new Route(this, `private-default-route-${i}`, {
        routeTableId: rt.id,
        destinationCidrBlock: '0.0.0.0/0',
        natGatewayId: this.natGatewayResources[this.natGateways === 'per-az' ? i : 0].id,
      });
      new RouteTableAssociation(this, `private-rta-${i}`, { subnetId: priv.id, routeTableId: rt.id });
      this.privateRouteTables.push(rt);
    }
    this.publicSubnetIds = this.publicSubnets.map((s) => s.id);
    this.privateSubnetIds = this.privateSubnets.map((s) => s.id);

    // The collector's subnets: the last sixteenth of the VPC cut into /28s, one per zone, local route only.
    const collectorRange = subnetCidr(subnetCidr(props.cidrBlock, 2, 3), 2, 3);
    const collectorBits = 28 - (parseCidr(collectorRange)?.prefix ?? 28);
    const scraperRoutes = new RouteTable(this, 'scraper-rt', { vpcId: this.vpc.id, tags: tags({ Name: `${name}-scraper` }) });
    this.scraperSubnets = [];
    this.scraperSubnetCidrs = [];
    for (let i = 0; i < this.availabilityZoneCount; i++) {
      const cidr = subnetCidr(collectorRange, collectorBits, i);
      const subnet = new Subnet(this, `scraper-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: this.availabilityZones[i],
        cidrBlock: cidr,
        mapPublicIpOnLaunch: false,
        tags: tags({ Name: `${name}-scraper-${i}`, 'surgeguard.io/tier': 'scraper' }),
      });
      new RouteTableAssociation(this, `scraper-rta-${i}`, { subnetId: subnet.id, routeTableId: scraperRoutes.id });
      this.scraperSubnets.push(subnet);
      this.scraperSubnetCidrs.push(cidr);
    }
    this.scraperSubnetIds = this.scraperSubnets.map((s) => s.id);

    // Endpoints: S3 (image layers from ECR live in S3) as a free gateway endpoint; the rest as interfaces.
    new VpcEndpoint(this, 'endpoint-s3', {
      vpcId: this.vpc.id,
      serviceName: `com.amazonaws.${props.region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: this.privateRouteTables.map((rt) => rt.id),
      tags: tags({ Name: `${name}-s3` }),
    });
    this.endpointSecurityGroup = new SecurityGroup(this, 'endpoint-sg', {
      name: `${name}-endpoints`,
      description: 'HTTPS from the VPC to the interface endpoints',
      vpcId: this.vpc.id,
      tags: tags({ Name: `${name}-endpoints` }),
    });
    new VpcSecurityGroupIngressRule(this, 'endpoint-sg-https', {
      securityGroupId: this.endpointSecurityGroup.id,
      description: 'HTTPS from inside the VPC',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      cidrIpv4: props.cidrBlock,
    });
    for (const service of endpoints) {
      new VpcEndpoint(this, `endpoint-${service.replace(/\./g, '-')}`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${props.region}.${service}`,
        vpcEndpointType: 'Interface',
        privateDnsEnabled: true,
        subnetIds: this.privateSubnetIds,
        securityGroupIds: [this.endpointSecurityGroup.id],
        tags: tags({ Name: `${name}-${service}` }),
      });
    }

    // Flow logs to a log group encrypted with a customer-managed, rotated key.
    const partition = new DataAwsPartition(this, 'partition');
    const account = new DataAwsCallerIdentity(this, 'account');
    const logGroupName = `/surgeguard/${name}/vpc-flow-logs`;
    const keyPolicy = new DataAwsIamPolicyDocument(this, 'log-key-policy', {
      statement: [
        accountAdministersKey(partition.partition, account.accountId),
        logsEncryptLogGroup({ sid: 'CloudWatchLogsUsesForFlowLogs', arnPartition: partition.partition, region: props.region, accountId: account.accountId, logGroupName }),
      ],
    });
    this.logKey = new KmsKey(this, 'log-key', {
      description: `${name}: VPC flow logs`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: keyPolicy.json,
      tags: tags({ Name: `${name}-logs` }),
    });
    new KmsAlias(this, 'log-key-alias', { name: `alias/${name}-logs`, targetKeyId: this.logKey.keyId });
    this.flowLogGroup = new CloudwatchLogGroup(this, 'flow-log-group', {
      name: logGroupName,
      retentionInDays: retention,
      kmsKeyId: this.logKey.arn,
      tags: tags({}),
    });
    const assume = new DataAwsIamPolicyDocument(this, 'flow-log-assume', {
      statement: [
        {
          actions: ['sts:AssumeRole'],
          principals: [{ type: 'Service', identifiers: ['vpc-flow-logs.amazonaws.com'] }],
          condition: [{ test: 'StringEquals', variable: 'aws:SourceAccount', values: [account.accountId] }],
        },
      ],
    });
    const role = new IamRole(this, 'flow-log-role', {
      name: `${name}-vpc-flow-logs`,
      assumeRolePolicy: assume.json,
      tags: tags({}),
    });
    const write = new DataAwsIamPolicyDocument(this, 'flow-log-write', {
      statement: [
        {
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          resources: [this.flowLogGroup.arn, `${this.flowLogGroup.arn}:*`],
        },
      ],
    });
    new IamRolePolicy(this, 'flow-log-role-policy', { name: 'write-flow-logs', role: role.id, policy: write.json });
    new FlowLog(this, 'flow-log', {
      vpcId: this.vpc.id,
      trafficType: 'ALL',
      logDestinationType: 'cloud-watch-logs',
      logDestination: this.flowLogGroup.arn,
      iamRoleArn: role.arn,
      maxAggregationInterval: 60,
      tags: tags({ Name: name }),
    });
  }
}
