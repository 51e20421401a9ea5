/**
 * The prices `npm run cost` and the synth diff's cost delta use: USD, Linux, on-demand list prices
 * of us-east-1 with a multiplier per region, and the usage assumptions behind everything that is
 * billed by traffic. Recorded on the date below from AWS's public pricing pages (EC2 on-demand,
 * including the June 2025 P4/P5 price reduction; ElastiCache; Amazon MQ; EKS; VPC NAT gateway and
 * public IPv4; Elastic Load Balancing; Global Accelerator; Route 53; KMS; Secrets Manager;
 * CloudWatch). Prices change: re-check them and update `asOf` together with the numbers. The
 * estimate is for comparing changes and sizing, not a quote.
 */
export const PRICE_TABLE = {
  asOf: '2026-12-05',
  currency: 'USD',
  hoursPerMonth: 730,
  /**
   * Spot price as a share of on-demand. AWS advertises "up to 90 %" off; GPU families (g5, g6, g6e,
   * p4d, p5) have traded at roughly 30-45 % of on-demand over 2025 in the big regions, so the
   * estimate assumes 35 % (a 65 % discount). The brief's 60-80 % claim sits around it.
   */
  spotPriceRatio: 0.35,
  /** Price multiplier of a region against us-east-1 (EC2-led; approximate for the other services). */
  regionMultiplier: {
    'us-east-1': 1.0, 'us-east-2': 1.0, 'us-west-2': 1.0, 'us-west-1': 1.12,
    'eu-west-1': 1.1, 'eu-central-1': 1.15, 'eu-west-2': 1.15, 'eu-north-1': 1.05,
    'ap-southeast-1': 1.25, 'ap-northeast-1': 1.3, 'ap-south-1': 1.1, 'ap-southeast-2': 1.25,
    'ca-central-1': 1.1, 'sa-east-1': 1.55,
  } as Readonly<Record<string, number>>,
  /** EC2 on-demand, per instance-hour, us-east-1. */
  ec2Hourly: {
    // p5en.48xlarge: 63.296 USD/h in us-east-1 (as listed by dstack's AWS offers, 2026-08).
    'p5.48xlarge': 55.04, 'p5e.48xlarge': 61.6, 'p5en.48xlarge': 63.296, 'p4d.24xlarge': 21.96, 'p4de.24xlarge': 27.45,
    'g6e.xlarge': 1.861, 'g6e.2xlarge': 2.242, 'g6e.4xlarge': 3.004, 'g6e.8xlarge': 4.529,
    'g6e.12xlarge': 10.493, 'g6e.16xlarge': 7.577, 'g6e.24xlarge': 15.066, 'g6e.48xlarge': 30.131,
    'g6.xlarge': 0.805, 'g6.2xlarge': 0.978, 'g6.4xlarge': 1.323, 'g6.8xlarge': 2.014,
    'g6.12xlarge': 4.602, 'g6.16xlarge': 3.397, 'g6.24xlarge': 6.675, 'g6.48xlarge': 13.35,
    'g5.xlarge': 1.006, 'g5.2xlarge': 1.212, 'g5.4xlarge': 1.624, 'g5.8xlarge': 2.448,
    'g5.12xlarge': 5.672, 'g5.16xlarge': 4.096, 'g5.24xlarge': 8.144, 'g5.48xlarge': 16.288,
    'm7i.large': 0.1008, 'm7i.xlarge': 0.2016, 'm7i.2xlarge': 0.4032, 'm7i.4xlarge': 0.8064,
    'm6i.large': 0.096, 'm6i.xlarge': 0.192, 'm6i.2xlarge': 0.384, 'm6i.4xlarge': 0.768,
    'm7a.large': 0.11592, 'm7a.xlarge': 0.23184, 'm7a.2xlarge': 0.46368, 'm7a.4xlarge': 0.92736,
    'm5.large': 0.096, 'm5.xlarge': 0.192, 'm5.2xlarge': 0.384,
    'c7i.large': 0.08925, 'c7i.xlarge': 0.1785, 'c7i.2xlarge': 0.357, 'c7i.4xlarge': 0.714,
    't3.medium': 0.0416, 't3.large': 0.0832, 't3.xlarge': 0.1664,
  } as Readonly<Record<string, number>>,
  /** ElastiCache (Redis OSS) on-demand, per node-hour. */
  elasticacheHourly: {
    'cache.t4g.micro': 0.016, 'cache.t4g.small': 0.032, 'cache.t4g.medium': 0.065,
    'cache.t3.micro': 0.017, 'cache.t3.small': 0.034, 'cache.t3.medium': 0.068,
    'cache.m7g.large': 0.158, 'cache.m7g.xlarge': 0.315, 'cache.m7g.2xlarge': 0.629,
    'cache.r7g.large': 0.219, 'cache.r7g.xlarge': 0.437, 'cache.r7g.2xlarge': 0.873,
    'cache.m6g.large': 0.149, 'cache.m6g.xlarge': 0.298, 'cache.r6g.large': 0.206, 'cache.r6g.xlarge': 0.411,
  } as Readonly<Record<string, number>>,
  /** Amazon MQ for RabbitMQ, per broker-instance-hour (a cluster deployment runs three). */
  mqHourly: {
    'mq.t3.micro': 0.0288, 'mq.m5.large': 0.288, 'mq.m5.xlarge': 0.576, 'mq.m5.2xlarge': 1.152, 'mq.m5.4xlarge': 2.304,
    'mq.m7g.medium': 0.127, 'mq.m7g.large': 0.254, 'mq.m7g.xlarge': 0.508, 'mq.m7g.2xlarge': 1.016,
    'mq.m7g.4xlarge': 2.032, 'mq.m7g.8xlarge': 4.064, 'mq.m7g.12xlarge': 6.096, 'mq.m7g.16xlarge': 8.128,
  } as Readonly<Record<string, number>>,
  /** Amazon MQ storage per GB-month, and the storage a broker instance is assumed to use. */
  mqStorageGbMonth: 0.1,
  mqStorageGbPerInstance: 200,
  eksClusterHourly: 0.1,
  natGatewayHourly: 0.045,
  natGatewayPerGb: 0.045,
  publicIpv4Hourly: 0.005,
  interfaceEndpointHourlyPerAz: 0.01,
  albHourly: 0.0225,
  albLcuHourly: 0.008,
  nlbHourly: 0.0225,
  nlbLcuHourly: 0.006,
  acceleratorHourly: 0.025,
  /** Global Accelerator data-transfer premium, per GB (dominant direction), averaged over source/destination pairs. */
  acceleratorPremiumPerGb: 0.025,
  internetEgressPerGb: 0.09,
  crossAzPerGb: 0.02,
  ebsGp3GbMonth: 0.08,
  route53ZoneMonth: 0.5,
  /** Health check of an AWS endpoint, plus each optional feature (HTTPS, string match, fast interval, latency). */
  route53HealthCheckMonth: 0.5,
  route53HealthCheckFeatureMonth: 1.0,
  kmsKeyMonth: 1.0,
  secretMonth: 0.4,
  cloudwatchAlarmMonth: 0.1,
  /** Usage assumed per region and month (traffic is not in the synth): say so next to every figure. */
  assumptions: {
    /** Responses leaving AWS through the regional load balancers. */
    internetEgressGbPerRegion: 5000,
    /** Traffic through the NAT gateways (image pulls, external providers; S3 goes through the gateway endpoint). */
    natProcessedGbPerRegion: 500,
    /** Traffic between zones (proxy -> model servers, Redis replicas, RabbitMQ quorum replication). */
    crossAzGbPerRegion: 2000,
    /** Average load balancer capacity units per load balancer. */
    lcuPerLoadBalancer: 2,
    /** Share of the internet egress that enters through the accelerator when one is deployed. */
    acceleratorTrafficShare: 0.5,
    /** Root volume when a node group or launch template names none (EKS default). */
    defaultNodeVolumeGb: 20,
  },
} as const;

/** The hourly on-demand price of an EC2 instance type in a region, or undefined when not in the table. */
export function ec2Hourly(instanceType: string, region: string): number | undefined {
  const base = PRICE_TABLE.ec2Hourly[instanceType];
  return base === undefined ? undefined : base * regionMultiplier(region);
}

/** The region's multiplier against us-east-1 (1.2 for a region not in the table, and flagged by the caller). */
export function regionMultiplier(region: string): number {
  return PRICE_TABLE.regionMultiplier[region] ?? 1.2;
}
