import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WEIGHTS_MANIFEST_FILE, WEIGHTS_STAGE_SCRIPT, WeightsStagingJob, WeightsStagingJobProps } from '../../../constructs/workloads/weights-staging';
import { onlyResource, synthConstruct } from '../../support/synth';

const IMAGE = `vllm/vllm-openai:v0.8.5@sha256:${'ab'.repeat(32)}`;
const props: WeightsStagingJobProps = {
  namespace: 'surgeguard-inference',
  image: IMAGE,
  modelId: 'deepseek-ai/DeepSeek-V3',
  revision: 'main',
  bucketName: 'surgeguard-prod-use1-weights-x',
  prefix: 'deepseek-ai/DeepSeek-V3',
  kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/k',
  roleArn: 'arn:aws:iam::123456789012:role/stager',
  region: 'us-east-1',
  weightsGB: 690,
};

/** Runs the staging script's pure functions with python3 (no boto3 or huggingface_hub needed). */
function python(expression: string): unknown {
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-stage-'));
  try {
    writeFileSync(join(dir, 'stage_weights.py'), WEIGHTS_STAGE_SCRIPT);
    const run = spawnSync('python3', ['-c', `import json, sys; sys.path.insert(0, ${JSON.stringify(dir)}); import stage_weights as s; print(json.dumps(${expression}))`], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (run.status !== 0) throw new Error(run.stderr);
    return JSON.parse(run.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the weights staging script', () => {
  const files = { 'model-00001.safetensors': 'sha-a', 'model-00002.safetensors': 'sha-b', 'config.json': 'blob-c' };

  it('compiles (python3)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'surgeguard-stage-'));
    try {
      writeFileSync(join(dir, 'stage_weights.py'), WEIGHTS_STAGE_SCRIPT);
      const run = spawnSync('python3', ['-m', 'py_compile', join(dir, 'stage_weights.py')], { encoding: 'utf8', timeout: 30_000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('copies every file into an empty prefix', () => {
    expect(python(`s.plan(${JSON.stringify(files)}, {}, None, "c1")`)).toEqual({
      action: 'copy',
      copy: ['config.json', 'model-00001.safetensors', 'model-00002.safetensors'],
      reason: '3 of 3 files to copy',
    });
  });

  it('resumes an interrupted run: only the files whose S3 copy is missing or differs', () => {
    const existing = { 'model-00001.safetensors': 'sha-a', 'model-00002.safetensors': 'sha-old' };
    expect(python(`s.plan(${JSON.stringify(files)}, ${JSON.stringify(existing)}, None, "c1")`)).toMatchObject({
      action: 'copy',
      copy: ['config.json', 'model-00002.safetensors'],
    });
  });

  it('skips a prefix whose manifest names the same commit and whose files all match', () => {
    const manifest = { model: 'm', commit: 'c1', files };
    expect(python(`s.plan(${JSON.stringify(files)}, ${JSON.stringify(files)}, ${JSON.stringify(manifest)}, "c1")`)).toEqual({
      action: 'skip',
      copy: [],
      reason: 'commit c1 is staged: all 3 files match',
    });
    // Same commit, but a file was removed from S3 since: copy it again.
    const { 'config.json': _removed, ...missing } = files;
    expect(python(`s.plan(${JSON.stringify(files)}, ${JSON.stringify(missing)}, ${JSON.stringify(manifest)}, "c1")`)).toMatchObject({ action: 'copy', copy: ['config.json'] });
  });

  it('refuses to stage another commit over a staged one (no mixed revisions under running servers)', () => {
    const manifest = { model: 'm', commit: 'c1', files };
    expect(python(`s.plan(${JSON.stringify(files)}, {}, ${JSON.stringify(manifest)}, "c2")`)).toEqual({
      action: 'refuse',
      copy: [],
      reason: expect.stringContaining(`the prefix holds commit c1; staging c2 into it would mix revisions`),
    });
    expect(python(`s.MANIFEST`)).toBe(WEIGHTS_MANIFEST_FILE);
  });

  it('stages weights, configs and tokenizer files, not READMEs, images or dotfiles', () => {
    const paths = ['model-00001-of-00163.safetensors', 'config.json', 'tokenizer.json', 'tokenizer.model', 'README.md', 'figures/benchmark.png', '.gitattributes', 'inference/.hidden.py'];
    expect(python(`[p for p in ${JSON.stringify(paths)} if s.wanted(p)]`)).toEqual(['model-00001-of-00163.safetensors', 'config.json', 'tokenizer.json', 'tokenizer.model']);
  });
});

describe('WeightsStagingJob', () => {
  it('runs the script once per revision on the CPU pool, non-root, with the staging role, without holding the apply', () => {
    const tf = synthConstruct((s) => new WeightsStagingJob(s, 'stage', props), { kubernetes: true });
    const job = onlyResource(tf, 'kubernetes_job_v1');
    expect(job.wait_for_completion).toBe(false);
    expect(job.metadata.labels['surgeguard.io/model-revision']).toBe('main');
    // 690 GB at 50 MB/s, twice over.
    expect(job.spec.active_deadline_seconds).toBe(27_600);
    expect(job.spec.backoff_limit).toBe(3);
    const pod = job.spec.template.spec;
    expect(pod.restart_policy).toBe('Never');
    expect(pod.node_selector).toEqual({ 'surgeguard.io/pool': 'cpu' });
    expect(pod.security_context).toMatchObject({ run_as_non_root: true, run_as_user: '1000' });
    const [container] = pod.container;
    expect(container.image).toBe(IMAGE);
    expect(container.command).toEqual(['python3', '/opt/surgeguard/stage_weights.py']);
    expect(container.security_context).toMatchObject({ read_only_root_filesystem: true, allow_privilege_escalation: false, capabilities: { drop: ['ALL'] } });
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
    // A gated model's hub token comes from an optional Secret made by hand: never a value in the synth.
    expect(container.env.find((e: any) => e.name === 'HF_TOKEN')).toEqual({
      name: 'HF_TOKEN',
      value_from: { secret_key_ref: { name: 'surgeguard-hf-token', key: 'token', optional: true } },
    });
    expect(env).toMatchObject({ MODEL_ID: 'deepseek-ai/DeepSeek-V3', MODEL_REVISION: 'main', WEIGHTS_PREFIX: 'deepseek-ai/DeepSeek-V3', WEIGHTS_KMS_KEY_ARN: props.kmsKeyArn, TMPDIR: '/scratch' });
    const sa = onlyResource(tf, 'kubernetes_service_account_v1');
    expect(sa.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': props.roleArn });
    expect(pod.service_account_name).toMatch(/kubernetes_service_account_v1\..+\.metadata\[0\]\.name/);
    const script = onlyResource(tf, 'kubernetes_config_map_v1');
    expect(script.data['stage_weights.py']).toBe(WEIGHTS_STAGE_SCRIPT);
  });

  it('refuses an image without a digest, a revision that is no ref, and a non-positive size', () => {
    expect(() => synthConstruct((s) => new WeightsStagingJob(s, 'stage', { ...props, image: 'vllm/vllm-openai:v0.8.5' }), { kubernetes: true })).toThrow('must be pinned by digest');
    expect(() => synthConstruct((s) => new WeightsStagingJob(s, 'stage', { ...props, revision: 'main; rm -rf /' }), { kubernetes: true })).toThrow('revision');
    expect(() => synthConstruct((s) => new WeightsStagingJob(s, 'stage', { ...props, weightsGB: 0 }), { kubernetes: true })).toThrow('weightsGB');
  });
});
