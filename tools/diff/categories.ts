/** The sections of a synth diff after the risk section. */
export type Category = 'capacity' | 'traffic' | 'security' | 'other';

/** Argument paths (per type pattern) that size the deployment. */
const CAPACITY: readonly [RegExp, RegExp][] = [
  [/^aws_eks_node_group$/, /^(scaling_config|instance_types|capacity_type|ami_type|disk_size)\b/],
  [/^aws_autoscaling_group$/, /^(min_size|max_size|desired_capacity|mixed_instances_policy|capacity_rebalance)\b/],
  [/^aws_launch_template$/, /^(instance_type|block_device_mappings|instance_market_options)\b/],
  [/^kubernetes_horizontal_pod_autoscaler/, /^spec\b/],
  [/^kubernetes_pod_disruption_budget/, /^spec\b/],
  [/^kubernetes_(deployment|stateful_set|daemon_set)/, /(^spec(\[0\])?\.replicas$|\.resources\b)/],
  [/^aws_elasticache_replication_group$/, /^(node_type|num_node_groups|replicas_per_node_group|num_cache_clusters)\b/],
  [/^aws_mq_broker$/, /^(host_instance_type|deployment_mode|storage_type)\b/],
];

const CAPACITY_TYPES = /^(aws_eks_node_group|aws_autoscaling_group|kubernetes_horizontal_pod_autoscaler.*|kubernetes_pod_disruption_budget.*)$/;
const TRAFFIC_TYPES =
  /^(aws_route53_record|aws_route53_health_check|aws_globalaccelerator_.*|aws_lb|aws_lb_listener.*|aws_lb_target_group.*|aws_autoscaling_attachment|kubernetes_service.*|kubernetes_ingress.*)$/;
const SECURITY_TYPES =
  /^(aws_iam_.*|aws_security_group.*|aws_default_security_group|aws_vpc_security_group_.*|aws_kms_.*|.*_policy|aws_s3_bucket_public_access_block|aws_eks_access_.*|aws_acm_certificate.*|aws_route53_key_signing_key|aws_route53_hosted_zone_dnssec|kubernetes_(network_policy|cluster_role|cluster_role_binding|role|role_binding|service_account).*)$/;
/** Arguments about access, exposure and encryption, whatever the type. */
const SECURITY_ATTRIBUTES =
  /(^|\.)(policy|assume_role_policy|security_group_ids|security_groups|vpc_security_group_ids|internal|publicly_accessible|endpoint_public_access|endpoint_private_access|public_access_cidrs|kms_key_id|kms_key_arn|encrypted|encryption_config|ssl_policy|certificate_arn|transit_encryption_enabled|at_rest_encryption_enabled|security_context|metadata_options|cidr_ipv4|cidr_ipv6|cidr_blocks|ingress|egress|auth_token|user|automount_service_account_token)(\.|\[|$)/;

/** The section a created or deleted resource of this type is listed in. */
export function categorizeType(type: string): Category {
  if (CAPACITY_TYPES.test(type)) return 'capacity';
  if (SECURITY_TYPES.test(type)) return 'security';
  if (TRAFFIC_TYPES.test(type)) return 'traffic';
  return 'other';
}

/** The section a changed argument of a resource of this type is listed in. */
export function categorizeAttribute(type: string, path: string): Category {
  if (CAPACITY.some(([t, p]) => t.test(type) && p.test(path))) return 'capacity';
  if (SECURITY_ATTRIBUTES.test(path) || SECURITY_TYPES.test(type)) return 'security';
  if (TRAFFIC_TYPES.test(type)) return 'traffic';
  if (CAPACITY_TYPES.test(type)) return 'capacity';
  return 'other';
}
