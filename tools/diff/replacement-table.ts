/**
 * Which argument changes make the AWS provider (5.100.0, the version pinned in package.json through
 * @cdktf/provider-aws 20.1.0) and the Kubernetes provider replace a resource instead of updating it,
 * and which resource types hold state that a replacement or destruction loses.
 *
 * `terraform providers schema -json` does not say which attributes are ForceNew, so this table is
 * kept by hand from the provider sources (`internal/service/<service>/<resource>.go`, the `ForceNew:
 * true` schema fields and `customdiff.ForceNewIf` functions of
 * https://github.com/hashicorp/terraform-provider-aws) and the registry docs
 * (https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/<name>, "Forces new
 * resource"). Read in the provider source for this table: `mq/broker.go` (host_instance_type and
 * engine_version are updated in place, with a reboot; deployment_mode, engine_type, subnet_ids,
 * encryption_options, publicly_accessible force a new broker) and `elasticache/replication_group.go`
 * (subnet_group_name, kms_key_id, at_rest_encryption_enabled, port, network_type, snapshot_* and
 * data_tiering force new; engine and engine_version only on a downgrade, e.g. valkey -> redis; node
 * type, shard and replica counts, cluster_mode and transit encryption are updated in place).
 * A path is an argument name, nested blocks joined with `.` (`vpc_config.subnet_ids`); a change at or
 * under the path forces replacement. Update this table when the provider is upgraded.
 */
export interface ReplacementRule {
  /** Argument paths whose change forces a new resource. */
  readonly forceNew: readonly string[];
  /** Argument paths that force a new resource only in some cases (said in `note`). */
  readonly conditional?: readonly string[];
  /** What a reviewer should know (conditions, what is kept). */
  readonly note?: string;
}

const K8S_META = ['metadata.name', 'metadata.namespace'];

/** Per resource type, the arguments whose change forces replacement. */
export const REPLACEMENT_TABLE: Readonly<Record<string, ReplacementRule>> = {
  // network
  aws_vpc: { forceNew: ['cidr_block', 'ipv4_ipam_pool_id', 'ipv4_netmask_length'] },
  aws_subnet: { forceNew: ['vpc_id', 'cidr_block', 'availability_zone', 'availability_zone_id', 'outpost_arn'] },
  aws_internet_gateway: { forceNew: [] },
  aws_nat_gateway: { forceNew: ['allocation_id', 'subnet_id', 'connectivity_type', 'private_ip'] },
  aws_eip: { forceNew: ['domain', 'address', 'network_border_group', 'public_ipv4_pool', 'customer_owned_ipv4_pool'] },
  aws_route_table: { forceNew: ['vpc_id'] },
  aws_route: { forceNew: ['route_table_id', 'destination_cidr_block', 'destination_ipv6_cidr_block', 'destination_prefix_list_id'] },
  aws_route_table_association: { forceNew: ['subnet_id', 'gateway_id'] },
  aws_vpc_endpoint: { forceNew: ['vpc_id', 'service_name', 'vpc_endpoint_type'] },
  aws_flow_log: {
    forceNew: ['vpc_id', 'subnet_id', 'eni_id', 'log_destination', 'log_destination_type', 'log_group_name', 'traffic_type',
      'iam_role_arn', 'log_format', 'max_aggregation_interval', 'destination_options'],
  },
  aws_security_group: { forceNew: ['name', 'name_prefix', 'vpc_id', 'description'] },
  aws_default_security_group: { forceNew: ['vpc_id'] },
  aws_vpc_security_group_ingress_rule: { forceNew: ['security_group_id'] },
  aws_vpc_security_group_egress_rule: { forceNew: ['security_group_id'] },
  aws_security_group_rule: {
    forceNew: ['security_group_id', 'type', 'from_port', 'to_port', 'protocol', 'cidr_blocks', 'ipv6_cidr_blocks',
      'prefix_list_ids', 'source_security_group_id', 'self'],
  },
  // compute
  aws_eks_cluster: {
    forceNew: ['name', 'role_arn', 'vpc_config.subnet_ids', 'vpc_config.security_group_ids', 'encryption_config.provider.key_arn',
      'kubernetes_network_config.service_ipv4_cidr', 'kubernetes_network_config.ip_family', 'bootstrap_self_managed_addons',
      'access_config.bootstrap_cluster_creator_admin_permissions', 'outpost_config'],
    conditional: ['version'],
    note: 'version: a downgrade is refused by EKS; upgrades are in place, one minor version at a time',
  },
  aws_eks_node_group: {
    forceNew: ['cluster_name', 'node_group_name', 'node_group_name_prefix', 'ami_type', 'capacity_type', 'disk_size',
      'instance_types', 'node_role_arn', 'remote_access', 'subnet_ids', 'launch_template.id', 'launch_template.name'],
  },
  aws_eks_addon: { forceNew: ['cluster_name', 'addon_name'] },
  aws_eks_access_entry: { forceNew: ['cluster_name', 'principal_arn', 'type'] },
  aws_eks_access_policy_association: { forceNew: ['cluster_name', 'principal_arn', 'policy_arn', 'access_scope'] },
  aws_launch_template: { forceNew: ['name', 'name_prefix'] },
  aws_autoscaling_group: { forceNew: ['name', 'name_prefix'] },
  aws_autoscaling_attachment: { forceNew: ['autoscaling_group_name', 'lb_target_group_arn', 'elb'] },
  aws_iam_openid_connect_provider: { forceNew: ['url'] },
  // load balancing, DNS, accelerator
  aws_lb: {
    forceNew: ['name', 'name_prefix', 'internal', 'load_balancer_type', 'customer_owned_ipv4_pool'],
    conditional: ['subnet_mapping', 'subnets'],
    note: 'subnets/subnet_mapping: removing a subnet (or changing an EIP allocation) of a network load balancer forces a new one',
  },
  aws_lb_target_group: {
    forceNew: ['name', 'name_prefix', 'port', 'protocol', 'protocol_version', 'target_type', 'vpc_id', 'ip_address_type'],
  },
  aws_lb_target_group_attachment: { forceNew: ['target_group_arn', 'target_id', 'port', 'availability_zone'] },
  aws_lb_listener: { forceNew: ['load_balancer_arn'] },
  aws_lb_listener_rule: { forceNew: ['listener_arn'] },
  aws_acm_certificate: {
    forceNew: ['domain_name', 'subject_alternative_names', 'key_algorithm', 'certificate_authority_arn'],
  },
  aws_acm_certificate_validation: { forceNew: ['certificate_arn', 'validation_record_fqdns'] },
  aws_route53_zone: { forceNew: ['name', 'delegation_set_id'] },
  aws_route53_record: {
    forceNew: ['zone_id', 'name', 'set_identifier'],
    note: 'type and routing policy changes are updates, but Route 53 applies them as delete + create inside one change batch',
  },
  aws_route53_health_check: {
    forceNew: ['type', 'request_interval', 'measure_latency', 'reference_name', 'routing_control_arn'],
  },
  aws_route53_query_log: { forceNew: ['zone_id', 'cloudwatch_log_group_arn'] },
  aws_route53_key_signing_key: { forceNew: ['hosted_zone_id', 'key_management_service_arn', 'name'] },
  aws_route53_hosted_zone_dnssec: { forceNew: ['hosted_zone_id'] },
  aws_globalaccelerator_accelerator: { forceNew: ['ip_addresses'] },
  aws_globalaccelerator_listener: { forceNew: ['accelerator_arn'] },
  aws_globalaccelerator_endpoint_group: { forceNew: ['listener_arn', 'endpoint_group_region'] },
  // data stores and secrets
  aws_elasticache_replication_group: {
    forceNew: ['replication_group_id', 'subnet_group_name', 'at_rest_encryption_enabled', 'kms_key_id', 'port', 'network_type',
      'data_tiering_enabled', 'snapshot_arns', 'snapshot_name', 'security_group_names', 'global_replication_group_id'],
    conditional: ['engine', 'engine_version', 'node_group_configuration'],
    note: 'engine/engine_version force a new group only on a downgrade (valkey -> redis, a lower version); cluster_mode, node_type, num_node_groups and replicas_per_node_group are online changes',
  },
  aws_elasticache_parameter_group: { forceNew: ['name', 'family', 'description'] },
  aws_elasticache_subnet_group: { forceNew: ['name'] },
  aws_mq_broker: {
    forceNew: ['broker_name', 'engine_type', 'deployment_mode', 'subnet_ids', 'encryption_options', 'publicly_accessible',
      'data_replication_primary_broker_arn', 'ldap_server_metadata'],
    note: 'host_instance_type and engine_version are updated in place (the broker reboots)',
  },
  aws_mq_configuration: { forceNew: ['name', 'engine_type', 'engine_version', 'authentication_strategy'] },
  aws_s3_bucket: { forceNew: ['bucket', 'bucket_prefix', 'object_lock_enabled'] },
  aws_s3_bucket_versioning: { forceNew: ['bucket', 'expected_bucket_owner'] },
  aws_s3_bucket_server_side_encryption_configuration: { forceNew: ['bucket', 'expected_bucket_owner'] },
  aws_s3_bucket_public_access_block: { forceNew: ['bucket'] },
  aws_s3_bucket_policy: { forceNew: ['bucket'] },
  aws_s3_bucket_lifecycle_configuration: { forceNew: ['bucket', 'expected_bucket_owner'] },
  aws_s3_bucket_ownership_controls: { forceNew: ['bucket'] },
  aws_s3_bucket_logging: { forceNew: ['bucket', 'expected_bucket_owner'] },
  aws_s3_object: { forceNew: ['bucket', 'key'] },
  aws_kms_key: { forceNew: ['customer_master_key_spec', 'key_usage', 'multi_region', 'custom_key_store_id', 'xks_key_id'] },
  aws_kms_alias: { forceNew: ['name', 'name_prefix'] },
  aws_secretsmanager_secret: { forceNew: ['name', 'name_prefix'] },
  aws_secretsmanager_secret_version: { forceNew: ['secret_id', 'secret_string', 'secret_binary'] },
  aws_ssm_parameter: { forceNew: ['name'] },
  aws_sqs_queue: { forceNew: ['name', 'name_prefix', 'fifo_queue'] },
  aws_sns_topic: { forceNew: ['name', 'name_prefix', 'fifo_topic'] },
  aws_cloudwatch_log_group: { forceNew: ['name', 'name_prefix', 'log_group_class'] },
  aws_ecr_repository: { forceNew: ['name', 'encryption_configuration'] },
  aws_prometheus_workspace: { forceNew: ['kms_key_arn'] },
  aws_prometheus_scraper: { forceNew: ['source', 'alias'] },
  aws_prometheus_rule_group_namespace: { forceNew: ['name', 'workspace_id'] },
  aws_prometheus_alert_manager_definition: { forceNew: ['workspace_id'] },
  // identity
  aws_iam_role: { forceNew: ['name', 'name_prefix', 'path'] },
  aws_iam_policy: { forceNew: ['name', 'name_prefix', 'path', 'description'] },
  aws_iam_role_policy: { forceNew: ['name', 'name_prefix', 'role'] },
  aws_iam_role_policy_attachment: { forceNew: ['role', 'policy_arn'] },
  // monitoring
  aws_cloudwatch_metric_alarm: { forceNew: ['alarm_name'] },
  aws_cloudwatch_event_rule: { forceNew: ['name', 'name_prefix', 'event_bus_name'] },
  aws_cloudwatch_event_target: { forceNew: ['rule', 'target_id', 'event_bus_name'] },
  // Kubernetes (provider 2.38): names are immutable, so are selectors and a few spec fields
  kubernetes_namespace_v1: { forceNew: ['metadata.name'] },
  kubernetes_deployment_v1: { forceNew: [...K8S_META, 'spec.selector'] },
  kubernetes_stateful_set_v1: { forceNew: [...K8S_META, 'spec.selector', 'spec.service_name', 'spec.volume_claim_template'] },
  kubernetes_service_v1: { forceNew: [...K8S_META, 'spec.cluster_ip', 'spec.cluster_ips'] },
  kubernetes_priority_class_v1: { forceNew: ['metadata.name', 'value', 'preemption_policy'] },
  kubernetes_persistent_volume_claim_v1: { forceNew: [...K8S_META, 'spec.storage_class_name', 'spec.access_modes', 'spec.selector'] },
  kubernetes_manifest: { forceNew: ['manifest.apiVersion', 'manifest.kind', 'manifest.metadata.name', 'manifest.metadata.namespace'] },
};

/** Names are immutable for every other Kubernetes resource too. */
const KUBERNETES_DEFAULT: ReplacementRule = { forceNew: K8S_META };

/** The replacement rule of a type; Kubernetes types not listed fall back to name/namespace. */
export function replacementRule(type: string): ReplacementRule | undefined {
  return REPLACEMENT_TABLE[type] ?? (type.startsWith('kubernetes_') ? KUBERNETES_DEFAULT : undefined);
}

/**
 * Resource types whose replacement or destruction loses data, identity or addresses that cannot be
 * recreated as they were, with what is lost. Everything else can be recreated (at the cost of a
 * disruption the diff still lists).
 */
export const STATEFUL_TYPES: Readonly<Record<string, string>> = {
  // data first
  aws_elasticache_replication_group: 'cached responses, rate-limit counters and job results (unless a final snapshot is restored)',
  aws_mq_broker: 'every queued job and message',
  aws_s3_bucket: 'every object in the bucket',
  aws_db_instance: 'the database',
  aws_dynamodb_table: 'every item',
  aws_efs_file_system: 'every file',
  aws_ebs_volume: 'the volume\'s data',
  kubernetes_persistent_volume_claim_v1: 'the volume\'s data',
  aws_sqs_queue: 'every queued message',
  aws_kms_key: 'everything encrypted with the key (unreadable once the key is deleted)',
  aws_secretsmanager_secret: 'the credential and its history',
  aws_secretsmanager_secret_version: 'the current credential (clients holding the old value fail)',
  aws_prometheus_workspace: 'the stored metrics',
  aws_cloudwatch_log_group: 'the log history',
  aws_ecr_repository: 'every image in the repository',
  aws_ssm_parameter: 'the parameter history',
  // names and addresses clients depend on
  aws_route53_zone: 'the zone\'s name servers (the parent delegation breaks)',
  aws_route53_key_signing_key: 'the DNSSEC chain of trust (the parent DS record no longer matches)',
  aws_globalaccelerator_accelerator: 'the two static anycast addresses',
  aws_eip: 'the static public address (customer allow-lists, accelerator endpoints)',
  aws_lb: 'the DNS name and addresses clients and records point at',
  aws_nat_gateway: 'the egress address seen by external services',
  aws_acm_certificate: 'the validated certificate (listeners keep working only after re-validation)',
  // the platform everything runs on
  aws_eks_cluster: 'every workload, secret and PersistentVolume of the cluster',
  kubernetes_namespace_v1: 'everything in the namespace',
  aws_eks_node_group: 'running pods (drained) and the nodes\' local state, e.g. staged model weights',
  aws_vpc: 'every subnet, ENI, load balancer, cluster and data store in it',
  aws_subnet: 'the ENIs, nodes and data-store nodes placed in it',
};
