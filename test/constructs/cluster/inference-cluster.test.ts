import { InferenceCluster, InferenceClusterProps } from '../../../constructs/cluster/inference-cluster';
import { CAPACITY_LABEL, GPU_TAINT, NODE_POOL_LABEL } from '../../../constructs/cluster/node-group';
import { INTERRUPTION_EVENT_PATTERNS } from '../../../constructs/cluster/spot-interruption-queue';
import { onlyResource, resourceList, resources, synthConstruct, TfJson } from '../../support/synth';

const base: InferenceClusterProps = {
  name: 'surgeguard-prod-use1',
  region: 'us-east-1',
  kubernetesVersion: '1.32',
  subnetIds: ['subnet-a', 'subnet-b', 'subnet-c'],
  cpuNodes: { instanceTypes: ['m7i.2xlarge', 'm6i.2xlarge'], min: 3, max: 20, desired: 3 },
  gpuOnDemand: { instanceTypes: ['p5.48xlarge'], min: 2, max: 4, desired: 2 },
  gpuSpot: { instanceTypes: ['p5.48xlarge', 'p4d.24xlarge', 'g6e.48xlarge'], min: 0, max: 12, desired: 2 },
};

const synth = (props: Partial<InferenceClusterProps> = {}) => synthConstruct((s) => new InferenceCluster(s, 'cluster', { ...base, ...props }));
const nodeGroup = (tf: TfJson, suffix: string) => resourceList(tf, 'aws_eks_node_group').find((g) => g.node_group_name === `surgeguard-prod-use1-${suffix}`);

describe('InferenceCluster', () => {
  it('keeps the Kubernetes API private unless CIDRs are allow-listed', () => {
    const privateOnly = onlyResource(synth(), 'aws_eks_cluster').vpc_config;
    expect(privateOnly).toMatchObject({ endpoint_private_access: true, endpoint_public_access: false });
    expect(privateOnly.public_access_cidrs).toBeUndefined();
    const open = onlyResource(synth({ publicAccessCidrs: ['203.0.113.0/24'] }), 'aws_eks_cluster').vpc_config;
    expect(open).toMatchObject({ endpoint_private_access: true, endpoint_public_access: true, public_access_cidrs: ['203.0.113.0/24'] });
  });

  it('encrypts secrets with a rotated KMS key and ships every control-plane log type', () => {
    const tf = synth({ logRetentionDays: 90 });
    const cluster = onlyResource(tf, 'aws_eks_cluster');
    const keyId = Object.keys(resources(tf, 'aws_kms_key'))[0];
    expect(onlyResource(tf, 'aws_kms_key').enable_key_rotation).toBe(true);
    expect(cluster.encryption_config).toEqual({ resources: ['secrets'], provider: { key_arn: `\${aws_kms_key.${keyId}.arn}` } });
    expect(cluster.enabled_cluster_log_types).toEqual(['api', 'audit', 'authenticator', 'controllerManager', 'scheduler']);
    expect(cluster.version).toBe('1.32');
    expect(cluster.access_config).toEqual({ authentication_mode: 'API', bootstrap_cluster_creator_admin_permissions: true });
    expect(onlyResource(tf, 'aws_cloudwatch_log_group')).toMatchObject({
      name: '/aws/eks/surgeguard-prod-use1/cluster',
      retention_in_days: 90,
      kms_key_id: `\${aws_kms_key.${keyId}.arn}`,
    });
  });

  it('creates an IAM OIDC provider for IRSA and gives the VPC CNI its own service-account role', () => {
    const tf = synth();
    expect(onlyResource(tf, 'aws_iam_openid_connect_provider').client_id_list).toEqual(['sts.amazonaws.com']);
    const attachments = resourceList(tf, 'aws_iam_role_policy_attachment');
    const nodeRoleId = Object.entries(resources(tf, 'aws_iam_role')).find(([, r]) => r.name === 'surgeguard-prod-use1-node')![0];
    const nodePolicies = attachments.filter((a) => a.role === `\${aws_iam_role.${nodeRoleId}.name}`).map((a) => a.policy_arn);
    expect(nodePolicies.some((p) => p.endsWith('AmazonEKS_CNI_Policy'))).toBe(false);
    expect(nodePolicies.map((p: string) => p.split('/').pop()).sort()).toEqual(['AmazonEC2ContainerRegistryPullOnly', 'AmazonEKSWorkerNodePolicy']);
    const cniRole = resourceList(tf, 'aws_iam_role').find((r) => r.name === 'surgeguard-prod-use1-kube-system-aws-node');
    expect(cniRole).toBeDefined();
    const trust = Object.values(tf.data!.aws_iam_policy_document).find((d: any) =>
      JSON.stringify(d).includes('system:serviceaccount:kube-system:aws-node'),
    ) as any;
    expect(trust.statement[0].actions).toEqual(['sts:AssumeRoleWithWebIdentity']);
    const cniRoleId = Object.entries(resources(tf, 'aws_iam_role')).find(([, r]) => r === cniRole)![0];
    const addons = resourceList(tf, 'aws_eks_addon');
    expect(addons.map((a) => a.addon_name).sort()).toEqual(['coredns', 'kube-proxy', 'vpc-cni']);
    expect(addons.find((a) => a.addon_name === 'vpc-cni').service_account_role_arn).toBe(`\${aws_iam_role.${cniRoleId}.arn}`);
  });

  it('renders the cluster DNS Corefile with a short Service TTL, so a re-resolved headless Service shows a new pod within seconds', () => {
    const corefile = (tf: TfJson) => JSON.parse(resourceList(tf, 'aws_eks_addon').find((a) => a.addon_name === 'coredns').configuration_values).corefile as string;
    const kubernetesBlock = (c: string) => /kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{([^}]*)\}/.exec(c)?.[1] ?? '';
    const byDefault = corefile(synth());
    expect(kubernetesBlock(byDefault).trim().split(/\n\s*/)).toEqual(['pods insecure', 'fallthrough in-addr.arpa ip6.arpa', 'ttl 1']);
    // the rest of the add-on's default Corefile is kept: it replaces the Corefile whole
    expect(byDefault.split('\n').map((l) => l.trim())).toEqual(
      expect.arrayContaining(['.:53 {', 'errors', 'lameduck 5s', 'ready', 'prometheus :9153', 'forward . /etc/resolv.conf', 'cache 30', 'loop', 'reload', 'loadbalance']),
    );
    expect(kubernetesBlock(corefile(synth({ serviceDnsTtlSeconds: 5 })))).toContain('ttl 5');
    expect(() => synth({ serviceDnsTtlSeconds: 1.5 })).toThrow('InferenceCluster cluster: serviceDnsTtlSeconds must be a whole number between 0 and 3600, got 1.5');
    expect(() => synth({ serviceDnsTtlSeconds: 3601 })).toThrow(/serviceDnsTtlSeconds must be a whole number between 0 and 3600, got 3601/);
  });

  it('runs a CPU group, an on-demand GPU base and a spot GPU group diversified over instance types', () => {
    const tf = synth();
    const cpu = nodeGroup(tf, 'cpu');
    expect(cpu).toMatchObject({
      capacity_type: 'ON_DEMAND',
      ami_type: 'AL2023_x86_64_STANDARD',
      instance_types: ['m7i.2xlarge', 'm6i.2xlarge'],
      scaling_config: { min_size: 3, max_size: 20, desired_size: 3 },
      labels: { [NODE_POOL_LABEL]: 'cpu', [CAPACITY_LABEL]: 'on-demand' },
    });
    expect(cpu.taint).toBeUndefined();
    const onDemand = nodeGroup(tf, 'gpu-on-demand');
    expect(onDemand).toMatchObject({
      capacity_type: 'ON_DEMAND',
      ami_type: 'AL2023_x86_64_NVIDIA',
      instance_types: ['p5.48xlarge'],
      scaling_config: { min_size: 2, max_size: 4, desired_size: 2 },
      labels: { [NODE_POOL_LABEL]: 'gpu', [CAPACITY_LABEL]: 'on-demand' },
      taint: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: 'NO_SCHEDULE' }],
    });
    const spot = nodeGroup(tf, 'gpu-spot');
    expect(spot).toMatchObject({
      capacity_type: 'SPOT',
      ami_type: 'AL2023_x86_64_NVIDIA',
      instance_types: ['p5.48xlarge', 'p4d.24xlarge', 'g6e.48xlarge'],
      scaling_config: { min_size: 0, max_size: 12, desired_size: 2 },
      labels: { [NODE_POOL_LABEL]: 'gpu', [CAPACITY_LABEL]: 'spot' },
      taint: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' }],
    });
    for (const g of [cpu, onDemand, spot]) {
      expect(g.lifecycle).toEqual({ ignore_changes: ['scaling_config[0].desired_size'] });
      expect(g.subnet_ids).toEqual(['subnet-a', 'subnet-b', 'subnet-c']);
      expect(g.node_repair_config).toEqual({ enabled: true });
    }
  });

  it('launches every node with IMDSv2 required, hop limit 1 and an encrypted gp3 root volume', () => {
    const tf = synth();
    const templates = resources(tf, 'aws_launch_template');
    expect(Object.keys(templates)).toHaveLength(3);
    for (const t of Object.values(templates)) {
      expect(t.metadata_options).toEqual({
        http_endpoint: 'enabled',
        http_tokens: 'required',
        http_put_response_hop_limit: 1,
        instance_metadata_tags: 'disabled',
      });
      expect(t.block_device_mappings[0].ebs).toMatchObject({ encrypted: 'true', volume_type: 'gp3' });
    }
    const gpuTemplate = Object.values(templates).find((t) => t.name === 'surgeguard-prod-use1-gpu-spot');
    expect(gpuTemplate.block_device_mappings[0].ebs.volume_size).toBe(500);
    for (const g of resourceList(tf, 'aws_eks_node_group')) {
      expect(g.launch_template.id).toMatch(/^\$\{aws_launch_template\..+\.id\}$/);
      expect(g.launch_template.version).toMatch(/^\$\{aws_launch_template\..+\.latest_version\}$/);
    }
  });

  it('skips a GPU group whose max is 0', () => {
    const tf = synth({ gpuOnDemand: { instanceTypes: ['g6.xlarge'], min: 0, max: 0, desired: 0 } });
    expect(nodeGroup(tf, 'gpu-on-demand')).toBeUndefined();
    expect(nodeGroup(tf, 'gpu-spot')).toBeDefined();
  });

  it('exposes the CPU group auto scaling group for load balancer attachment', () => {
    let cluster!: InferenceCluster;
    synthConstruct((s) => (cluster = new InferenceCluster(s, 'cluster', base)));
    expect(cluster.gpuOnDemandNodeGroup).toBeDefined();
    expect(cluster.cpuAutoScalingGroupName).toMatch(/\$\{TfToken\[TOKEN\.\d+\]\}/);
  });

  it('routes spot interruption, rebalance, state-change and maintenance events to an encrypted queue for the termination handler, when asked', () => {
    const tf = synth({ spotInterruptionQueue: true });
    const [queueId, queue] = Object.entries(resources(tf, 'aws_sqs_queue'))[0];
    expect(queue).toMatchObject({ name: 'surgeguard-prod-use1-interruptions', sqs_managed_sse_enabled: true, message_retention_seconds: 300 });
    const rules = resourceList(tf, 'aws_cloudwatch_event_rule');
    expect(rules.map((r) => JSON.parse(r.event_pattern)['detail-type'][0]).sort()).toEqual([
      'AWS Health Event',
      'EC2 Instance Rebalance Recommendation',
      'EC2 Instance State-change Notification',
      'EC2 Spot Instance Interruption Warning',
    ]);
    expect(rules).toHaveLength(Object.keys(INTERRUPTION_EVENT_PATTERNS).length);
    for (const t of resourceList(tf, 'aws_cloudwatch_event_target')) expect(t.arn).toBe(`\${aws_sqs_queue.${queueId}.arn}`);
    const docs = Object.values(tf.data!.aws_iam_policy_document) as any[];
    const send = docs.find((d) => d.statement?.[0]?.sid === 'EventBridgeSendsInterruptionEvents');
    expect(send.statement[0].condition[0].values).toHaveLength(4);
    const consume = docs.find((d) => d.statement?.[0]?.sid === 'ConsumeInterruptionQueue');
    expect(consume.statement[0]).toMatchObject({ actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], resources: [`\${aws_sqs_queue.${queueId}.arn}`] });
    expect(resourceList(tf, 'aws_iam_role').map((r) => r.name)).toContain('surgeguard-prod-use1-kube-system-aws-node-termination-handler');
  });

  it('creates no interruption queue, rule or handler role unless asked, spot group or not (managed node groups drain spot nodes themselves)', () => {
    const noSpot = { gpuSpot: { instanceTypes: ['g6.xlarge'], min: 0, max: 0, desired: 0 } };
    for (const tf of [synth(), synth(noSpot)]) {
      expect(resources(tf, 'aws_sqs_queue')).toEqual({});
      expect(resources(tf, 'aws_cloudwatch_event_rule')).toEqual({});
      expect(resourceList(tf, 'aws_iam_role').map((r) => r.name)).not.toContain('surgeguard-prod-use1-kube-system-aws-node-termination-handler');
    }
    expect(Object.keys(resources(synth({ ...noSpot, spotInterruptionQueue: true }), 'aws_sqs_queue'))).toHaveLength(1);
  });

  it('grants cluster-admin to the listed principals through EKS access entries', () => {
    const role = 'arn:aws:iam::123456789012:role/ci-deployer';
    const tf = synth({ adminPrincipalArns: [role] });
    expect(onlyResource(tf, 'aws_eks_access_entry')).toMatchObject({ principal_arn: role, type: 'STANDARD' });
    const association = onlyResource(tf, 'aws_eks_access_policy_association');
    expect(association.policy_arn).toMatch(/:eks::aws:cluster-access-policy\/AmazonEKSClusterAdminPolicy$/);
    expect(association.access_scope).toEqual({ type: 'cluster' });
    expect(resources(synth(), 'aws_eks_access_entry')).toEqual({});
  });

  it.each([
    [{ adminPrincipalArns: ['arn:aws:iam::123456789012:policy/x'] }, 'adminPrincipalArns "arn:aws:iam::123456789012:policy/x" is not an IAM role or user ARN'],
    [{ publicAccessCidrs: ['0.0.0.0/0'] }, 'publicAccessCidrs must not contain 0.0.0.0/0'],
    [{ kubernetesVersion: 'latest' }, 'kubernetesVersion "latest" is not an EKS version'],
    [{ subnetIds: ['subnet-a'] }, 'subnetIds must list subnets in at least two zones'],
    [{ gpuSpot: { instanceTypes: [], min: 0, max: 1, desired: 0 } }, 'gpuSpot.instanceTypes must list at least one type'],
    [{ cpuNodes: { instanceTypes: ['m7i.large'], min: 3, max: 2, desired: 2 } }, 'cpuNodes needs min <= desired <= max, got 3/2/2'],
    [{ controlPlaneLogTypes: ['kubelet'] }, 'controlPlaneLogTypes has an unknown log type "kubelet"'],
  ])('rejects invalid props %j', (override, message) => {
    expect(() => synth(override as Partial<InferenceClusterProps>)).toThrow(`InferenceCluster cluster: ${message}`);
  });
});
