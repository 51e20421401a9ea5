import { TerraformOutput, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { InferenceCluster } from '../constructs/inference-cluster';
import { Network } from '../constructs/network';
import { RegionalLoadBalancer } from '../constructs/regional-load-balancer';
import { EnvironmentConfig, RegionConfig } from '../envs/types';
import { addAwsProvider, addBackend, shortRegion, stackNames } from './common';

export interface PlatformStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
  /** The region of this cell; one of `environment.regions`. */
  readonly region: RegionConfig;
  /** Route 53 zone for certificate validation and the regional record (the DNS stack's zone or `environment.hostedZoneId`). */
  readonly hostedZoneId: string;
}

/**
 * `<env>-<region>`: one active-active cell without Kubernetes resources — network, EKS cluster with its
 * node groups, and the NLB -> ALB entry in front of the proxy NodePort on the CPU nodes. Data stores and
 * CloudWatch monitoring are added here too; in-cluster resources go to the workloads stack.
 */
export class PlatformStack extends TerraformStack {
  /** The environment this cell belongs to. */
  public readonly environment: EnvironmentConfig;
  /** The region config of this cell. */
  public readonly region: RegionConfig;
  /** Base name of the cell's resources: `surgeguard-<env>-<short region>`. */
  public readonly baseName: string;
  /** Public DNS name of this region only: `<region>.<domain>`. */
  public readonly regionalDomainName: string;
  /** The VPC and subnets. */
  public readonly network: Network;
  /** The EKS cluster and node groups. */
  public readonly cluster: InferenceCluster;
  /** The NLB -> ALB entry. */
  public readonly loadBalancer: RegionalLoadBalancer;

  constructor(scope: Construct, props: PlatformStackProps) {
    const env = props.environment;
    const region = props.region;
    const name = stackNames.platform(env.name, region.region);
    super(scope, name);
    this.environment = env;
    this.region = region;
    const short = shortRegion(region.region);
    this.baseName = `surgeguard-${env.name}-${short}`;
    this.regionalDomainName = `${region.region}.${env.domain}`;
    addAwsProvider(this, env, region.region);
    addBackend(this, env, name);

    this.network = new Network(this, 'network', {
      name: this.baseName,
      region: region.region,
      cidrBlock: region.vpcCidr,
      availabilityZoneCount: region.azCount,
      natGateways: region.natGateways,
      flowLogRetentionDays: env.logRetentionDays,
    });
    this.cluster = new InferenceCluster(this, 'cluster', {
      name: this.baseName,
      region: region.region,
      kubernetesVersion: env.kubernetesVersion,
      subnetIds: this.network.privateSubnetIds,
      publicAccessCidrs: env.clusterPublicAccessCidrs,
      cpuNodes: region.cpuNodes,
      gpuOnDemand: region.gpu.onDemand,
      gpuSpot: region.gpu.spot,
      logRetentionDays: env.logRetentionDays,
    });
    this.loadBalancer = new RegionalLoadBalancer(this, 'entry', {
      name: `${env.name}-${short}`,
      vpcId: this.network.vpcId,
      publicSubnetIds: this.network.publicSubnetIds,
      privateSubnetIds: this.network.privateSubnetIds,
      domainName: env.domain,
      certificateArn: region.certificateArn,
      hostedZoneId: props.hostedZoneId,
      regionalDomainName: this.regionalDomainName,
      targetSecurityGroupId: this.cluster.clusterSecurityGroupId,
      targetAutoScalingGroupNames: [this.cluster.cpuAutoScalingGroupName],
      deletionProtection: env.deletionProtection,
    });

    const out = (id: string, value: unknown, description: string) => new TerraformOutput(this, id, { value, description });
    out('vpc_id', this.network.vpcId, 'VPC of the cell');
    out('private_subnet_ids', this.network.privateSubnetIds, 'Private subnets (compute and data)');
    out('cluster_name', this.cluster.clusterName, 'EKS cluster name (aws eks update-kubeconfig --name ...)');
    out('cluster_endpoint', this.cluster.clusterEndpoint, 'Kubernetes API endpoint (private unless public CIDRs are configured)');
    out('cluster_oidc_provider_arn', this.cluster.oidcProvider.arn, 'IAM OIDC provider for IRSA');
    out('nlb_dns_name', this.loadBalancer.dnsName, 'Public NLB of the region');
    out('alb_dns_name', this.loadBalancer.alb.dnsName, 'Internal ALB behind the NLB');
    out('static_ips', this.loadBalancer.staticAddresses.map((e) => e.publicIp), 'Static public addresses of the NLB, one per zone');
    out('regional_domain_name', this.regionalDomainName, 'DNS name of this region only');
  }
}
