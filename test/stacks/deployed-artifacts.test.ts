import { createHash } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { ENVIRONMENTS } from '../../envs';
import { InferenceWorkloads, InferenceWorkloadsProps } from '../../constructs/workloads/inference-workloads';
import { RuntimeArtifactObjects } from '../../constructs/artifacts/runtime-artifact-objects';
import { loadRuntimeArtifacts, RUNTIME_NODE_IMAGE } from '../../constructs/artifacts/runtime-artifacts';
import { LAUNCHER_ENV } from '../../contract/launcher';
import { stackNames } from '../../stacks';
import { synthApp, SynthesizedApp, synthConstruct, TfJson } from '../support/synth';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const values = (tf: TfJson, type: string): any[] => Object.values(tf.resource?.[type] ?? {});
const deployment = (tf: TfJson, name: string) => values(tf, 'kubernetes_deployment_v1').find((d) => d.metadata.name === name);

/** The `npm run bundle` output in dist/artifacts (scripts/test.sh bundles before jest). */
const bundles = loadRuntimeArtifacts();

describe('the synthesized workloads run the bundles npm run bundle produced', () => {
  let synth: SynthesizedApp;
  let workloads: TfJson;
  let platform: TfJson;
  beforeAll(() => {
    synth = synthApp([ENVIRONMENTS.dev]);
    const region = ENVIRONMENTS.dev.regions[0].region;
    workloads = synth.stack(stackNames.workloads('dev', region));
    platform = synth.stack(stackNames.platform('dev', region));
  });
  afterAll(() => rmSync(synth.outdir, { recursive: true, force: true }));

  it.each(['proxy', 'worker'] as const)('the %s Deployment fetches exactly the bundle and source map of the manifest, by SHA-256', (name) => {
    const a = bundles[name];
    const pod = deployment(workloads, `surgeguard-${name}`).spec.template.spec;
    expect(pod.container[0].command).toEqual(['node', `/opt/surgeguard/${name}.js`]);
    const init = pod.init_container[0];
    const env = Object.fromEntries(init.env.map((e: any) => [e.name, e.value]));
    expect(JSON.parse(env[LAUNCHER_ENV.files])).toEqual([
      { key: `${name}/${a.sha256}/${name}.js`, sha256: a.sha256, file: `${name}.js` },
      { key: `${name}/${a.sourceMap.sha256}/${name}.js.map`, sha256: a.sourceMap.sha256, file: `${name}.js.map` },
    ]);
    expect(deployment(workloads, `surgeguard-${name}`).spec.template.metadata.annotations['surgeguard.io/artifact-sha256']).toBe(a.sha256);
  });

  it('uploads those same bytes: every artifact object is a synthesized asset whose content hashes to its key', () => {
    const objects = values(workloads, 'aws_s3_object');
    expect(objects.map((o) => o.key).sort()).toEqual(
      [bundles.proxy, bundles.worker].flatMap((a) => [`${a.name}/${a.sha256}/${a.name}.js`, `${a.name}/${a.sourceMap.sha256}/${a.name}.js.map`]).sort(),
    );
    for (const o of objects) {
      const file = join(synth.outdir, 'stacks', stackNames.workloads('dev', ENVIRONMENTS.dev.regions[0].region), o.source);
      expect(sha256(readFileSync(file))).toBe(o.key.split('/')[1]);
      expect(o).toMatchObject({ server_side_encryption: 'aws:kms', checksum_algorithm: 'SHA256' });
    }
  });

  it('pins every proxy and worker container, init containers included, to the Node image by digest', () => {
    for (const name of ['surgeguard-proxy', 'surgeguard-worker']) {
      const pod = deployment(workloads, name).spec.template.spec;
      for (const c of [...pod.init_container, ...pod.container]) expect(c.image).toBe(RUNTIME_NODE_IMAGE.reference);
    }
    expect(RUNTIME_NODE_IMAGE.reference).toMatch(/^docker\.io\/library\/node@sha256:[0-9a-f]{64}$/);
  });

  it("lets each runtime's role read only its own two objects, and decrypt only through S3", () => {
    const docs = Object.values(workloads.data?.aws_iam_policy_document ?? {}).filter((d: any) => d.statement.some((s: any) => s.sid === 'ReadOwnArtifact'));
    expect(docs).toHaveLength(2);
    for (const name of ['proxy', 'worker'] as const) {
      const doc: any = docs.find((d: any) => d.statement[0].resources[0].includes(`/${name}/`));
      const read = doc.statement.find((s: any) => s.sid === 'ReadOwnArtifact');
      expect(read.actions).toEqual(['s3:GetObject']);
      expect(read.resources.map((r: string) => r.replace(/^.*arn\}\//, ''))).toEqual([
        `${name}/${bundles[name].sha256}/${name}.js`,
        `${name}/${bundles[name].sourceMap.sha256}/${name}.js.map`,
      ]);
      const decrypt = doc.statement.find((s: any) => s.sid === 'DecryptThroughS3');
      expect(decrypt).toMatchObject({ actions: ['kms:Decrypt'], condition: [{ variable: 'kms:ViaService', values: ['s3.us-east-1.amazonaws.com'] }] });
    }
    const policies = values(workloads, 'aws_iam_role_policy');
    expect(policies.map((p) => p.role).sort()).toEqual([expect.stringContaining('proxy-role'), expect.stringContaining('worker-role')]);
  });

  it('keeps the bucket private, versioned and encrypted with its own rotated key', () => {
    const bucket = values(platform, 'aws_s3_bucket').find((b) => String(b.bucket_prefix).endsWith('-artifacts-'));
    expect(bucket).toBeDefined();
    expect(values(platform, 'aws_s3_bucket_versioning').some((v) => v.versioning_configuration.status === 'Enabled' && String(v.bucket).includes('artifacts'))).toBe(true);
    const sse = values(platform, 'aws_s3_bucket_server_side_encryption_configuration').find((e) => String(e.bucket).includes('artifacts'));
    expect(sse.rule[0]).toMatchObject({ apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms' }, bucket_key_enabled: true });
    expect(values(platform, 'aws_s3_bucket_public_access_block').find((p) => String(p.bucket).includes('artifacts'))).toMatchObject({
      block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true,
    });
    expect(values(platform, 'aws_kms_key').find((k) => String(k.description).includes('runtime artifacts'))).toMatchObject({ enable_key_rotation: true });
  });
});

describe('InferenceWorkloads runtime source validation', () => {
  const props = (over: Partial<InferenceWorkloadsProps['proxy']>): InferenceWorkloadsProps => ({
    appNamespace: 'app',
    inferenceNamespace: 'inference',
    modelServer: {
      image: `vllm/vllm-openai:v0.8.5@sha256:${'d'.repeat(64)}`,
      modelId: 'm',
      servedModelName: 'm',
      tensorParallelSize: 1,
      maxConcurrentSequences: 8,
      weights: { s3Uri: 's3://weights-bucket-example/m/', region: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/model-server' },
    },
    proxy: { config: {}, roleArn: 'arn:aws:iam::123456789012:role/p', ...over },
    worker: { config: {}, image: `r.example.com/worker@sha256:${'c'.repeat(64)}` },
  });
  const build = (p: InferenceWorkloadsProps) => () =>
    synthConstruct((scope) => {
      new KubernetesProvider(scope, 'k8s', {});
      new InferenceWorkloads(scope, 'W', p);
    });

  it('rejects an image pinned by tag only, naming the field', () => {
    expect(build(props({ image: 'r.example.com/proxy:1.0.0' }))).toThrow('InferenceWorkloads W: proxy.image must be pinned by digest (<repository>@sha256:<64 hex digits>), got "r.example.com/proxy:1.0.0"');
  });

  it('needs exactly one of artifact and image', () => {
    expect(build(props({}))).toThrow('InferenceWorkloads W: proxy.artifact and image: set exactly one');
  });

  it('needs the role the artifact grants read to', () => {
    expect(
      build(
        props({
          roleArn: undefined,
          artifact: { name: 'proxy', sha256: bundles.proxy.sha256, files: [], bucketName: 'b', region: 'us-east-1' } as unknown as RuntimeArtifactObjects,
        }),
      ),
    ).toThrow('InferenceWorkloads W: proxy.roleArn is required with artifact');
  });
});
