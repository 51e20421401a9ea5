import { WORKLOAD_NAMES } from '../../../contract/service';
import { TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import { ModelServer, ModelServerProps } from '../../../constructs/workloads/model-server';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(build: (scope: Construct) => void): Resources {
  return synthConstruct(build, { kubernetes: true }).resource as Resources;
}

const modelServer: ModelServerProps = {
  image: 'vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33',
  modelId: 'meta-llama/Llama-3.1-8B-Instruct',
  weights: { s3Uri: 's3://weights-bucket-example/meta-llama/Llama-3.1-8B-Instruct/', region: 'eu-west-1', roleArn: 'arn:aws:iam::123456789012:role/model-server' },
  servedModelName: 'llama-3.1-8b',
  tensorParallelSize: 1,
  maxConcurrentSequences: 64,
};

describe('ModelServer', () => {
  it('creates its Deployment, headless Service, HPA and PDB in the given scope under ids derived from its id', () => {
    const r = synth((s) => new ModelServer(s, 'Llama', { ...modelServer, namespace: 'models' }));
    expect(Object.keys(r.kubernetes_deployment_v1)).toEqual(["Llama"]);
    expect(Object.keys(r.kubernetes_service_v1)).toEqual(['LlamaService']);
    expect(Object.keys(r.kubernetes_horizontal_pod_autoscaler_v2)).toEqual(['LlamaHpa']);
    expect(Object.keys(r.kubernetes_pod_disruption_budget_v1)).toEqual(['LlamaPdb']);
    expect(r.kubernetes_service_v1.LlamaService.spec.cluster_ip).toBe('None');
    expect(r.kubernetes_deployment_v1.Llama.metadata.namespace).toBe('models');
  });

  it('exposes the in-cluster URL of its headless Service', () => {
    let url = '';
    synth((s) => (url = new ModelServer(s, 'm', { ...modelServer, namespace: 'models' }).url));
    expect(url).toMatch(new RegExp(`^http://${WORKLOAD_NAMES.modelServer}\\.models\\.svc\\.cluster\\.local:\\d+$`));
  });

  it.each([
    ['tensorParallelSize', { tensorParallelSize: 9 }],
    ['maxConcurrentSequences', { maxConcurrentSequences: 0 }],
    ['maxReplicas', { minReplicas: 3, maxReplicas: 2 }],
    ['image', { image: 'vllm/vllm-openai:v0.8.5' }],
    ['image', { image: 'vllm/vllm-openai:latest' }],
    ['weights.s3Uri', { weights: { ...modelServer.weights, s3Uri: 'https://huggingface.co/deepseek-ai/DeepSeek-V3' } }],
    ['gpuMemoryUtilization', { gpuMemoryUtilization: 0.99 }],
    ['startupSeconds', { startupSeconds: 10 }],
  ] as [string, Partial<ModelServerProps>][])('rejects a bad %s, naming the construct, its id and the prop', (prop, bad) => {
    expect(() => synth((s) => new ModelServer(s, 'm', { ...modelServer, ...bad, namespace: 'models' }))).toThrow(`ModelServer m: ${prop} `);
  });

  it('streams the weights from the regional S3 prefix with the Run:ai streamer, never from a hub', () => {
    const r = synth((s) => new ModelServer(s, 'm', { ...modelServer, namespace: 'models', maxModelLength: 16_384, gpuMemoryUtilization: 0.85 }));
    const c = r.kubernetes_deployment_v1.m.spec.template.spec.container[0];
    const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
    expect(arg('--model')).toBe(modelServer.weights.s3Uri);
    expect(arg('--load-format')).toBe('runai_streamer');
    expect(arg('--max-model-len')).toBe('16384');
    expect(arg('--gpu-memory-utilization')).toBe('0.85');
    const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', AWS_REGION: 'eu-west-1' });
    // No volume for downloaded weights: they go from S3 to GPU memory.
    expect(r.kubernetes_deployment_v1.m.spec.template.spec.volume.map((v: { name: string }) => v.name)).toEqual(['tmp', 'shm']);
  });

  it('runs under a service account whose IRSA role reads the weights', () => {
    const r = synth((s) => new ModelServer(s, 'm', { ...modelServer, namespace: 'models' }));
    const sa = r.kubernetes_service_account_v1.mServiceAccount;
    expect(sa.metadata.annotations['eks.amazonaws.com/role-arn']).toBe(modelServer.weights.roleArn);
    const pod = r.kubernetes_deployment_v1.m.spec.template.spec;
    expect(pod.service_account_name).toBe('${kubernetes_service_account_v1.mServiceAccount.metadata[0].name}');
    expect(pod.automount_service_account_token).toBe(true);
  });

  it('gives uid 1000 (no passwd entry in the vLLM image) a user name and writable caches, so torch inductor starts', () => {
    const r = synth((s) => new ModelServer(s, 'm', { ...modelServer, namespace: 'models' }));
    const pod = r.kubernetes_deployment_v1.m.spec.template.spec;
    expect(pod.security_context.run_as_user).toBe('1000');
    const env = Object.fromEntries(pod.container[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toMatchObject({ USER: 'vllm', LOGNAME: 'vllm', HOME: '/scratch', TORCHINDUCTOR_CACHE_DIR: '/scratch/torchinductor', TRITON_CACHE_DIR: '/scratch/triton', XDG_CACHE_HOME: '/scratch/.cache' });
    expect(pod.container[0].volume_mount).toContainEqual({ name: 'tmp', mount_path: '/scratch' });
  });

  it('sizes the startup probe from the given load time', () => {
    const r = synth((s) => new ModelServer(s, 'm', { ...modelServer, namespace: 'models', startupSeconds: 1980 }));
    const probe = r.kubernetes_deployment_v1.m.spec.template.spec.container[0].startup_probe;
    expect(probe.period_seconds * probe.failure_threshold).toBe(1980);
  });

  it('accepts a Terraform variable where a number is checked (validated by Terraform at plan time)', () => {
    const r = synth((s) => {
      const replicas = new TerraformVariable(s, 'replicas', { type: 'number' });
      new ModelServer(s, 'm', { ...modelServer, namespace: 'models', minReplicas: replicas.numberValue, maxReplicas: 8 });
    });
    expect(r.kubernetes_horizontal_pod_autoscaler_v2.mHpa.spec.min_replicas).toBe('${var.replicas}');
  });
});
