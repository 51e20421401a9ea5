import { TerraformIterator, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AcmCertificate } from '@cdktf/provider-aws/lib/acm-certificate';
import { AcmCertificateValidation } from '@cdktf/provider-aws/lib/acm-certificate-validation';
import { AutoscalingAttachment } from '@cdktf/provider-aws/lib/autoscaling-attachment';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsElbServiceAccount } from '@cdktf/provider-aws/lib/data-aws-elb-service-account';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { Eip } from '@cdktf/provider-aws/lib/eip';
import { Lb } from '@cdktf/provider-aws/lib/lb';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener';
import { LbListenerRule } from '@cdktf/provider-aws/lib/lb-listener-rule';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group';
import { LbTargetGroupAttachment } from '@cdktf/provider-aws/lib/lb-target-group-attachment';
import { Route53Record } from '@cdktf/provider-aws/lib/route53-record';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block';
import { S3BucketServerSideEncryptionConfigurationA as S3BucketServerSideEncryptionConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration';
import { S3BucketVersioningA as S3BucketVersioning } from '@cdktf/provider-aws/lib/s3-bucket-versioning';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule';
import { PROXY_CONTRACT } from '../../contract/service';
import { FAILOVER_BUDGET } from '../../contract/failover-budget';
import { PropsValidator } from '../private/validation';

/** TLS 1.3 + 1.2 with forward-secret AEAD ciphers only: the current recommended ELB policy. */
export const DEFAULT_SSL_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

/** Paths the ALB forwards to the proxy; everything else (e.g. `/metrics`) gets a 404 at the edge. */
export const DEFAULT_PUBLIC_PATHS: readonly string[] = ['/v1/*', PROXY_CONTRACT.healthPath, PROXY_CONTRACT.readyPath];

export interface RegionalLoadBalancerProps {
  /** Name prefix of the load balancers, target groups and bucket (1-24 lower-case letters, digits, dashes: ELB names are limited to 32). */
  readonly name: string;
  /** VPC of the load balancers and the targets. */
  readonly vpcId: string;
  /** Public subnets, one per zone: the NLB gets one Elastic IP in each (static addresses for allow-lists). */
  readonly publicSubnetIds: string[];
  /** Private subnets, one per zone, for the internal ALB. */
  readonly privateSubnetIds: string[];
  /** DNS name clients use (the certificate's subject). */
  readonly domainName: string;
  /**
   * ARN of an existing ACM certificate in this region covering `domainName` (and `regionalDomainName`,
   * `additionalCertificateNames`).
   * @default - a certificate is requested and validated through DNS in `hostedZoneId`
   */
  readonly certificateArn?: string;
  /**
   * Route 53 zone for certificate validation records and the `regionalDomainName` record.
   * Required when `certificateArn` is not set.
   * @default - no DNS records are created
   */
  readonly hostedZoneId?: string;
  /**
   * A per-region name (e.g. `us-east-1.api.example.com`) pointing at this region's NLB only — for
   * testing one region or pinning a client to it. Needs `hostedZoneId`.
   * @default - no regional record
   */
  readonly regionalDomainName?: string;
  /**
   * Further names clients reach this region's listener by, added to the created certificate (with
   * their DNS validation records): e.g. the Global Accelerator's `accelerator.<domain>`, whose TLS
   * terminates at this ALB too.
   * @default []
   */
  readonly additionalCertificateNames?: readonly string[];
  /** Security group of the proxy nodes; it gets an ingress rule from the ALB on `targetPort`. */
  readonly targetSecurityGroupId: string;
  /**
   * Auto scaling groups whose instances are registered in the proxy target group (e.g. the EKS CPU
   * node group's), through `aws_autoscaling_attachment`.
   * @default [] - register targets yourself on `proxyTargetGroup`
   */
  readonly targetAutoScalingGroupNames?: string[];
  /** Port of the proxy on every target (its Kubernetes NodePort). @default PROXY_CONTRACT.nodePort (30080) */
  readonly targetPort?: number;
  /** Readiness path the ALB checks on each target. @default PROXY_CONTRACT.readyPath ('/readyz') */
  readonly healthCheckPath?: string;
  /**
   * Path patterns the ALB forwards to the proxy (at most 5 per rule; split into several rules
   * automatically). Other paths get a JSON 404 from the ALB.
   * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html#path-conditions
   * @default DEFAULT_PUBLIC_PATHS ('/v1/*', '/healthz', '/readyz')
   */
  readonly publicPathPatterns?: readonly string[];
  /**
   * Load-balancer cookie stickiness duration in seconds (1-604800). The proxy keeps a user on one
   * upstream by consistent hashing, so stickiness at the ALB is rarely needed.
   * @default - no stickiness
   */
  readonly stickinessDurationSeconds?: number;
  /**
   * TLS policy of the HTTPS listener.
   * @see https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
   * @default DEFAULT_SSL_POLICY
   */
  readonly sslPolicy?: string;
  /** Seconds an idle connection stays open on the ALB (streamed answers keep it busy). @default 120 */
  readonly idleTimeoutSeconds?: number;
  /** CIDRs allowed to connect to the NLB. @default ['0.0.0.0/0'] */
  readonly allowedIngressCidrs?: readonly string[];
  /** Deletion protection on both load balancers. @default false */
  readonly deletionProtection?: boolean;
  /** Days to keep ALB access logs. @default 90 */
  readonly accessLogRetentionDays?: number;
  /** Extra tags on every resource. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The regional entry: a public NLB (L4, one Elastic IP per zone, TCP 443/80) forwarding to an internal
 * ALB (L7: TLS termination with a modern policy, path routing, health checks on the proxy's readiness
 * path, optional stickiness, HTTP→HTTPS redirect, access logs to an encrypted bucket) in front of the
 * proxy fleet's NodePort.
 */
export class RegionalLoadBalancer extends Construct {
  /** The public network load balancer. */
  public readonly nlb: Lb;
  /** The internal application load balancer. */
  public readonly alb: Lb;
  /** DNS name of the NLB (what health checks and DNS records point at). */
  public readonly dnsName: string;
  /** Route 53 zone id of the NLB's DNS name (for alias records). */
  public readonly canonicalHostedZoneId: string;
  /** The Elastic IPs of the NLB, one per zone. */
  public readonly staticAddresses: Eip[];
  /** ALB target group of the proxy fleet (instance targets on `targetPort`). */
  public readonly proxyTargetGroup: LbTargetGroup;
  /** HTTPS listener of the ALB (add listener rules here). */
  public readonly httpsListener: LbListener;
  /** Certificate served by the ALB (created or given). */
  public readonly certificateArn: string;
  /** Security group of the NLB. */
  public readonly nlbSecurityGroup: SecurityGroup;
  /** Security group of the ALB. */
  public readonly albSecurityGroup: SecurityGroup;
  /** Bucket receiving the ALB access logs. */
  public readonly accessLogBucket: S3Bucket;
  /** TLS policy in effect. */
  public readonly sslPolicy: string;
  /** Target port in effect. */
  public readonly targetPort: number;
  /** Health-check path in effect. */
  public readonly healthCheckPath: string;

  constructor(scope: Construct, id: string, props: RegionalLoadBalancerProps) {
    super(scope, id);
    const name = props.name;
    const v = new PropsValidator('RegionalLoadBalancer', id);
    v.matches('name', name, /^[a-z][a-z0-9-]{0,23}$/, `"${name}" must be 1-24 lower-case letters, digits or dashes`);
    if (props.certificateArn === undefined && props.hostedZoneId === undefined) {
      v.fail('certificateArn', 'or hostedZoneId must be set (hostedZoneId validates a new certificate)');
    }
    if (props.regionalDomainName !== undefined && props.hostedZoneId === undefined) v.fail('regionalDomainName', 'needs hostedZoneId');
    v.atLeast('publicSubnetIds', props.publicSubnetIds, 2, 'must list at least two zones');
    v.atLeast('privateSubnetIds', props.privateSubnetIds, 2, 'must list at least two zones');
    this.targetPort = props.targetPort ?? PROXY_CONTRACT.nodePort;
    v.check('targetPort', this.targetPort, (p) => Number.isInteger(p) && p >= 1 && p <= 65535, `${this.targetPort} is not a TCP port`);
    this.healthCheckPath = props.healthCheckPath ?? PROXY_CONTRACT.readyPath;
    v.check('healthCheckPath', this.healthCheckPath, (p) => p.startsWith('/'), `"${this.healthCheckPath}" must start with /`);
    const paths = props.publicPathPatterns ?? DEFAULT_PUBLIC_PATHS;
    v.atLeast('publicPathPatterns', paths, 1, 'must list at least one pattern');
    const sticky = props.stickinessDurationSeconds;
    if (sticky !== undefined) v.check('stickinessDurationSeconds', sticky, (s) => Number.isInteger(s) && s >= 1 && s <= 604800, `${sticky} must be 1-604800`);
    const idle = props.idleTimeoutSeconds ?? 120;
    v.check('idleTimeoutSeconds', idle, (s) => Number.isInteger(s) && s >= 1 && s <= 4000, `${idle} must be 1-4000`);
    this.sslPolicy = props.sslPolicy ?? DEFAULT_SSL_POLICY;
    v.check('sslPolicy', this.sslPolicy, (p) => p.startsWith('ELBSecurityPolicy-TLS13'), `"${this.sslPolicy}" must be a TLS 1.3 policy (ELBSecurityPolicy-TLS13-*)`);
    const retention = props.accessLogRetentionDays ?? 90;
    v.wholeNumber('accessLogRetentionDays', retention, 1);
    const ingressCidrs = props.allowedIngressCidrs ?? ['0.0.0.0/0'];
    v.atLeast('allowedIngressCidrs', ingressCidrs, 1, 'must list at least one CIDR');
    const deletionProtection = props.deletionProtection ?? false;
    const tags = (extra: Record<string, string> = {}) => ({ ...props.tags, ...extra });

    // --- Certificate -------------------------------------------------------------------------
    if (props.certificateArn !== undefined) {
      this.certificateArn = props.certificateArn;
    } else {
      // Every client-facing name: the global one, the regional one, and the accelerator's.
      const sans = [...new Set([...(props.regionalDomainName !== undefined ? [props.regionalDomainName] : []), ...(props.additionalCertificateNames ?? [])])].filter(
        (n) => n !== props.domainName,
      );
      const cert = new AcmCertificate(this, 'certificate', {
        domainName: props.domainName,
        subjectAlternativeNames: sans.length > 0 ? sans : undefined,
        validationMethod: 'DNS',
        keyAlgorithm: 'EC_prime256v1',
        lifecycle: { createBeforeDestroy: true },
        tags: tags({ Name: `${name}-${props.domainName}` }),
      });
      const options = TerraformIterator.fromComplexList(cert.domainValidationOptions, 'domain_name');
      // Every region validates the same names with the same CNAMEs; allowOverwrite lets them share the records.
      const records = new Route53Record(this, 'certificate-validation-record', {
        forEach: options,
        zoneId: props.hostedZoneId!,
        name: options.getString('resource_record_name'),
        type: options.getString('resource_record_type'),
        records: [options.getString('resource_record_value')],
        ttl: 300,
        allowOverwrite: true,
      });
      const validation = new AcmCertificateValidation(this, 'certificate-validation', {
        certificateArn: cert.arn,
        validationRecordFqdns: Token.asList(TerraformIterator.fromResources(records).pluckProperty('fqdn')),
      });
      this.certificateArn = validation.certificateArn;
    }

    // --- Security groups: internet -> NLB -> ALB -> proxy NodePort ----------------------------
    this.nlbSecurityGroup = new SecurityGroup(this, 'nlb-sg', {
      name: `${name}-nlb`,
      description: 'Public NLB: HTTPS and HTTP (redirected) from clients',
      vpcId: props.vpcId,
      tags: tags({ Name: `${name}-nlb` }),
    });
    this.albSecurityGroup = new SecurityGroup(this, 'alb-sg', {
      name: `${name}-alb`,
      description: 'Internal ALB: traffic from the NLB only',
      vpcId: props.vpcId,
      tags: tags({ Name: `${name}-alb` }),
    });
    for (const port of [443, 80]) {
      ingressCidrs.forEach((cidr, i) => {
        new VpcSecurityGroupIngressRule(this, `nlb-in-${port}-${i}`, {
          securityGroupId: this.nlbSecurityGroup.id,
          description: `Clients on ${port}`,
          ipProtocol: 'tcp',
          fromPort: port,
          toPort: port,
          cidrIpv4: cidr,
        });
      });
      new VpcSecurityGroupEgressRule(this, `nlb-out-${port}`, {
        securityGroupId: this.nlbSecurityGroup.id,
        description: `To the ALB on ${port}`,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: this.albSecurityGroup.id,
      });
      new VpcSecurityGroupIngressRule(this, `alb-in-${port}`, {
        securityGroupId: this.albSecurityGroup.id,
        description: `From the NLB on ${port}`,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: this.nlbSecurityGroup.id,
      });
    }
    new VpcSecurityGroupEgressRule(this, 'alb-out-proxy', {
      securityGroupId: this.albSecurityGroup.id,
      description: 'To the proxy NodePort',
      ipProtocol: 'tcp',
      fromPort: this.targetPort,
      toPort: this.targetPort,
      referencedSecurityGroupId: props.targetSecurityGroupId,
    });
    new VpcSecurityGroupIngressRule(this, 'proxy-in-from-alb', {
      securityGroupId: props.targetSecurityGroupId,
      description: `${name} ALB to the proxy NodePort`,
      ipProtocol: 'tcp',
      fromPort: this.targetPort,
      toPort: this.targetPort,
      referencedSecurityGroupId: this.albSecurityGroup.id,
    });

    // --- Access logs: ALB access logs support SSE-S3 only (not SSE-KMS) --------------------------
    this.accessLogBucket = new S3Bucket(this, 'access-logs', {
      bucketPrefix: `${name}-alb-logs-`,
      forceDestroy: !deletionProtection,
      tags: tags({ Name: `${name}-alb-logs` }),
    });
    new S3BucketOwnershipControls(this, 'access-logs-ownership', {
      bucket: this.accessLogBucket.id,
      rule: { objectOwnership: 'BucketOwnerEnforced' },
    });
    new S3BucketPublicAccessBlock(this, 'access-logs-public-access', {
      bucket: this.accessLogBucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketServerSideEncryptionConfiguration(this, 'access-logs-encryption', {
      bucket: this.accessLogBucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    });
    new S3BucketVersioning(this, 'access-logs-versioning', {
      bucket: this.accessLogBucket.id,
      versioningConfiguration: { status: 'Enabled' },
    });
    new S3BucketLifecycleConfiguration(this, 'access-logs-lifecycle', {
      bucket: this.accessLogBucket.id,
      rule: [
        {
          id: 'expire',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          expiration: [{ days: retention }],
          noncurrentVersionExpiration: [{ noncurrentDays: 7 }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        },
      ],
    });
    const elbAccount = new DataAwsElbServiceAccount(this, 'elb-account');
    const account = new DataAwsCallerIdentity(this, 'account');
    const logObjects = `${this.accessLogBucket.arn}/alb/AWSLogs/${account.accountId}/*`;
    const bucketPolicy = new DataAwsIamPolicyDocument(this, 'access-logs-policy-doc', {
      statement: [
        {
          sid: 'ElbWritesAccessLogs',
          actions: ['s3:PutObject'],
          resources: [logObjects],
          // Regions opened before August 2022 deliver as the regional ELB account; newer ones as the service.
          principals: [
            { type: 'AWS', identifiers: [elbAccount.arn] },
            { type: 'Service', identifiers: ['logdelivery.elasticloadbalancing.amazonaws.com'] },
          ],
        },
        {
          sid: 'DenyInsecureTransport',
          effect: 'Deny',
          actions: ['s3:*'],
          resources: [this.accessLogBucket.arn, `${this.accessLogBucket.arn}/*`],
          principals: [{ type: '*', identifiers: ['*'] }],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
      ],
    });
    const policy = new S3BucketPolicy(this, 'access-logs-policy', { bucket: this.accessLogBucket.id, policy: bucketPolicy.json });

    // --- ALB (L7) -------------------------------------------------------------------------------
    this.alb = new Lb(this, 'alb', {
      name: `${name}-alb`,
      loadBalancerType: 'application',
      internal: true,
      subnets: props.privateSubnetIds,
      securityGroups: [this.albSecurityGroup.id],
      dropInvalidHeaderFields: true,
      desyncMitigationMode: 'strictest',
      idleTimeout: idle,
      enableDeletionProtection: deletionProtection,
      accessLogs: { bucket: this.accessLogBucket.id, prefix: 'alb', enabled: true },
      tags: tags({ Name: `${name}-alb` }),
      dependsOn: [policy],
    });
    this.proxyTargetGroup = new LbTargetGroup(this, 'proxy-tg', {
      name: `${name}-proxy`,
      vpcId: props.vpcId,
      targetType: 'instance',
      protocol: 'HTTP',
      port: this.targetPort,
      loadBalancingAlgorithmType: 'least_outstanding_requests',
      deregistrationDelay: '60',
      healthCheck: {
        enabled: true,
        protocol: 'HTTP',
        path: this.healthCheckPath,
        port: 'traffic-port',
        matcher: '200',
        interval: FAILOVER_BUDGET.albTarget.intervalSeconds,
        timeout: FAILOVER_BUDGET.albTarget.timeoutSeconds,
        healthyThreshold: FAILOVER_BUDGET.albTarget.healthyThreshold,
        unhealthyThreshold: FAILOVER_BUDGET.albTarget.unhealthyThreshold,
      },
      stickiness: sticky !== undefined ? { type: 'lb_cookie', enabled: true, cookieDuration: sticky } : { type: 'lb_cookie', enabled: false },
      tags: tags({ Name: `${name}-proxy` }),
    });
    (props.targetAutoScalingGroupNames ?? []).forEach((asg, i) => {
      new AutoscalingAttachment(this, `proxy-asg-${i}`, { autoscalingGroupName: asg, lbTargetGroupArn: this.proxyTargetGroup.arn });
    });
    this.httpsListener = new LbListener(this, 'alb-https', {
      loadBalancerArn: this.alb.arn,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: this.sslPolicy,
      certificateArn: this.certificateArn,
      defaultAction: [
        {
          type: 'fixed-response',
          fixedResponse: {
            contentType: 'application/json',
            statusCode: '404',
            messageBody: '{"error":{"message":"not found","type":"invalid_request_error"}}',
          },
        },
      ],
      tags: tags(),
    });
    for (let i = 0; i < paths.length; i += 5) {
      new LbListenerRule(this, `alb-route-${i / 5}`, {
        listenerArn: this.httpsListener.arn,
        priority: 100 + i / 5,
        condition: [{ pathPattern: { values: paths.slice(i, i + 5) } }],
        action: [{ type: 'forward', targetGroupArn: this.proxyTargetGroup.arn }],
        tags: tags(),
      });
    }
    const httpListener = new LbListener(this, 'alb-http', {
      loadBalancerArn: this.alb.arn,
      port: 80,
      protocol: 'HTTP',
      defaultAction: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }],
      tags: tags(),
    });

    // --- NLB (L4) with one static address per zone, forwarding TCP to the ALB ------------------
    this.staticAddresses = props.publicSubnetIds.map(
      (_, i) => new Eip(this, `nlb-eip-${i}`, { domain: 'vpc', tags: tags({ Name: `${name}-nlb-${i}` }) }),
    );
    this.nlb = new Lb(this, 'nlb', {
      name: `${name}-nlb`,
      loadBalancerType: 'network',
      internal: false,
      subnetMapping: props.publicSubnetIds.map((subnetId, i) => ({ subnetId, allocationId: this.staticAddresses[i].allocationId })),
      securityGroups: [this.nlbSecurityGroup.id],
      enableCrossZoneLoadBalancing: true,
      enableDeletionProtection: deletionProtection,
      tags: tags({ Name: `${name}-nlb` }),
    });
    this.dnsName = this.nlb.dnsName;
    this.canonicalHostedZoneId = this.nlb.zoneId;
    for (const port of [443, 80]) {
      // An ALB-type target group forwards to the ALB listener on the same port; it must exist first.
      const listener = port === 443 ? this.httpsListener : httpListener;
      const tg = new LbTargetGroup(this, `nlb-to-alb-${port}`, {
        name: `${name}-alb-${port}`,
        vpcId: props.vpcId,
        targetType: 'alb',
        protocol: 'TCP',
        port,
        healthCheck: {
          enabled: true,
          protocol: 'HTTPS',
          port: '443',
          path: this.healthCheckPath,
          matcher: '200',
          // Global Accelerator follows this target health for NLB endpoints: the failover budget's check.
          interval: FAILOVER_BUDGET.nlbTarget.intervalSeconds,
          timeout: FAILOVER_BUDGET.nlbTarget.timeoutSeconds,
          healthyThreshold: FAILOVER_BUDGET.nlbTarget.healthyThreshold,
          unhealthyThreshold: FAILOVER_BUDGET.nlbTarget.unhealthyThreshold,
        },
        tags: tags({ Name: `${name}-alb-${port}` }),
      });
      new LbTargetGroupAttachment(this, `nlb-to-alb-${port}-attachment`, {
        targetGroupArn: tg.arn,
        targetId: this.alb.arn,
        port,
        dependsOn: [listener],
      });
      new LbListener(this, `nlb-${port}`, {
        loadBalancerArn: this.nlb.arn,
        port,
        protocol: 'TCP',
        defaultAction: [{ type: 'forward', targetGroupArn: tg.arn }],
        tags: tags(),
      });
    }

    if (props.regionalDomainName !== undefined) {
      new Route53Record(this, 'regional-record', {
        zoneId: props.hostedZoneId!,
        name: props.regionalDomainName,
        type: 'A',
        alias: { name: this.nlb.dnsName, zoneId: this.nlb.zoneId, evaluateTargetHealth: true },
      });
    }
  }
}
