import { rmSync } from 'fs';
import { DeployRunner, DeployRunnerProps, RUNNER_IMAGE, RUNNER_TERRAFORM_VERSION, runnerBuildspec } from '../../../constructs/deploy/deploy-runner';
import { ENVIRONMENTS } from '../../../envs';
import { stackNames } from '../../../stacks';
import { onlyResource, resourceList, SynthesizedApp, synthApp, synthConstruct, TfJson } from '../../support/synth';

jest.setTimeout(120_000);

const base: DeployRunnerProps = {
  name: 'surgeguard-prod-use1',
  region: 'us-east-1',
  vpcId: 'vpc-1',
  subnetIds: ['subnet-a', 'subnet-b'],
  clusterName: 'surgeguard-prod-use1',
  clusterSecurityGroupId: 'sg-cluster',
  stateBucket: 'state-bucket',
  readStateKeys: ['p/prod-us-east-1.tfstate'],
  writeStateKeys: ['p/prod-us-east-1-addons.tfstate', 'p/prod-us-east-1-workloads.tfstate'],
  bundleKey: 'p/deploy-bundles/prod-us-east-1.zip',
  stacks: ['prod-us-east-1-addons', 'prod-us-east-1-workloads'],
};
const synth = (props: Partial<DeployRunnerProps> = {}) => synthConstruct((s) => new DeployRunner(s, 'runner', { ...base, ...props }), { awsRegion: 'us-east-1' });
const policyStatements = (tf: TfJson) => {
  const docs = tf.data!.aws_iam_policy_document;
  const id = Object.keys(docs).find((k) => k.includes('runner_policy-doc'))!;
  return docs[id].statement as any[];
};
const statement = (tf: TfJson, sid: string) => policyStatements(tf).find((s) => s.sid === sid);

describe('DeployRunner', () => {
  it('runs builds only in the given private subnets, behind an egress-only security group, never privileged', () => {
    const tf = synth();
    const project = onlyResource(tf, 'aws_codebuild_project');
    expect(project.vpc_config).toEqual({ vpc_id: 'vpc-1', subnets: ['subnet-a', 'subnet-b'], security_group_ids: [expect.stringContaining('aws_security_group.')] });
    expect(project.environment.privileged_mode).toBe(false);
    expect(project.concurrent_build_limit).toBe(1);
    expect(resourceList(tf, 'aws_vpc_security_group_ingress_rule')).toEqual([
      expect.objectContaining({ security_group_id: 'sg-cluster', from_port: 443, to_port: 443, ip_protocol: 'tcp', referenced_security_group_id: expect.stringContaining('aws_security_group.') }),
    ]);
    const egress = resourceList(tf, 'aws_vpc_security_group_egress_rule');
    expect(egress).toHaveLength(1);
    expect(egress[0]).toMatchObject({ from_port: 443, to_port: 443 });
  });

  it('encrypts its build logs and build output with its own rotated key that Logs may use for that log group only', () => {
    const tf = synth();
    const key = onlyResource(tf, 'aws_kms_key');
    expect(key.enable_key_rotation).toBe(true);
    const logs = onlyResource(tf, 'aws_cloudwatch_log_group');
    expect(logs.name).toBe('/aws/codebuild/surgeguard-prod-use1-deploy');
    expect(logs.kms_key_id).toMatch(/aws_kms_key\..*\.arn/);
    expect(onlyResource(tf, 'aws_codebuild_project').encryption_key).toMatch(/aws_kms_key\..*\.arn/);
    const keyDoc = Object.entries(tf.data!.aws_iam_policy_document).find(([k]) => k.includes('key-policy'))![1] as any;
    const logsStatement = keyDoc.statement.find((s: any) => s.sid === 'CloudWatchLogsEncryptsBuildLogs');
    expect(logsStatement.condition[0].values[0]).toMatch(/:log-group:\/aws\/codebuild\/surgeguard-prod-use1-deploy$/);
    expect(onlyResource(tf, 'aws_codebuild_project').logs_config.cloudwatch_logs).toMatchObject({ status: 'ENABLED' });
  });

  it('reads only the platform state and the bundle, writes only the state and lock files of the stacks it applies', () => {
    const tf = synth();
    const objects = (sid: string) => statement(tf, sid).resources;
    expect(statement(tf, 'ReadPlatformState')).toMatchObject({ actions: ['s3:GetObject'] });
    expect(objects('ReadPlatformState')).toEqual([expect.stringMatching(/:s3:::state-bucket\/p\/prod-us-east-1\.tfstate$/)]);
    expect(objects('ReadBundle')).toEqual([expect.stringMatching(/:s3:::state-bucket\/p\/deploy-bundles\/prod-us-east-1\.zip$/)]);
    expect(statement(tf, 'WriteOwnStateAndLocks').actions).toEqual(['s3:GetObject', 's3:PutObject', 's3:DeleteObject']);
    expect(objects('WriteOwnStateAndLocks').map((a: string) => a.replace(/^.*:s3:::state-bucket\//, ''))).toEqual([
      'p/prod-us-east-1-addons.tfstate',
      'p/prod-us-east-1-addons.tfstate.tflock',
      'p/prod-us-east-1-workloads.tfstate',
      'p/prod-us-east-1-workloads.tfstate.tflock',
    ]);
    // No statement grants a wildcard action, and only the VPC-networking calls (no resource-level support) use `*`.
    for (const s of policyStatements(tf)) {
      expect(s.actions.some((a: string) => a.endsWith(':*') || a === '*')).toBe(false);
      if (s.resources.includes('*')) expect(s.sid).toBe('BuildInVpc');
    }
    expect(statement(tf, 'BuildInOwnSubnets').condition).toContainEqual(expect.objectContaining({ variable: 'ec2:Subnet', values: [expect.stringMatching(/:subnet\/subnet-a$/), expect.stringMatching(/:subnet\/subnet-b$/)] }));
    expect(statement(tf, 'StateKey')).toBeUndefined();
    const withKey = synth({ stateKmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' });
    expect(statement(withKey, 'StateKey').resources).toEqual(['arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab']);
  });

  it('is trusted by CodeBuild of its own account only and is cluster-admin through an EKS access entry', () => {
    const tf = synth();
    const trust = Object.entries(tf.data!.aws_iam_policy_document).find(([k]) => k.includes('trust'))![1] as any;
    expect(trust.statement[0].principals).toEqual([{ type: 'Service', identifiers: ['codebuild.amazonaws.com'] }]);
    expect(trust.statement[0].condition[0]).toMatchObject({ variable: 'aws:SourceAccount' });
    expect(onlyResource(tf, 'aws_eks_access_entry')).toMatchObject({ cluster_name: 'surgeguard-prod-use1', type: 'STANDARD', principal_arn: expect.stringContaining('aws_iam_role.') });
    const association = onlyResource(tf, 'aws_eks_access_policy_association');
    expect(association.policy_arn).toMatch(/:eks::aws:cluster-access-policy\/AmazonEKSClusterAdminPolicy$/);
    expect(association.access_scope).toEqual({ type: 'cluster' });
  });

  it('installs the pinned Terraform from HashiCorp’s GPG-checked repository and applies the stacks in order', () => {
    const spec = runnerBuildspec(['a-addons', 'a-workloads']);
    expect(spec).toContain('rpm.releases.hashicorp.com');
    expect(spec).toContain(`terraform-${RUNNER_TERRAFORM_VERSION}`);
    expect(spec).toContain('STACKS: "a-addons a-workloads"');
    expect(spec).toContain('shell: bash');
    expect(onlyResource(synth(), 'aws_codebuild_project').environment.image).toBe(RUNNER_IMAGE);
    expect(onlyResource(synth(), 'aws_codebuild_project').source).toMatchObject({ type: 'S3', location: 'state-bucket/p/deploy-bundles/prod-us-east-1.zip' });
  });

  it('takes a custom image only from ECR by digest, and then may pull exactly that repository', () => {
    const image = `111122223333.dkr.ecr.us-east-1.amazonaws.com/tools/deploy@sha256:${'a'.repeat(64)}`;
    const tf = synth({ image });
    expect(onlyResource(tf, 'aws_codebuild_project').environment).toMatchObject({ image, image_pull_credentials_type: 'SERVICE_ROLE' });
    expect(statement(tf, 'PullImage').resources).toEqual([expect.stringMatching(/:ecr:us-east-1:111122223333:repository\/tools\/deploy$/)]);
    expect(() => synth({ image: 'hashicorp/terraform:1.11' })).toThrow(/image "hashicorp\/terraform:1.11" must be a CodeBuild curated image or pinned by digest/);
    expect(() => synth({ image: `docker.io/hashicorp/terraform@sha256:${'a'.repeat(64)}` })).toThrow(/must be in ECR/);
  });

  it('refuses props it cannot honour, naming the construct and the field', () => {
    expect(() => synth({ stacks: [] })).toThrow(/DeployRunner test\/runner: stacks must list at least one stack/);
    expect(() => synth({ writeStateKeys: [] })).toThrow(/writeStateKeys/);
    expect(() => synth({ readStateKeys: ['p/prod-us-east-1-addons.tfstate'] })).toThrow(/in both readStateKeys and writeStateKeys/);
    expect(() => synth({ subnetIds: [] })).toThrow(/subnetIds/);
    expect(() => synth({ stateKmsKeyId: 'alias/state' })).toThrow(/stateKmsKeyId "alias\/state" must be a KMS key ARN/);
    expect(() => synth({ logRetentionDays: 10 })).toThrow(/logRetentionDays 10/);
    expect(() => synth({ timeoutMinutes: 1 })).toThrow(/timeoutMinutes 1/);
  });
});

const { dev, staging, prod } = ENVIRONMENTS;

describe('the platform stack of every S3-state environment has a deploy runner for its private endpoint', () => {
  let app: SynthesizedApp;
  beforeAll(() => {
    app = synthApp([dev, staging, prod]);
  });
  afterAll(() => app && rmSync(app.outdir, { recursive: true, force: true }));

  it('gives prod and staging cells a runner scoped to their own add-ons and workloads state, and dev none (local state)', () => {
    for (const env of [prod, staging]) {
      const backend = env.backend as Extract<typeof env.backend, { type: 's3' }>;
      const prefix = backend.keyPrefix ?? `surgeguard/${env.name}`;
      for (const { region } of env.regions) {
        const platform = app.stack(stackNames.platform(env.name, region));
        const project = onlyResource(platform, 'aws_codebuild_project');
        expect(project.vpc_config.subnets).toHaveLength(env.regions.find((r) => r.region === region)!.azCount);
        expect(platform.output!.deploy_runner_project.value).toBe(project.name);
        const written = (statement(platform, 'WriteOwnStateAndLocks').resources as string[]).map((a) => a.replace(/^.*:s3:::/, ''));
        const own = [stackNames.addons(env.name, region), stackNames.workloads(env.name, region)];
        expect(written).toEqual(own.flatMap((s) => [`${backend.bucket}/${prefix}/${s}.tfstate`, `${backend.bucket}/${prefix}/${s}.tfstate.tflock`]));
        expect(statement(platform, 'ReadPlatformState').resources).toEqual([expect.stringContaining(`:s3:::${backend.bucket}/${prefix}/${stackNames.platform(env.name, region)}.tfstate`)]);
      }
    }
    for (const { region } of dev.regions) {
      expect(resourceList(app.stack(stackNames.platform(dev.name, region)), 'aws_codebuild_project')).toEqual([]);
    }
  });
});
