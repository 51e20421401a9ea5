import { block, blocks, isReference, isSet, PolicyContext, PolicyResource, PolicyRule } from './model';

/**
 * The policy rules every synth runs (see docs/reviewing-changes.md, "Policy checks"). Each returns
 * what to change. Where AWS allows only its own key or offers no logging for a configuration, the
 * rule skips and says so in its comment, so a reviewer sees the reason next to the rule.
 */

const TLS12_POLICIES = /^(ELBSecurityPolicy-TLS13-1-[23]-|ELBSecurityPolicy-TLS13-1-2-Res-|ELBSecurityPolicy-FS-1-2-|ELBSecurityPolicy-TLS-1-2-|ELBSecurityPolicy-TLS13-1-3-)/;
const WORKLOAD_TYPES = ['kubernetes_deployment_v1', 'kubernetes_daemon_set_v1', 'kubernetes_stateful_set_v1', 'kubernetes_job_v1', 'kubernetes_cron_job_v1', 'kubernetes_pod_v1', 'kubernetes_deployment', 'kubernetes_daemonset', 'kubernetes_stateful_set'];
const ANYWHERE = new Set(['0.0.0.0/0', '::/0']);
const SECRET_ATTRIBUTES = /^(password|auth_token|secret_string|secret_binary|token|api_key|private_key|client_secret|master_password)$/;
const SECRET_ENV = /(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)/i;

/** The pod specs of a Kubernetes workload (deployment, daemon set, job, cron job, pod). */
export function podSpecs(r: PolicyResource): Record<string, unknown>[] {
  const spec = block(r.config.spec);
  if (!spec) return [];
  if (r.type.startsWith('kubernetes_pod')) return [spec];
  if (r.type.startsWith('kubernetes_cron_job')) {
    const job = block(block(block(spec.job_template)?.spec)?.template);
    return blocks(job?.spec);
  }
  return blocks(block(spec.template)?.spec);
}

/** Every container (and init container) of a workload, with its pod spec. */
export function containers(r: PolicyResource): { container: Record<string, unknown>; pod: Record<string, unknown>; init: boolean }[] {
  return podSpecs(r).flatMap((pod) => [
    ...blocks(pod.container).map((container) => ({ container, pod, init: false })),
    ...blocks(pod.init_container).map((container) => ({ container, pod, init: true })),
  ]);
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true';
}

/** A resource of `type` in the stack that configures `target` through its `bucket`/`zone_id`/... argument. */
function companion(ctx: PolicyContext, target: PolicyResource, type: string, attribute: string): PolicyResource[] {
  return ctx.referencing(target, type, attribute);
}

const kmsRule = (id: string, type: string, attribute: string, what: string): PolicyRule => ({
  id,
  title: `${what} encrypted at rest with a customer-managed KMS key`,
  types: [type],
  check: (r) => (isSet(r.config[attribute]) ? undefined : `set ${attribute} to a customer-managed KMS key (with rotation and an explicit key policy)`),
});

export const POLICY_RULES: readonly PolicyRule[] = [
  // ---- encryption at rest with customer keys
  {
    id: 'SG-ENC-1',
    title: 'ElastiCache replication groups encrypted at rest with a customer-managed key and in transit',
    types: ['aws_elasticache_replication_group'],
    check: (r) => [
      ...(truthy(r.config.at_rest_encryption_enabled) ? [] : ['set at_rest_encryption_enabled = true']),
      ...(isSet(r.config.kms_key_id) ? [] : ['set kms_key_id to a customer-managed KMS key']),
      ...(truthy(r.config.transit_encryption_enabled) ? [] : ['set transit_encryption_enabled = true (TLS)']),
    ],
  },
  {
    id: 'SG-ENC-2',
    title: 'Amazon MQ brokers encrypted with a customer-managed key where the engine allows one',
    types: ['aws_mq_broker'],
    // RabbitMQ brokers accept only the AWS-owned key (Amazon MQ: "RabbitMQ brokers do not support
    // customer managed keys"), so the rule skips them: encryption at rest is on, with AWS's key.
    check: (r) => {
      if (String(r.config.engine_type).toLowerCase() === 'rabbitmq') return undefined;
      const enc = block(r.config.encryption_options);
      return enc && enc.use_aws_owned_key === false && isSet(enc.kms_key_id) ? undefined : 'set encryption_options { use_aws_owned_key = false, kms_key_id = <customer key> }';
    },
  },
  kmsRule('SG-ENC-3', 'aws_cloudwatch_log_group', 'kms_key_id', 'CloudWatch log groups'),
  kmsRule('SG-ENC-4', 'aws_secretsmanager_secret', 'kms_key_id', 'Secrets Manager secrets'),
  kmsRule('SG-ENC-5', 'aws_sns_topic', 'kms_master_key_id', 'SNS topics'),
  kmsRule('SG-ENC-6', 'aws_sqs_queue', 'kms_master_key_id', 'SQS queues'),
  kmsRule('SG-ENC-7', 'aws_prometheus_workspace', 'kms_key_arn', 'Managed Prometheus workspaces'),
  {
    id: 'SG-ENC-8',
    title: 'EKS secrets envelope-encrypted with a customer-managed key',
    types: ['aws_eks_cluster'],
    check: (r) => {
      const enc = block(r.config.encryption_config);
      const resources = enc?.resources;
      return enc && isSet(block(enc.provider)?.key_arn) && Array.isArray(resources) && resources.includes('secrets')
        ? undefined
        : 'set encryption_config { provider { key_arn = <customer key> }, resources = ["secrets"] }';
    },
  },
  {
    id: 'SG-ENC-9',
    title: 'EBS volumes of launch templates encrypted with a customer-managed key',
    types: ['aws_launch_template'],
    check: (r) =>
      blocks(r.config.block_device_mappings).flatMap((m) => {
        const ebs = block(m.ebs);
        if (!ebs) return [];
        return [
          ...(truthy(ebs.encrypted) ? [] : [`set block_device_mappings ${String(m.device_name)} ebs.encrypted = true`]),
          ...(isSet(ebs.kms_key_id) ? [] : [`set block_device_mappings ${String(m.device_name)} ebs.kms_key_id to a customer-managed key (the account's aws/ebs key is AWS-managed)`]),
        ];
      }),
  },
  {
    id: 'SG-ENC-10',
    title: 'S3 buckets encrypted by default with a customer-managed KMS key',
    types: ['aws_s3_bucket'],
    check: (r, ctx) => {
      const sse = companion(ctx, r, 'aws_s3_bucket_server_side_encryption_configuration', 'bucket')
        .flatMap((c) => blocks(c.config.rule))
        .map((rule) => block(rule.apply_server_side_encryption_by_default));
      if (sse.length === 0) return 'add an aws_s3_bucket_server_side_encryption_configuration (sse_algorithm aws:kms, kms_master_key_id)';
      return sse.some((d) => String(d?.sse_algorithm).startsWith('aws:kms') && isSet(d?.kms_master_key_id))
        ? undefined
        : 'use sse_algorithm aws:kms with kms_master_key_id = <customer key>';
    },
  },
  // ---- S3
  {
    id: 'SG-S3-1',
    title: 'S3 buckets block every kind of public access',
    types: ['aws_s3_bucket'],
    check: (r, ctx) => {
      const pab = companion(ctx, r, 'aws_s3_bucket_public_access_block', 'bucket')[0];
      const flags = ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'];
      if (!pab) return `add an aws_s3_bucket_public_access_block with ${flags.join(', ')} = true`;
      const off = flags.filter((f) => !truthy(pab.config[f]));
      return off.length === 0 ? undefined : `set ${off.join(', ')} = true on ${pab.path}`;
    },
  },
  {
    id: 'SG-S3-2',
    title: 'S3 buckets versioned',
    types: ['aws_s3_bucket'],
    check: (r, ctx) => {
      const v = companion(ctx, r, 'aws_s3_bucket_versioning', 'bucket')[0];
      return v && block(v.config.versioning_configuration)?.status === 'Enabled' ? undefined : 'add an aws_s3_bucket_versioning with status Enabled';
    },
  },
  // ---- KMS
  {
    id: 'SG-KMS-1',
    title: 'KMS keys rotate yearly (symmetric keys) and carry an explicit key policy',
    types: ['aws_kms_key'],
    check: (r) => {
      const spec = String(r.config.customer_master_key_spec ?? 'SYMMETRIC_DEFAULT');
      // Asymmetric and HMAC keys cannot rotate automatically (KMS rejects EnableKeyRotation): not asked.
      const rotation = spec === 'SYMMETRIC_DEFAULT' && !truthy(r.config.enable_key_rotation) ? ['set enable_key_rotation = true'] : [];
      const policy = isSet(r.config.policy) ? [] : ['set policy explicitly (least privilege; the default policy gives every IAM principal of the account key administration through IAM)'];
      return [...rotation, ...policy];
    },
  },
  // ---- TLS
  {
    id: 'SG-TLS-1',
    title: 'Load balancer listeners use TLS 1.2+ (HTTP only to redirect to HTTPS; TCP passes TLS through)',
    types: ['aws_lb_listener'],
    check: (r) => {
      const protocol = String(r.config.protocol ?? 'HTTP');
      if (protocol === 'HTTPS' || protocol === 'TLS') {
        return TLS12_POLICIES.test(String(r.config.ssl_policy ?? '')) ? undefined : `set ssl_policy to a TLS 1.2+ policy such as ELBSecurityPolicy-TLS13-1-2-2021-06 (is ${String(r.config.ssl_policy ?? 'the default')})`;
      }
      if (protocol === 'HTTP') {
        const redirects = blocks(r.config.default_action).every((a) => a.type === 'redirect' && block(a.redirect)?.protocol === 'HTTPS');
        return redirects ? undefined : 'an HTTP listener may only redirect to HTTPS: make its default action a redirect (HTTP_301, protocol HTTPS)';
      }
      // TCP/UDP listeners forward bytes; TLS is terminated behind them (checked on that listener).
      return undefined;
    },
  },
  // ---- network
  {
    id: 'SG-NET-1',
    title: 'Launch templates require IMDSv2 with a hop limit of 1-2',
    types: ['aws_launch_template'],
    check: (r) => {
      const md = block(r.config.metadata_options);
      const hops = Number(md?.http_put_response_hop_limit);
      return md?.http_tokens === 'required' && hops >= 1 && hops <= 2 ? undefined : 'set metadata_options { http_tokens = "required", http_put_response_hop_limit = 1 (2 only for pods that need IMDS) }';
    },
  },
  {
    id: 'SG-NET-2',
    title: 'No security group open to 0.0.0.0/0 or ::/0, except the listener ports of an internet-facing NLB',
    types: ['aws_vpc_security_group_ingress_rule', 'aws_security_group_rule', 'aws_security_group'],
    check: (r, ctx) => {
      const rules: { sg: unknown; cidrs: unknown[]; from: unknown; to: unknown }[] = [];
      if (r.type === 'aws_vpc_security_group_ingress_rule') rules.push({ sg: r.config.security_group_id, cidrs: [r.config.cidr_ipv4, r.config.cidr_ipv6], from: r.config.from_port, to: r.config.to_port });
      if (r.type === 'aws_security_group_rule' && r.config.type === 'ingress') {
        rules.push({ sg: r.config.security_group_id, cidrs: [...(r.config.cidr_blocks as unknown[] ?? []), ...(r.config.ipv6_cidr_blocks as unknown[] ?? [])], from: r.config.from_port, to: r.config.to_port });
      }
      if (r.type === 'aws_security_group') {
        for (const ing of blocks(r.config.ingress)) rules.push({ sg: `\${aws_security_group.${r.name}.id}`, cidrs: [...(ing.cidr_blocks as unknown[] ?? []), ...(ing.ipv6_cidr_blocks as unknown[] ?? [])], from: ing.from_port, to: ing.to_port });
      }
      const problems: string[] = [];
      for (const rule of rules) {
        if (!rule.cidrs.some((c) => typeof c === 'string' && ANYWHERE.has(c))) continue;
        const sgs = typeof rule.sg === 'string' && rule.sg.startsWith('${aws_security_group.') ? ctx.referencedBy(rule.sg) : [];
        const publicNlbPorts = sgs.flatMap((sg) => ctx.referencing(sg, 'aws_lb', 'security_groups'))
          .filter((lb) => lb.config.load_balancer_type === 'network' && !truthy(lb.config.internal))
          .flatMap((lb) => ctx.referencing(lb, 'aws_lb_listener', 'load_balancer_arn').map((l) => Number(l.config.port)));
        const from = Number(rule.from);
        if (from === Number(rule.to) && publicNlbPorts.includes(from)) continue;
        problems.push(`ingress from anywhere on ${String(rule.from)}-${String(rule.to)}: allow only known CIDRs or security groups (only an internet-facing NLB's listener ports may be open to all)`);
      }
      return problems;
    },
  },
  {
    id: 'SG-NET-3',
    title: 'EKS API endpoint private, or public only with an allow-list',
    types: ['aws_eks_cluster'],
    check: (r) => {
      const vpc = block(r.config.vpc_config) ?? {};
      if (vpc.endpoint_public_access === false) return undefined;
      const cidrs = Array.isArray(vpc.public_access_cidrs) ? vpc.public_access_cidrs : [];
      if (cidrs.length > 0 && !cidrs.some((c) => ANYWHERE.has(String(c)))) return undefined;
      return 'set vpc_config.endpoint_public_access = false, or list your networks in public_access_cidrs (never 0.0.0.0/0; the default when unset)';
    },
  },
  {
    id: 'SG-NET-4',
    title: 'Data stores are not publicly accessible',
    types: ['aws_mq_broker'],
    check: (r) => (truthy(r.config.publicly_accessible) ? 'set publicly_accessible = false (reach the broker from the VPC)' : undefined),
  },
  // ---- logging
  {
    id: 'SG-LOG-1',
    title: 'Load balancers write access logs',
    types: ['aws_lb'],
    check: (r, ctx) => {
      if (truthy(block(r.config.access_logs)?.enabled)) return undefined;
      // NLB access logs are written for TLS listeners only ("Access logs are created only if the load
      // balancer has a TLS listener"): an NLB that passes TCP through has none to write; VPC flow
      // logs record its connections.
      if (r.config.load_balancer_type === 'network') {
        const tls = ctx.referencing(r, 'aws_lb_listener', 'load_balancer_arn').some((l) => l.config.protocol === 'TLS');
        if (!tls) return undefined;
      }
      return 'set access_logs { bucket, enabled = true }';
    },
  },
  {
    id: 'SG-LOG-2',
    title: 'EKS control-plane logs (api, audit, authenticator) enabled',
    types: ['aws_eks_cluster'],
    check: (r) => {
      const types = Array.isArray(r.config.enabled_cluster_log_types) ? r.config.enabled_cluster_log_types : [];
      const missing = ['api', 'audit', 'authenticator'].filter((t) => !types.includes(t));
      return missing.length === 0 ? undefined : `add ${missing.join(', ')} to enabled_cluster_log_types`;
    },
  },
  {
    id: 'SG-LOG-3',
    title: 'Global Accelerator flow logs enabled',
    types: ['aws_globalaccelerator_accelerator'],
    check: (r) => (truthy(block(r.config.attributes)?.flow_logs_enabled) ? undefined : 'set attributes { flow_logs_enabled = true, flow_logs_s3_bucket, flow_logs_s3_prefix }'),
  },
  {
    id: 'SG-LOG-4',
    title: 'Public hosted zones log DNS queries',
    types: ['aws_route53_zone'],
    check: (r, ctx) => {
      if (blocks(r.config.vpc).length > 0) return undefined; // private zones: Resolver query logging instead
      return ctx.referencing(r, 'aws_route53_query_log', 'zone_id').length > 0 ? undefined : 'add an aws_route53_query_log to a CloudWatch log group in us-east-1';
    },
  },
  {
    id: 'SG-LOG-5',
    title: 'VPCs have flow logs',
    types: ['aws_vpc'],
    check: (r, ctx) => (ctx.referencing(r, 'aws_flow_log', 'vpc_id').length > 0 ? undefined : 'add an aws_flow_log for the VPC'),
  },
  {
    id: 'SG-DNS-1',
    title: 'DNSSEC signing on public hosted zones the stacks create',
    types: ['aws_route53_zone'],
    check: (r, ctx) => {
      if (blocks(r.config.vpc).length > 0) return undefined; // private zones cannot be signed
      return ctx.referencing(r, 'aws_route53_hosted_zone_dnssec', 'hosted_zone_id').length > 0
        ? undefined
        : 'add an aws_route53_key_signing_key (asymmetric ECC_NIST_P256 KMS key in us-east-1) and aws_route53_hosted_zone_dnssec, then the DS record at the parent';
    },
  },
  // ---- stateful resources in protected (production) environments
  {
    id: 'SG-DATA-1',
    title: 'Stateful resources protected against deletion in protected environments (snapshots, deletion protection)',
    types: ['aws_elasticache_replication_group', 'aws_lb', 'aws_s3_bucket', 'aws_route53_zone'],
    check: (r, ctx) => {
      if (!ctx.protectStatefulResources) return undefined;
      switch (r.type) {
        case 'aws_elasticache_replication_group':
          return [
            ...(Number(r.config.snapshot_retention_limit ?? 0) > 0 ? [] : ['set snapshot_retention_limit > 0']),
            ...(isSet(r.config.final_snapshot_identifier) ? [] : ['set final_snapshot_identifier']),
          ];
        case 'aws_lb':
          return truthy(r.config.enable_deletion_protection) ? undefined : 'set enable_deletion_protection = true';
        default:
          return truthy(r.config.force_destroy) ? 'set force_destroy = false (never delete a non-empty bucket or zone)' : undefined;
      }
    },
  },
  // ---- secrets
  {
    id: 'SG-SEC-1',
    title: 'No plaintext secret in synth output',
    types: ['*'],
    check: (r) => {
      const problems: string[] = [];
      const walk = (value: unknown, path: string): void => {
        if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
        else if (value !== null && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) {
            if (SECRET_ATTRIBUTES.test(k) && typeof v === 'string' && v !== '' && !isReference(v)) problems.push(`${path}${k} holds a literal: reference a generated secret instead`);
            else walk(v, `${path}${k}.`);
          }
        }
      };
      if (!r.type.startsWith('data.')) walk(r.config, '');
      for (const { container } of containers(r)) {
        for (const env of blocks(container.env)) {
          if (SECRET_ENV.test(String(env.name)) && isSet(env.value) && !isReference(env.value)) {
            problems.push(`container ${String(container.name)} env ${String(env.name)} is a literal: use value_from.secret_key_ref`);
          }
        }
      }
      if (r.type === 'kubernetes_secret_v1' || r.type === 'kubernetes_secret') {
        for (const [k, v] of Object.entries(block(r.config.data) ?? {})) {
          if (typeof v === 'string' && !isReference(v)) problems.push(`data.${k} is a literal: deliver secrets from Secrets Manager (CSI driver), not from synth`);
        }
      }
      return problems;
    },
  },
  // ---- Kubernetes workloads
  {
    id: 'SG-K8S-1',
    title: 'Container images pinned by digest',
    types: WORKLOAD_TYPES,
    check: (r) => containers(r)
      .filter(({ container }) => !/@sha256:[0-9a-f]{64}$/.test(String(container.image)) && !isReference(container.image))
      .map(({ container }) => `pin container ${String(container.name)} image ${String(container.image)} by digest (<image>@sha256:<digest>)`),
  },
  {
    id: 'SG-K8S-2',
    title: 'Long-running containers have a readiness probe',
    types: WORKLOAD_TYPES.filter((t) => !/job|pod/.test(t)),
    check: (r) => containers(r)
      .filter(({ container, init }) => !init && !isSet(container.readiness_probe))
      .map(({ container }) => `add a readiness_probe to container ${String(container.name)}`),
  },
  {
    id: 'SG-K8S-3',
    title: 'Containers request CPU and memory and limit memory',
    types: WORKLOAD_TYPES,
    check: (r) => containers(r).flatMap(({ container }) => {
      const res = block(container.resources) ?? {};
      const requests = block(res.requests) ?? {};
      const limits = block(res.limits) ?? {};
      const missing = [...(isSet(requests.cpu) ? [] : ['requests.cpu']), ...(isSet(requests.memory) ? [] : ['requests.memory']), ...(isSet(limits.memory) ? [] : ['limits.memory'])];
      return missing.length === 0 ? [] : [`set resources ${missing.join(', ')} on container ${String(container.name)}`];
    }),
  },
  {
    id: 'SG-K8S-4',
    title: 'Containers run as non-root without privilege escalation',
    types: WORKLOAD_TYPES,
    check: (r) => containers(r).flatMap(({ container, pod }) => {
      const podCtx = block(pod.security_context) ?? {};
      const ctx = block(container.security_context) ?? {};
      const nonRoot = truthy(ctx.run_as_non_root) || (ctx.run_as_non_root === undefined && truthy(podCtx.run_as_non_root));
      const problems: string[] = [];
      if (!nonRoot) problems.push(`set run_as_non_root = true for container ${String(container.name)} (pod or container security_context)`);
      if (ctx.allow_privilege_escalation !== false && ctx.allow_privilege_escalation !== 'false') problems.push(`set allow_privilege_escalation = false on container ${String(container.name)}`);
      if (truthy(ctx.privileged)) problems.push(`container ${String(container.name)} must not be privileged`);
      return problems;
    }),
  },
];

/** The rule ids, for validating suppressions. */
export const POLICY_RULE_IDS: ReadonlySet<string> = new Set(POLICY_RULES.map((r) => r.id));
