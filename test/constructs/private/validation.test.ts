import { TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { InferenceCluster } from '../../../constructs/cluster/inference-cluster';
import { RedisCluster } from '../../../constructs/data/redis-cluster';
import { RegionalLoadBalancer } from '../../../constructs/entry/regional-load-balancer';
import { isUnresolved, LOG_RETENTION_DAYS, PropsValidator } from '../../../constructs/private/validation';
import { LOG_RETENTION_DAYS as ENV_LOG_RETENTION_DAYS } from '../../../envs/validate';

describe('PropsValidator', () => {
  const v = new PropsValidator('Thing', 'my-thing');

  it('words every error as `<Construct> <id>: <prop> <problem>`', () => {
    expect(() => v.fail('size', 'must be small')).toThrow(new Error('Thing my-thing: size must be small'));
    expect(() => v.nested('proxy').wholeNumber('minReplicas', 0, 1)).toThrow('Thing my-thing: proxy.minReplicas must be a whole number >= 1, got 0');
    expect(() => v.ordered('maxReplicas', 1, 'minReplicas', 2)).toThrow('Thing my-thing: maxReplicas (1) is below minReplicas (2)');
    expect(() => v.logRetention('logRetentionDays', 42)).toThrow('Thing my-thing: logRetentionDays 42 is not a CloudWatch Logs retention value');
    expect(() => v.unique('regions', ['a', 'b', 'a'], (d) => `lists "${String(d)}" twice`)).toThrow('Thing my-thing: regions lists "a" twice');
  });

  it('lets values Terraform resolves later pass every check (variables, attributes, token lists)', () => {
    const stack = new TerraformStack(Testing.app(), 'test');
    const text = new TerraformVariable(stack, 'text', { type: 'string' }).stringValue;
    const count = new TerraformVariable(stack, 'count', { type: 'number' }).numberValue;
    const list = new TerraformVariable(stack, 'list', { type: 'list(string)' }).listValue;
    expect([text, count, list].map(isUnresolved)).toEqual([true, true, true]);
    expect(isUnresolved('plain')).toBe(false);
    expect(isUnresolved(3)).toBe(false);
    expect(() => {
      v.matches('name', text, /^[a-z]+$/, 'bad');
      v.wholeNumber('count', count, 1, 8);
      v.logRetention('logRetentionDays', count);
      v.ordered('max', count, 'min', 3);
      v.atLeast('subnetIds', list, 2, 'too few');
      v.unique('subnetIds', [text, text], () => 'twice');
    }).not.toThrow();
  });

  it('keeps one list of CloudWatch Logs retention values, the one envs/ checks against', () => {
    expect(ENV_LOG_RETENTION_DAYS).toBe(LOG_RETENTION_DAYS);
  });
});

describe('constructs given Terraform variables as props', () => {
  it('synthesize, leaving the values to Terraform, where a literal would be checked', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'test');
    const str = (id: string) => new TerraformVariable(stack, id, { type: 'string' }).stringValue;
    const num = (id: string) => new TerraformVariable(stack, id, { type: 'number' }).numberValue;
    const list = (id: string) => new TerraformVariable(stack, id, { type: 'list(string)' }).listValue;
    new InferenceCluster(stack, 'cluster', {
      name: 'c1',
      region: 'us-east-1',
      kubernetesVersion: str('k8s_version'),
      subnetIds: list('subnets'),
      logRetentionDays: num('retention'),
      cpuNodes: { instanceTypes: ['m7i.large'], min: 1, max: num('cpu_max'), desired: 1 },
      gpuOnDemand: { instanceTypes: ['g6.xlarge'], min: 0, max: 0, desired: 0 },
      gpuSpot: { instanceTypes: ['g6.xlarge'], min: 0, max: 0, desired: 0 },
    });
    new RedisCluster(stack, 'Redis', {
      name: 'sg-test',
      vpcId: 'vpc-1',
      subnetIds: list('redis_subnets'),
      // One ingress rule per client group: the groups must be known at synth.
      allowedSecurityGroupIds: ['sg-clients'],
      shards: num('shards'),
      replicasPerShard: 1,
      alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:alarms',
    });
    new RegionalLoadBalancer(stack, 'lb', {
      name: 'lb',
      vpcId: 'vpc-1',
      // One static address per public subnet: the subnets must be known at synth.
      publicSubnetIds: ['subnet-p1', 'subnet-p2'],
      privateSubnetIds: ['subnet-q1', 'subnet-q2'],
      domainName: 'api.example.com',
      targetSecurityGroupId: 'sg-nodes',
      certificateArn: str('certificate'),
      targetPort: num('port'),
      idleTimeoutSeconds: num('idle'),
    });
    const tf = JSON.parse(Testing.synth(stack));
    expect(Object.values(tf.resource.aws_eks_cluster)[0]).toMatchObject({ version: '${var.k8s_version}' });
    expect(Object.values(tf.resource.aws_elasticache_replication_group)[0]).toMatchObject({ num_node_groups: '${var.shards}' });
    expect(Object.values(tf.resource.aws_lb).map((lb: any) => lb.idle_timeout)).toContain('${var.idle}');
  });
});
