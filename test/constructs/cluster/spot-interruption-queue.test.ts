import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { TerraformStack, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { INTERRUPTION_EVENT_PATTERNS, SpotInterruptionQueue } from '../../../constructs/cluster/spot-interruption-queue';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(build: (scope: Construct) => void): Resources {
  return synthConstruct(build).resource as Resources;
}

describe('SpotInterruptionQueue', () => {
  it('feeds one queue from a rule per interruption event kind, admitting only those rules', () => {
    const r = synth((s) => new SpotInterruptionQueue(s, 'interruption', { namePrefix: 'c1' }));
    expect(Object.keys(r.aws_sqs_queue)).toEqual(['interruption-queue']);
    expect(r.aws_sqs_queue['interruption-queue']).toMatchObject({ name: 'c1-interruptions', sqs_managed_sse_enabled: true });
    expect(Object.keys(r.aws_cloudwatch_event_rule).sort()).toEqual(Object.keys(INTERRUPTION_EVENT_PATTERNS).map((k) => `interruption-${k}`).sort());
    expect(Object.keys(r.aws_cloudwatch_event_target)).toHaveLength(Object.keys(INTERRUPTION_EVENT_PATTERNS).length);
    expect(Object.keys(r.aws_sqs_queue_policy)).toEqual(['interruption-queue-policy']);
  });

  it('grants the handler role consumption of the queue and the describe calls it needs', () => {
    const tf = (() => {
      const app = Testing.app();
      const stack = new TerraformStack(app, 'test');
      const q = new SpotInterruptionQueue(stack, 'interruption', { namePrefix: 'c1' });
      const role = new IamRole(stack, 'nth', { assumeRolePolicy: '{}' });
      q.grantHandler('nth-policy', role);
      return JSON.parse(Testing.synth(stack));
    })();
    expect(tf.resource.aws_iam_role_policy['nth-policy']).toMatchObject({ name: 'interruption-queue', role: '${aws_iam_role.nth.id}' });
    const statements = tf.data.aws_iam_policy_document['nth-policy-doc'].statement;
    expect(statements.map((s: any) => s.sid)).toEqual(['ConsumeInterruptionQueue', 'DescribeInstancesAndGroups']);
    expect(statements[0].resources).toEqual(['${aws_sqs_queue.interruption-queue.arn}']);
  });
});
