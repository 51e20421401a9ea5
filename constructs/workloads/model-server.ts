import { DeploymentV1, DeploymentV1SpecTemplateSpec } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { HorizontalPodAutoscalerV2 } from '@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2';
import { PodDisruptionBudgetV1 } from '@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1';
import { ServiceV1 } from '@cdktf/provider-kubernetes/lib/service-v1';
import { Construct } from 'constructs';
import { MODEL_SERVER_CONTRACT } from '../../contract/service';
import { CAPACITY_LABEL, GPU_TAINT, NODE_POOL_LABEL } from '../cluster/node-group';
import { CONTAINER_SECURITY, EFFECTS, httpProbe, NAME_LABEL, scrapeAnnotations, zoneSpread } from '../private/kubernetes';
import { checkImagePinned } from '../private/images';
import { PropsValidator } from '../private/validation';
import { WORKLOAD_NAMES } from '../../contract/service';
import { modelServerUrl, SCRATCH_DIR } from './names';
import type { ContainerResources } from './runtime-workload';

/** Where a model server loads its weights from. */
export interface ModelWeightsSource {
  /**
   * `s3://<bucket>/<prefix>/` of the model's files (safetensors, config, tokenizer) in the regional
   * weights bucket (ModelWeightsBucket), staged there once (docs/weights-staging.md).
   */
  readonly s3Uri: string;
  /** Region of the bucket (the S3 clients' AWS_REGION). */
  readonly region: string;
  /** IAM role (IRSA) of the model server's service account: may read that prefix only. */
  readonly roleArn: string;
}

export interface ModelServerProps {
  /** Container image of the OpenAI-compatible server, pinned by digest (`vllm/vllm-openai:v0.8.5@sha256:…`). */
  readonly image: string;
  /** Model id (`deepseek-ai/DeepSeek-V3`): what the weights are, for labels and logs. */
  readonly modelId: string;
  /**
   * The weights: streamed from the regional S3 bucket to the GPUs by vLLM's Run:ai Model Streamer
   * (`--load-format runai_streamer`), never downloaded from a model hub at pod start.
   */
  readonly weights: ModelWeightsSource;
  /** Context length served (`--max-model-len`). @default - the model's own maximum */
  readonly maxModelLength?: number;
  /** Share of each GPU's memory vLLM may use (`--gpu-memory-utilization`). @default 0.9 */
  readonly gpuMemoryUtilization?: number;
  /**
   * Seconds the startup probe gives a replica to stream its weights and start the engine
   * (see `estimateStartupSeconds` in envs/serving-plan.ts and docs/serving-plan.md).
   * @default 1800
   */
  readonly startupSeconds?: number;
  /** Model name clients send (`--served-model-name`). */
  readonly servedModelName: string;
  /** GPUs per replica = tensor-parallel size (`--tensor-parallel-size`). 1–8. */
  readonly tensorParallelSize: number;
  /** Quantisation (`--quantization`, e.g. `fp8`, `awq`). @default - none */
  readonly quantization?: string;
  /** Max concurrent sequences per replica (`--max-num-seqs`). */
  readonly maxConcurrentSequences: number;
  /** Replicas at least (the on-demand base should hold them). @default 1 */
  readonly minReplicas?: number;
  /** Replicas at most (bounded by the GPU node groups). @default minReplicas * 4 */
  readonly maxReplicas?: number;
  /**
   * Scale out when the average number of requests waiting in a replica's scheduler (vLLM
   * `num_requests_waiting`) exceeds this: waiting requests, not CPU, mean the GPUs are full.
   * @default 8
   */
  readonly waitingRequestsTarget?: number;
  /** CPU and memory besides the GPUs. @default - 4 CPUs and 24 GiB per GPU of the replica */
  readonly resources?: ContainerResources;
  /** Extra server arguments. @default [] */
  readonly extraArgs?: readonly string[];
}

/**
 * Environment of the vLLM container, which runs as uid 1000 with no passwd entry in
 * vllm/vllm-openai: torch's inductor names its cache after `getpass.getuser()`, which raises
 * `KeyError: 'getpwuid(): uid not found: 1000'` unless USER/LOGNAME are set (pytorch/pytorch#140765,
 * vllm-project/vllm#44548). Every cache goes to the writable scratch emptyDir (the root filesystem
 * is read-only), and the Hugging Face libraries are offline: nothing is fetched from a hub.
 */
function VLLM_ENV(region: string): { name: string; value: string }[] {
  return [
    { name: 'HOME', value: SCRATCH_DIR },
    { name: 'USER', value: 'vllm' },
    { name: 'LOGNAME', value: 'vllm' },
    { name: 'TMPDIR', value: SCRATCH_DIR },
    { name: 'XDG_CACHE_HOME', value: `${SCRATCH_DIR}/.cache` },
    { name: 'TORCHINDUCTOR_CACHE_DIR', value: `${SCRATCH_DIR}/torchinductor` },
    { name: 'TRITON_CACHE_DIR', value: `${SCRATCH_DIR}/triton` },
    { name: 'VLLM_CACHE_ROOT', value: `${SCRATCH_DIR}/vllm` },
    { name: 'HF_HOME', value: `${SCRATCH_DIR}/huggingface` },
    { name: 'HF_HUB_OFFLINE', value: '1' },
    { name: 'TRANSFORMERS_OFFLINE', value: '1' },
    { name: 'VLLM_NO_USAGE_STATS', value: '1' },
    { name: 'AWS_REGION', value: region },
    { name: 'AWS_DEFAULT_REGION', value: region },
  ];
}

/** Where a {@link ModelServer} runs. */
export interface ModelServerPlacement {
  /** Namespace of the Deployment, Service, HPA and PDB. */
  readonly namespace: string;
  /** PriorityClass of the pods. @default WORKLOAD_NAMES.priorityClasses.serving */
  readonly priorityClassName?: string;
}

/** Checks model-server props (used by ModelServer, and by InferenceWorkloads under `modelServer.`). */
export function validateModelServerProps(v: PropsValidator, props: ModelServerProps): { minReplicas: number; maxReplicas: number } {
  v.wholeNumber('tensorParallelSize', props.tensorParallelSize, 1, 8, ' (GPUs of one node)');
  v.wholeNumber('maxConcurrentSequences', props.maxConcurrentSequences, 1);
  checkImagePinned(v, 'image', props.image);
  v.check('weights.s3Uri', props.weights.s3Uri, (u) => /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+\/$/.test(u), (u) => `"${u}" must be s3://<bucket>/<prefix>/`);
  if (props.maxModelLength !== undefined) v.wholeNumber('maxModelLength', props.maxModelLength, 1);
  if (props.gpuMemoryUtilization !== undefined) {
    v.check('gpuMemoryUtilization', props.gpuMemoryUtilization, (g) => g > 0 && g <= 0.95, (g) => `must be in (0, 0.95], got ${g}`);
  }
  v.wholeNumber('startupSeconds', props.startupSeconds ?? 1800, 60);
  const minReplicas = props.minReplicas ?? 1;
  const maxReplicas = props.maxReplicas ?? minReplicas * 4;
  v.wholeNumber('minReplicas', minReplicas, 1);
  v.ordered('maxReplicas', maxReplicas, 'minReplicas', minReplicas);
  return { minReplicas, maxReplicas };
}

/**
 * vLLM model servers (OpenAI-compatible) on the GPU nodes: a Deployment that tolerates the GPU taint,
 * prefers the on-demand base and spreads over zones, behind a headless Service (the proxy discovers
 * every ready replica), an HPA on requests waiting in the replicas' schedulers, and a PDB.
 *
 * The resources are created directly in `scope` — the Deployment as `<id>`, then `<id>Service`,
 * `<id>Hpa`, `<id>Pdb` — the Terraform addresses they had when InferenceWorkloads built them itself
 * (construct ids are state addresses).
 */
export class ModelServer {
  /** Service account of the pods (IRSA: reads the weights prefix). */
  public readonly serviceAccount: ServiceAccountV1;
  public readonly deployment: DeploymentV1;
  /** Headless Service: its DNS name resolves to every ready replica. */
  public readonly service: ServiceV1;
  public readonly hpa: HorizontalPodAutoscalerV2;
  public readonly pdb: PodDisruptionBudgetV1;
  /** In-cluster base URL of the model servers. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: ModelServerProps & ModelServerPlacement) {
    const { minReplicas: msMin, maxReplicas: msMax } = validateModelServerProps(new PropsValidator('ModelServer', id), props);
    const msLabels = { [NAME_LABEL]: WORKLOAD_NAMES.modelServer, 'app.kubernetes.io/part-of': 'surgeguard' };
    const tp = props.tensorParallelSize;
    const msResources = props.resources ?? { cpu: String(4 * tp), memory: `${24 * tp}Gi` };
    const args = [
      '--model', props.weights.s3Uri,
      '--load-format', 'runai_streamer',
      // 16 parallel S3 readers per replica (the streamer's concurrency); see docs/serving-plan.md.
      '--model-loader-extra-config', JSON.stringify({ concurrency: 16 }),
      '--served-model-name', props.servedModelName,
      '--port', String(MODEL_SERVER_CONTRACT.port),
      '--tensor-parallel-size', String(tp),
      '--max-num-seqs', String(props.maxConcurrentSequences),
      ...(props.quantization ? ['--quantization', props.quantization] : []),
      ...(props.maxModelLength !== undefined ? ['--max-model-len', String(props.maxModelLength)] : []),
      '--gpu-memory-utilization', String(props.gpuMemoryUtilization ?? 0.9),
      '--disable-log-requests',
      ...(props.extraArgs ?? []),
    ];
    // IRSA: the role that may read the weights prefix, and nothing else.
    this.serviceAccount = new ServiceAccountV1(scope, `${id}ServiceAccount`, {
      metadata: {
        name: WORKLOAD_NAMES.modelServer,
        namespace: props.namespace,
        labels: msLabels,
        annotations: { 'eks.amazonaws.com/role-arn': props.weights.roleArn },
      },
      automountServiceAccountToken: false,
    });
    const startupSeconds = props.startupSeconds ?? 1800;
    this.deployment = new DeploymentV1(scope, id, {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: props.namespace, labels: msLabels },
      spec: {
        replicas: String(msMin),
        selector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer } },
        // A new replica must load the model before an old one goes: never fewer serving GPUs.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '1', maxUnavailable: '0' } },
        template: {
          metadata: { labels: msLabels, annotations: scrapeAnnotations(MODEL_SERVER_CONTRACT.port, MODEL_SERVER_CONTRACT.metricsPath) },
          spec: {
            priorityClassName: props.priorityClassName ?? WORKLOAD_NAMES.priorityClasses.serving,
            terminationGracePeriodSeconds: 120,
            serviceAccountName: this.serviceAccount.metadata.name,
            // The EKS pod identity webhook projects the IRSA token when the role annotation is set.
            automountServiceAccountToken: true,
            toleration: [{ key: GPU_TAINT.key, operator: 'Equal', value: GPU_TAINT.value, effect: EFFECTS[GPU_TAINT.effect] }],
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerm: [{ matchExpressions: [{ key: NODE_POOL_LABEL, operator: 'In', values: ['gpu'] }] }],
                },
                // Fill the on-demand base first; spot takes the surge.
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 50, preference: { matchExpressions: [{ key: CAPACITY_LABEL, operator: 'In', values: ['on-demand'] }] } },
                ],
              },
            },
            topologySpreadConstraint: [zoneSpread(WORKLOAD_NAMES.modelServer, 'ScheduleAnyway')],
            securityContext: { runAsNonRoot: true, runAsUser: '1000', runAsGroup: '1000', fsGroup: '1000', seccompProfile: { type: 'RuntimeDefault' } },
            container: [
              {
                name: 'vllm',
                image: props.image,
                args,
                port: [{ name: 'http', containerPort: MODEL_SERVER_CONTRACT.port }],
                env: VLLM_ENV(props.weights.region),
                resources: {
                  requests: { cpu: msResources.cpu, memory: msResources.memory, 'nvidia.com/gpu': String(tp) },
                  limits: { memory: msResources.memory, 'nvidia.com/gpu': String(tp), ...(msResources.cpuLimit ? { cpu: msResources.cpuLimit } : {}) },
                },
                // Streaming the weights takes minutes: the startup probe allows the estimate with a
                // safety factor (startupSeconds); liveness starts after.
                startupProbe: httpProbe(MODEL_SERVER_CONTRACT.healthPath, MODEL_SERVER_CONTRACT.port, 10, Math.ceil(startupSeconds / 10)),
                livenessProbe: httpProbe(MODEL_SERVER_CONTRACT.healthPath, MODEL_SERVER_CONTRACT.port, 10, 3),
                readinessProbe: httpProbe(MODEL_SERVER_CONTRACT.healthPath, MODEL_SERVER_CONTRACT.port, 5, 2),
                securityContext: CONTAINER_SECURITY,
                volumeMount: [
                  { name: 'tmp', mountPath: SCRATCH_DIR },
                  { name: 'shm', mountPath: '/dev/shm' },
                ],
              },
            ],
            volume: [
              // Caches (torch.compile, Triton, the config and tokenizer files pulled from S3); the
              // weights themselves stream from S3 to GPU memory and never touch the disk.
              { name: 'tmp', emptyDir: { sizeLimit: '50Gi' } },
              // NCCL between tensor-parallel ranks needs a large /dev/shm.
              { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: `${Math.min(16 * tp, 64)}Gi` } },
            ],
          } satisfies DeploymentV1SpecTemplateSpec,
        },
      },
      lifecycle: { ignoreChanges: ['spec[0].replicas'] },
    });
    this.service = new ServiceV1(scope, `${id}Service`, {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: props.namespace, labels: msLabels },
      spec: {
        clusterIp: 'None',
        selector: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer },
        publishNotReadyAddresses: false,
        port: [{ name: 'http', port: MODEL_SERVER_CONTRACT.port, targetPort: String(MODEL_SERVER_CONTRACT.port), protocol: 'TCP' }],
      },
    });
    this.hpa = new HorizontalPodAutoscalerV2(scope, `${id}Hpa`, {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: props.namespace },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.metadata.name },
        minReplicas: msMin,
        maxReplicas: msMax,
        metric: [
          {
            type: 'Pods',
            pods: { metric: { name: 'vllm_num_requests_waiting' }, target: { type: 'AverageValue', averageValue: String(props.waitingRequestsTarget ?? 8) } },
          },
        ],
        behavior: {
          // A GPU node takes minutes to join: react to a surge at once, give capacity back slowly.
          scaleUp: [{ stabilizationWindowSeconds: 60, selectPolicy: 'Max', policy: [{ type: 'Pods', value: 2, periodSeconds: 60 }] }],
          scaleDown: [{ stabilizationWindowSeconds: 900, selectPolicy: 'Min', policy: [{ type: 'Pods', value: 1, periodSeconds: 300 }] }],
        },
      },
    });
    this.pdb = new PodDisruptionBudgetV1(scope, `${id}Pdb`, {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: props.namespace },
      spec: { maxUnavailable: '1', selector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer } } },
    });
    this.url = modelServerUrl(props.namespace);
  }
}
