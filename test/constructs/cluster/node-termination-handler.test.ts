import { NodeTerminationHandler, NodeTerminationHandlerProps } from '../../../constructs/cluster/node-termination-handler';
import { onlyResource, synthConstruct } from '../../support/synth';

const base: NodeTerminationHandlerProps = {
  queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/surgeguard-prod-use1-interruptions',
  roleArn: 'arn:aws:iam::123456789012:role/surgeguard-prod-use1-kube-system-aws-node-termination-handler',
  region: 'us-east-1',
  // A test image: the digest only has to have the right shape here.
  image: `registry.example.com/aws-node-termination-handler:v1.25.3@sha256:${'0123456789abcdef'.repeat(4)}`,
};
const synth = (props: Partial<NodeTerminationHandlerProps> = {}) => synthConstruct((s) => new NodeTerminationHandler(s, 'nth', { ...base, ...props }));

describe('NodeTerminationHandler', () => {
  it('runs one queue processor on the CPU pool with the IRSA service account the role trusts', () => {
    const tf = synth();
    const sa = onlyResource(tf, 'kubernetes_service_account_v1');
    expect(sa.metadata).toMatchObject({
      name: 'aws-node-termination-handler',
      namespace: 'kube-system',
      annotations: { 'eks.amazonaws.com/role-arn': base.roleArn },
    });
    const deployment = onlyResource(tf, 'kubernetes_deployment_v1');
    expect(deployment.spec.replicas).toBe('1');
    const pod = deployment.spec.template.spec;
    expect(pod.node_selector).toEqual({ 'surgeguard.io/pool': 'cpu' });
    expect(pod.priority_class_name).toBe('system-cluster-critical');
    const env = Object.fromEntries(pod.container[0].env.filter((e: any) => e.value !== undefined).map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({
      ENABLE_SQS_TERMINATION_DRAINING: 'true',
      QUEUE_URL: base.queueUrl,
      AWS_REGION: 'us-east-1',
      CHECK_TAG_BEFORE_DRAINING: 'false',
      IGNORE_DAEMON_SETS: 'true',
      POD_TERMINATION_GRACE_PERIOD: '-1',
    });
    expect(pod.container[0].security_context).toMatchObject({
      allow_privilege_escalation: false,
      read_only_root_filesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('may cordon, drain and evict, and nothing else', () => {
    const role = onlyResource(synth(), 'kubernetes_cluster_role_v1');
    expect(role.rule).toEqual([
      { api_groups: [''], resources: ['nodes'], verbs: ['get', 'list', 'patch', 'update'] },
      { api_groups: [''], resources: ['pods'], verbs: ['get', 'list'] },
      { api_groups: [''], resources: ['pods/eviction'], verbs: ['create'] },
      { api_groups: ['apps'], resources: ['daemonsets'], verbs: ['get'] },
      { api_groups: [''], resources: ['events'], verbs: ['create'] },
    ]);
  });

  it('is ready only once its probes server answers, and restarted when it stops answering', () => {
    const c = onlyResource(synth(), 'kubernetes_deployment_v1').spec.template.spec.container[0];
    expect(c.readiness_probe.http_get).toEqual({ path: '/healthz', port: '8080' });
    expect(c.liveness_probe.http_get).toEqual({ path: '/healthz', port: '8080' });
  });

  it.each(['public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.25.3', 'public.ecr.aws/aws-ec2/aws-node-termination-handler@sha256:abc'])(
    'rejects the image %s (not pinned by a full digest)',
    (image) => {
      expect(() => synth({ image })).toThrow(`NodeTerminationHandler nth: image "${image}" must be pinned by digest`);
    },
  );

  it('rejects a negative grace period other than -1', () => {
    expect(() => synth({ podTerminationGracePeriodSeconds: -5 })).toThrow('NodeTerminationHandler nth: podTerminationGracePeriodSeconds -5 must be -1');
  });
});
