import { ExistingSecret } from '../../../constructs/data/existing-secret';
import { GeneratedSecret } from '../../../constructs/data/generated-secret';
import { resourceList, synthConstruct } from '../../support/synth';

const KEY = (region: string) => `arn:aws:kms:${region}:123456789012:key/0000aaaa-bbbb-cccc-dddd-eeeeffff0000`;

describe('GeneratedSecret replicated to other regions', () => {
  const props = { name: 'surgeguard/prod/cross-region-key', description: 'x', kmsKeyArn: KEY('us-east-1'), region: 'us-east-1', replicas: [{ region: 'eu-west-1', kmsKeyArn: KEY('eu-west-1') }, { region: 'ap-northeast-1' }] };

  it('keeps a replica in each region, under that region\'s key when one is given', () => {
    const tf = synthConstruct((s) => new GeneratedSecret(s, 'Key', props), { awsRegion: 'us-east-1' });
    const [secret] = resourceList(tf, 'aws_secretsmanager_secret');
    expect(secret.replica).toEqual([{ region: 'eu-west-1', kms_key_id: KEY('eu-west-1') }, { region: 'ap-northeast-1' }]);
  });

  it('grants a role the copy of one region only, with that region\'s key only', () => {
    const tf = synthConstruct(
      (s) => {
        const key = new GeneratedSecret(s, 'Key', props);
        key.grantRead('eu-proxy', 'EuRead', 'eu-west-1');
        key.grantRead('ap-proxy', 'ApRead', 'ap-northeast-1');
        key.grantRead('us-proxy', 'UsRead', 'us-east-1');
      },
      { awsRegion: 'us-east-1' },
    );
    const docs = tf.data!.aws_iam_policy_document;
    const doc = (id: string) => Object.entries(docs).find(([k]) => k.includes(id))![1].statement;
    expect(doc('EuRead')[0].resources[0]).toMatch(/^\$\{replace\(aws_secretsmanager_secret\.[^.]+\.arn, ":secretsmanager:us-east-1:", ":secretsmanager:eu-west-1:"\)\}$/);
    expect(doc('EuRead')[1]).toMatchObject({ actions: ['kms:Decrypt'], resources: [KEY('eu-west-1')] });
    // the aws/secretsmanager key needs no grant
    expect(doc('ApRead')).toHaveLength(1);
    expect(doc('UsRead')[0].resources[0]).toMatch(/^\$\{aws_secretsmanager_secret\.[^.]+\.arn\}$/);
    expect(doc('UsRead')[1]).toMatchObject({ resources: [KEY('us-east-1')] });
  });

  it('refuses replicas without the primary\'s region, a region twice, and a grant for a region without a copy, naming the field', () => {
    expect(() => synthConstruct((s) => new GeneratedSecret(s, 'Key', { ...props, region: undefined }))).toThrow(/GeneratedSecret.*Key.*region/);
    expect(() => synthConstruct((s) => new GeneratedSecret(s, 'Key', { ...props, replicas: [{ region: 'us-east-1' }] }))).toThrow(/replicas\[0\]\.region/);
    expect(() => synthConstruct((s) => new GeneratedSecret(s, 'Key', { ...props, replicas: [{ region: 'eu-west-1' }, { region: 'eu-west-1' }] }))).toThrow(/replicas\[1\]\.region/);
    expect(() => synthConstruct((s) => new GeneratedSecret(s, 'Key', props).grantRead('r', 'R', 'sa-east-1'))).toThrow(/no replica in sa-east-1/);
  });

  it('synthesizes no replica block for a secret of one region (existing secrets unchanged)', () => {
    const tf = synthConstruct((s) => new GeneratedSecret(s, 'Key', { name: 'n/x', description: 'x' }), { awsRegion: 'us-east-1' });
    expect(resourceList(tf, 'aws_secretsmanager_secret')[0].replica).toBeUndefined();
  });
});

describe('ExistingSecret', () => {
  it('finds the secret by name and grants its ARN only', () => {
    const tf = synthConstruct((s) => new ExistingSecret(s, 'Provider', { name: 'surgeguard/prod/deepseek-api-key' }).grantRead('proxy'), { awsRegion: 'us-east-1' });
    const [[id, data]] = Object.entries(tf.data!.aws_secretsmanager_secret);
    expect(data).toMatchObject({ name: 'surgeguard/prod/deepseek-api-key' });
    const [doc] = Object.values(tf.data!.aws_iam_policy_document) as any[];
    expect(doc.statement).toEqual([expect.objectContaining({ resources: [`\${data.aws_secretsmanager_secret.${id}.arn}`] })]);
    expect(resourceList(tf, 'aws_iam_role_policy')[0]).toMatchObject({ role: 'proxy', name: 'surgeguard-prod-deepseek-api-key-read' });
  });

  it('refuses an ARN or a value where the name belongs, naming construct, id and field', () => {
    expect(() => synthConstruct((s) => new ExistingSecret(s, 'Provider', { name: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf' }))).toThrow(/ExistingSecret.*Provider.*name/);
    expect(() => synthConstruct((s) => new ExistingSecret(s, 'Provider', { name: 'sk live key' }))).toThrow(/ExistingSecret.*Provider.*name/);
    expect(() => synthConstruct((s) => new ExistingSecret(s, 'Provider', { name: 'n', kmsKeyArn: 'alias/x' }))).toThrow(/kmsKeyArn/);
  });
});
