import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1';
import { DeploymentV1, DeploymentV1SpecTemplateSpec } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { HorizontalPodAutoscalerV2 } from '@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { NamespaceV1 } from '@cdktf/provider-kubernetes/lib/namespace-v1';
import { NetworkPolicyV1 } from '@cdktf/provider-kubernetes/lib/network-policy-v1';
import { PodDisruptionBudgetV1 } from '@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1';
import { PriorityClassV1 } from '@cdktf/provider-kubernetes/lib/priority-class-v1';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1';
import { ServiceV1 } from '@cdktf/provider-kubernetes/lib/service-v1';
import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { METRIC } from '../contract/metrics';
import { THRESHOLDS } from '../monitoring/thresholds';
import { MODEL_SERVER_CONTRACT, NAMESPACES, PROXY_CONTRACT, WORKER_CONTRACT, WORKLOAD_NAMES } from '../contract/service';
import { CAPACITY_LABEL, GPU_TAINT, NODE_POOL_LABEL } from './inference-cluster';
import { SCRAPE_ANNOTATIONS } from './monitoring';
import { version as PACKAGE_VERSION } from '../package.json';

/** CPU and memory of a container, Kubernetes quantities. */
export interface ContainerResources {
  /** CPU request (`500m`, `2`). */
  readonly cpu: string;
  /** Memory request and limit (`1Gi`). Requests equal limits for memory so a node is never overcommitted. */
  readonly memory: string;
  /** CPU limit. @default - none (CPU is compressible; a limit only adds throttling) */
  readonly cpuLimit?: string;
}

/** A Secrets Manager secret exposed to a runtime as one environment variable. */
export interface SecretEnv {
  /** Environment variable name the runtime config refers to with `{ fromEnv: NAME }`. */
  readonly envName: string;
  /** ARN of the Secrets Manager secret (its `SecretString` becomes the value). */
  readonly secretArn: string;
}

export interface ModelServerProps {
  /** Container image of the OpenAI-compatible server, e.g. `vllm/vllm-openai:v0.8.5`. */
  readonly image: string;
  /** Model id or path loaded by the server (`--model`). */
  readonly modelId: string;
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

export interface RuntimeWorkloadProps {
  /** Container image (the runtime artifact). */
  readonly image: string;
  /** The runtime's config file content (validated by the runtime's schema), rendered to YAML in a ConfigMap. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Secrets Manager secrets exposed as environment variables. @default [] */
  readonly secretEnv?: readonly SecretEnv[];
  /** IAM role (IRSA) of the service account. @default - none */
  readonly roleArn?: string;
  /** Container resources. */
  readonly resources?: ContainerResources;
}

export interface ProxyWorkloadProps extends RuntimeWorkloadProps {
  /** @default 3 (the brief) */
  readonly minReplicas?: number;
  /** @default 20 (the brief) */
  readonly maxReplicas?: number;
  /** HPA CPU utilisation target, percent. @default 70 (the brief) */
  readonly cpuTargetPercent?: number;
  /** HPA target of in-flight requests per replica (pods metric). @default 200 */
  readonly inFlightTarget?: number;
}

export interface WorkerWorkloadProps extends RuntimeWorkloadProps {
  /** @default 1 */
  readonly minReplicas?: number;
  /** @default 10 */
  readonly maxReplicas?: number;
  /** Ready jobs per worker replica the HPA aims for (external metric, averaged over replicas). @default 100 */
  readonly backlogPerReplica?: number;
  /** Seconds a worker gets on SIGTERM to finish its jobs before the kill (spot notice is 120 s). @default 60 */
  readonly drainSeconds?: number;
}

export interface InferenceWorkloadsProps {
  /**
   * Namespace of the proxy and worker.
   * @default - a `surgeguard` namespace is created
   */
  readonly appNamespace?: string;
  /**
   * Namespace of the model servers.
   * @default - a `surgeguard-inference` namespace is created
   */
  readonly inferenceNamespace?: string;
  /** The GPU model server. */
  readonly modelServer: ModelServerProps;
  /** The proxy (gateway). */
  readonly proxy: ProxyWorkloadProps;
  /** The asynchronous job worker. */
  readonly worker: WorkerWorkloadProps;
  /**
   * CIDRs allowed to scrape the model servers' metrics (the managed Prometheus collector's
   * subnets); the NetworkPolicy admits nothing else but the proxy and the worker.
   * @default []
   */
  readonly metricsScraperCidrs?: readonly string[];
}

/**
 * Runtime images until the artifacts issue wires the built artifacts in: the tag follows the
 * package version, so a release changes the synth output visibly.
 */
export const DEFAULT_RUNTIME_IMAGES = {
  proxy: `ghcr.io/surgeguard/proxy:${PACKAGE_VERSION}`,
  worker: `ghcr.io/surgeguard/worker:${PACKAGE_VERSION}`,
} as const;

/** In-cluster base URL of the model servers' headless Service in `namespace`. */
export function modelServerUrl(namespace: string): string {
  return `http://${WORKLOAD_NAMES.modelServer}.${namespace}.svc.cluster.local:${MODEL_SERVER_CONTRACT.port}`;
}

const ZONE_KEY = 'topology.kubernetes.io/zone';
const NAME_LABEL = 'app.kubernetes.io/name';
const CONFIG_DIR = '/etc/surgeguard';
/**
 * The only writable directory of a container (the root filesystem is read-only): an emptyDir,
 * named by TMPDIR. Not /tmp, so that synth output holds no path that looks like a host's temp dir.
 */
export const SCRATCH_DIR = '/scratch';
const EFFECTS: Record<string, string> = { NO_SCHEDULE: 'NoSchedule', NO_EXECUTE: 'NoExecute', PREFER_NO_SCHEDULE: 'PreferNoSchedule' };

/** Pod security context of the runtimes: non-root, RuntimeDefault seccomp, plus safe sysctls. */
const RUNTIME_POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: '10001',
  runAsGroup: '10001',
  fsGroup: '10001',
  seccompProfile: { type: 'RuntimeDefault' },
};
const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/**
 * The Kubernetes workloads of one cell: namespaces (or given ones), PriorityClasses (gateway >
 * serving > batch), the vLLM model servers on the GPU nodes behind a headless Service, the proxy
 * behind the NodePort the ALB forwards to with HPA + PDB + zone spread, the worker with an HPA on
 * queue depth, NetworkPolicies so only the proxy and the worker reach the model servers, config in
 * ConfigMaps and secrets synced from Secrets Manager by the Secrets Store CSI driver (no value in
 * synth).
 */
export class InferenceWorkloads extends Construct {
  public readonly appNamespace: string;
  public readonly inferenceNamespace: string;
  public readonly priorityClasses: { readonly gateway: PriorityClassV1; readonly serving: PriorityClassV1; readonly batch: PriorityClassV1 };
  public readonly modelServer: DeploymentV1;
  public readonly modelServerService: ServiceV1;
  public readonly modelServerHpa: HorizontalPodAutoscalerV2;
  /** In-cluster base URL of the model servers (headless: resolves to every ready endpoint). */
  public readonly modelServerUrl: string;
  public readonly proxy: DeploymentV1;
  public readonly proxyService: ServiceV1;
  public readonly proxyHpa: HorizontalPodAutoscalerV2;
  public readonly proxyPdb: PodDisruptionBudgetV1;
  public readonly worker: DeploymentV1;
  public readonly workerHpa: HorizontalPodAutoscalerV2;
  public readonly modelServerPolicy: NetworkPolicyV1;

  constructor(scope: Construct, id: string, props: InferenceWorkloadsProps) {
    super(scope, id);
    const fail = (prop: string, problem: string): never => {
      throw new Error(`InferenceWorkloads ${id}: ${prop} ${problem}`);
    };
    const ms = props.modelServer;
    if (!Number.isInteger(ms.tensorParallelSize) || ms.tensorParallelSize < 1 || ms.tensorParallelSize > 8) {
      fail('modelServer.tensorParallelSize', `must be a whole number between 1 and 8 (GPUs of one node), got ${ms.tensorParallelSize}`);
    }
    if (!Number.isInteger(ms.maxConcurrentSequences) || ms.maxConcurrentSequences < 1) fail('modelServer.maxConcurrentSequences', `must be a whole number >= 1, got ${ms.maxConcurrentSequences}`);
    const msMin = ms.minReplicas ?? 1;
    const msMax = ms.maxReplicas ?? msMin * 4;
    if (!Number.isInteger(msMin) || msMin < 1) fail('modelServer.minReplicas', `must be a whole number >= 1, got ${msMin}`);
    if (msMax < msMin) fail('modelServer.maxReplicas', `(${msMax}) is below minReplicas (${msMin})`);
    const pxMin = props.proxy.minReplicas ?? 3;
    const pxMax = props.proxy.maxReplicas ?? 20;
    if (!Number.isInteger(pxMin) || pxMin < 1) fail('proxy.minReplicas', `must be a whole number >= 1, got ${pxMin}`);
    if (pxMax < pxMin) fail('proxy.maxReplicas', `(${pxMax}) is below minReplicas (${pxMin})`);
    const cpuTarget = props.proxy.cpuTargetPercent ?? THRESHOLDS.proxyCpuTargetPercent;
    if (cpuTarget < 10 || cpuTarget > 95) fail('proxy.cpuTargetPercent', `must be between 10 and 95, got ${cpuTarget}`);
    const wkMin = props.worker.minReplicas ?? 1;
    const wkMax = props.worker.maxReplicas ?? 10;
    // 0 would need the HPAScaleToZero feature gate, which EKS does not enable.
    if (!Number.isInteger(wkMin) || wkMin < 1) fail('worker.minReplicas', `must be a whole number >= 1, got ${wkMin}`);
    if (wkMax < wkMin) fail('worker.maxReplicas', `(${wkMax}) is below minReplicas (${wkMin})`);
    for (const [key, rt] of [['proxy', props.proxy], ['worker', props.worker]] as const) {
      const names = new Set<string>();
      for (const s of rt.secretEnv ?? []) {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(s.envName)) fail(`${key}.secretEnv`, `"${s.envName}" is not an environment variable name`);
        if (names.has(s.envName)) fail(`${key}.secretEnv`, `"${s.envName}" is listed twice`);
        names.add(s.envName);
      }
    }

    const namespace = (given: string | undefined, key: string, name: string, podSecurity: string) =>
      given ??
      new NamespaceV1(this, `Namespace-${key}`, {
        metadata: { name, labels: { 'app.kubernetes.io/part-of': 'surgeguard', 'pod-security.kubernetes.io/enforce': podSecurity } },
      }).metadata.name;
    this.appNamespace = namespace(props.appNamespace, 'app', NAMESPACES.app.name, NAMESPACES.app.podSecurity);
    this.inferenceNamespace = namespace(props.inferenceNamespace, 'inference', NAMESPACES.inference.name, NAMESPACES.inference.podSecurity);

    const pc = (key: string, name: string, value: number, description: string, preemptionPolicy: string) =>
      new PriorityClassV1(this, `Priority-${key}`, { metadata: { name }, value, description, preemptionPolicy, globalDefault: false });
    this.priorityClasses = {
      gateway: pc('gateway', WORKLOAD_NAMES.priorityClasses.gateway, 1_000_000, 'surgeguard proxy: every request passes it; evicted last', 'PreemptLowerPriority'),
      serving: pc('serving', WORKLOAD_NAMES.priorityClasses.serving, 900_000, 'surgeguard model servers answering real-time traffic', 'PreemptLowerPriority'),
      batch: pc('batch', WORKLOAD_NAMES.priorityClasses.batch, 1_000, 'surgeguard asynchronous job workers: wait for capacity, never preempt serving', 'Never'),
    };

    // ---- model servers -------------------------------------------------------------------
    const msLabels = { [NAME_LABEL]: WORKLOAD_NAMES.modelServer, 'app.kubernetes.io/part-of': 'surgeguard' };
    const tp = ms.tensorParallelSize;
    const msResources = ms.resources ?? { cpu: String(4 * tp), memory: `${24 * tp}Gi` };
    const args = [
      '--model', ms.modelId,
      '--served-model-name', ms.servedModelName,
      '--port', String(MODEL_SERVER_CONTRACT.port),
      '--tensor-parallel-size', String(tp),
      '--max-num-seqs', String(ms.maxConcurrentSequences),
      ...(ms.quantization ? ['--quantization', ms.quantization] : []),
      '--disable-log-requests',
      ...(ms.extraArgs ?? []),
    ];
    this.modelServer = new DeploymentV1(this, 'ModelServer', {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: this.inferenceNamespace, labels: msLabels },
      spec: {
        replicas: String(msMin),
        selector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer } },
        // A new replica must load the model before an old one goes: never fewer serving GPUs.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '1', maxUnavailable: '0' } },
        template: {
          metadata: { labels: msLabels, annotations: scrapeAnnotations(MODEL_SERVER_CONTRACT.port, MODEL_SERVER_CONTRACT.metricsPath) },
          spec: {
            priorityClassName: WORKLOAD_NAMES.priorityClasses.serving,
            terminationGracePeriodSeconds: 120,
            automountServiceAccountToken: false,
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
                image: ms.image,
                args,
                port: [{ name: 'http', containerPort: MODEL_SERVER_CONTRACT.port }],
                env: [
                  { name: 'HOME', value: SCRATCH_DIR },
                  { name: 'TMPDIR', value: SCRATCH_DIR },
                  { name: 'HF_HOME', value: '/models/huggingface' },
                ],
                resources: {
                  requests: { cpu: msResources.cpu, memory: msResources.memory, 'nvidia.com/gpu': String(tp) },
                  limits: { memory: msResources.memory, 'nvidia.com/gpu': String(tp), ...(msResources.cpuLimit ? { cpu: msResources.cpuLimit } : {}) },
                },
                // Loading weights takes minutes: the startup probe allows 30, liveness starts after.
                startupProbe: httpProbe(MODEL_SERVER_CONTRACT.healthPath, MODEL_SERVER_CONTRACT.port, 10, 180),
                livenessProbe: httpProbe(MODEL_SERVER_CONTRACT.healthPath, MODEL_SERVER_CONTRACT.port, 10, 3),
                readinessProbe: httpProbe(MODEL_SERVER_CONTRACT.healthPath, MODEL_SERVER_CONTRACT.port, 5, 2),
                securityContext: CONTAINER_SECURITY,
                volumeMount: [
                  { name: 'tmp', mountPath: SCRATCH_DIR },
                  { name: 'models', mountPath: '/models' },
                  { name: 'shm', mountPath: '/dev/shm' },
                ],
              },
            ],
            volume: [
              { name: 'tmp', emptyDir: {} },
              { name: 'models', emptyDir: {} },
              // NCCL between tensor-parallel ranks needs a large /dev/shm.
              { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: `${Math.min(16 * tp, 64)}Gi` } },
            ],
          } satisfies DeploymentV1SpecTemplateSpec,
        },
      },
      lifecycle: { ignoreChanges: ['spec[0].replicas'] },
    });
    this.modelServerService = new ServiceV1(this, 'ModelServerService', {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: this.inferenceNamespace, labels: msLabels },
      spec: {
        clusterIp: 'None',
        selector: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer },
        publishNotReadyAddresses: false,
        port: [{ name: 'http', port: MODEL_SERVER_CONTRACT.port, targetPort: String(MODEL_SERVER_CONTRACT.port), protocol: 'TCP' }],
      },
    });
    this.modelServerUrl = modelServerUrl(this.inferenceNamespace);
    this.modelServerHpa = new HorizontalPodAutoscalerV2(this, 'ModelServerHpa', {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: this.inferenceNamespace },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.modelServer.metadata.name },
        minReplicas: msMin,
        maxReplicas: msMax,
        metric: [
          {
            type: 'Pods',
            pods: { metric: { name: 'vllm_num_requests_waiting' }, target: { type: 'AverageValue', averageValue: String(ms.waitingRequestsTarget ?? 8) } },
          },
        ],
        behavior: {
          // A GPU node takes minutes to join: react to a surge at once, give capacity back slowly.
          scaleUp: [{ stabilizationWindowSeconds: 60, selectPolicy: 'Max', policy: [{ type: 'Pods', value: 2, periodSeconds: 60 }] }],
          scaleDown: [{ stabilizationWindowSeconds: 900, selectPolicy: 'Min', policy: [{ type: 'Pods', value: 1, periodSeconds: 300 }] }],
        },
      },
    });
    new PodDisruptionBudgetV1(this, 'ModelServerPdb', {
      metadata: { name: WORKLOAD_NAMES.modelServer, namespace: this.inferenceNamespace },
      spec: { maxUnavailable: '1', selector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer } } },
    });

    // Only the proxy and the worker (the proxy's asynchronous half) reach the model servers;
    // the metrics collector may scrape them.
    const clientPeer = (name: string) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': this.appNamespace } },
      podSelector: { matchLabels: { [NAME_LABEL]: name } },
    });
    this.modelServerPolicy = new NetworkPolicyV1(this, 'ModelServerPolicy', {
      metadata: { name: `${WORKLOAD_NAMES.modelServer}-ingress`, namespace: this.inferenceNamespace },
      spec: {
        podSelector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.modelServer } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [clientPeer(WORKLOAD_NAMES.proxy), clientPeer(WORKLOAD_NAMES.worker)],
            ports: [{ port: String(MODEL_SERVER_CONTRACT.port), protocol: 'TCP' }],
          },
          ...((props.metricsScraperCidrs ?? []).length > 0
            ? [{ from: (props.metricsScraperCidrs ?? []).map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: String(MODEL_SERVER_CONTRACT.port), protocol: 'TCP' }] }]
            : []),
        ],
      },
    });
    // Nothing else in the inference namespace accepts traffic either.
    new NetworkPolicyV1(this, 'InferenceDefaultDeny', {
      metadata: { name: 'default-deny-ingress', namespace: this.inferenceNamespace },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });

    // ---- secrets, synced from Secrets Manager ------------------------------------------------
    const allSecrets = [...(props.proxy.secretEnv ?? []), ...(props.worker.secretEnv ?? [])];
    const secretProviderClass = allSecrets.length > 0 ? this.secretProviderClass(allSecrets) : undefined;

    // ---- proxy ----------------------------------------------------------------------------------
    const px = this.runtime('proxy', WORKLOAD_NAMES.proxy, props.proxy, {
      port: PROXY_CONTRACT.port,
      healthPath: PROXY_CONTRACT.healthPath,
      readyPath: PROXY_CONTRACT.readyPath,
      metricsPath: PROXY_CONTRACT.metricsPath,
      replicas: pxMin,
      priorityClassName: WORKLOAD_NAMES.priorityClasses.gateway,
      terminationGracePeriodSeconds: 60,
      defaultResources: { cpu: '1', memory: '1Gi' },
      zoneSpread: 'DoNotSchedule',
      secretProviderClass,
    });
    this.proxy = px;
    this.proxyService = new ServiceV1(this, 'ProxyService', {
      metadata: { name: WORKLOAD_NAMES.proxy, namespace: this.appNamespace, labels: { [NAME_LABEL]: WORKLOAD_NAMES.proxy } },
      spec: {
        type: 'NodePort',
        selector: { [NAME_LABEL]: WORKLOAD_NAMES.proxy },
        externalTrafficPolicy: 'Cluster',
        port: [{ name: 'http', port: PROXY_CONTRACT.port, targetPort: String(PROXY_CONTRACT.port), nodePort: PROXY_CONTRACT.nodePort, protocol: 'TCP' }],
      },
    });
    this.proxyHpa = new HorizontalPodAutoscalerV2(this, 'ProxyHpa', {
      metadata: { name: WORKLOAD_NAMES.proxy, namespace: this.appNamespace },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: px.metadata.name },
        minReplicas: pxMin,
        maxReplicas: pxMax,
        metric: [
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuTarget } } },
          {
            type: 'Pods',
            pods: { metric: { name: METRIC.proxyInflightRequests }, target: { type: 'AverageValue', averageValue: String(props.proxy.inFlightTarget ?? 200) } },
          },
        ],
        behavior: {
          // The brief: scale-out cooldown 300 s, scale-in 600 s.
          scaleUp: [
            {
              stabilizationWindowSeconds: 300,
              selectPolicy: 'Max',
              policy: [
                { type: 'Percent', value: 100, periodSeconds: 60 },
                { type: 'Pods', value: 4, periodSeconds: 60 },
              ],
            },
          ],
          scaleDown: [{ stabilizationWindowSeconds: 600, selectPolicy: 'Min', policy: [{ type: 'Percent', value: 10, periodSeconds: 60 }] }],
        },
      },
    });
    this.proxyPdb = new PodDisruptionBudgetV1(this, 'ProxyPdb', {
      metadata: { name: WORKLOAD_NAMES.proxy, namespace: this.appNamespace },
      spec: { maxUnavailable: '1', selector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.proxy } } },
    });

    // ---- worker ---------------------------------------------------------------------------------
    this.worker = this.runtime('worker', WORKLOAD_NAMES.worker, props.worker, {
      port: WORKER_CONTRACT.port,
      healthPath: WORKER_CONTRACT.healthPath,
      readyPath: WORKER_CONTRACT.readyPath,
      metricsPath: WORKER_CONTRACT.metricsPath,
      replicas: wkMin,
      priorityClassName: WORKLOAD_NAMES.priorityClasses.batch,
      terminationGracePeriodSeconds: props.worker.drainSeconds ?? 60,
      defaultResources: { cpu: '500m', memory: '512Mi' },
      zoneSpread: 'ScheduleAnyway',
      secretProviderClass,
    });
    this.workerHpa = new HorizontalPodAutoscalerV2(this, 'WorkerHpa', {
      metadata: { name: WORKLOAD_NAMES.worker, namespace: this.appNamespace },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.worker.metadata.name },
        minReplicas: wkMin,
        maxReplicas: wkMax,
        metric: [
          {
            // Ready jobs over every class queue (served by the external metrics adapter from
            // Prometheus), divided by the replica count.
            type: 'External',
            external: {
              metric: { name: METRIC.workerQueueDepth },
              target: { type: 'AverageValue', averageValue: String(props.worker.backlogPerReplica ?? 100) },
            },
          },
        ],
        behavior: {
          scaleUp: [{ stabilizationWindowSeconds: 60, selectPolicy: 'Max', policy: [{ type: 'Percent', value: 100, periodSeconds: 60 }] }],
          scaleDown: [{ stabilizationWindowSeconds: 600, selectPolicy: 'Min', policy: [{ type: 'Pods', value: 1, periodSeconds: 120 }] }],
        },
      },
    });
    new PodDisruptionBudgetV1(this, 'WorkerPdb', {
      metadata: { name: WORKLOAD_NAMES.worker, namespace: this.appNamespace },
      spec: { maxUnavailable: '1', selector: { matchLabels: { [NAME_LABEL]: WORKLOAD_NAMES.worker } } },
    });
  }

  /**
   * A SecretProviderClass (Secrets Store CSI driver + AWS provider) that mounts the secrets and
   * syncs them into one Kubernetes Secret the runtimes read as environment variables. Synth holds
   * only the ARNs; the values travel Secrets Manager -> driver -> pod, never through Terraform.
   */
  private secretProviderClass(secrets: readonly SecretEnv[]): string {
    const unique = [...new Map(secrets.map((s) => [s.envName, s])).values()];
    const name = 'surgeguard-runtime';
    new Manifest(this, 'SecretProviderClass', {
      manifest: {
        apiVersion: 'secrets-store.csi.x-k8s.io/v1',
        kind: 'SecretProviderClass',
        metadata: { name, namespace: this.appNamespace },
        spec: {
          provider: 'aws',
          parameters: {
            objects: stringify(unique.map((s) => ({ objectName: s.secretArn, objectAlias: s.envName.toLowerCase() })), { lineWidth: 0 }),
          },
          secretObjects: [
            {
              secretName: WORKLOAD_NAMES.runtimeSecret,
              type: 'Opaque',
              data: unique.map((s) => ({ objectName: s.envName.toLowerCase(), key: s.envName })),
            },
          ],
        },
      },
    });
    return name;
  }

  private runtime(
    key: string,
    name: string,
    props: RuntimeWorkloadProps,
    opts: {
      port: number;
      healthPath: string;
      readyPath: string;
      metricsPath: string;
      replicas: number;
      priorityClassName: string;
      terminationGracePeriodSeconds: number;
      defaultResources: ContainerResources;
      zoneSpread: 'DoNotSchedule' | 'ScheduleAnyway';
      secretProviderClass?: string;
    },
  ): DeploymentV1 {
    const labels = { [NAME_LABEL]: name, 'app.kubernetes.io/part-of': 'surgeguard' };
    const configFile = `${key}.yaml`;
    const configYaml = stringify(props.config, { lineWidth: 0 });
    const configMap = new ConfigMapV1(this, `${key}-config`, {
      metadata: { name: `${name}-config`, namespace: this.appNamespace, labels },
      data: { [configFile]: configYaml },
    });
    const serviceAccount = new ServiceAccountV1(this, `${key}-service-account`, {
      metadata: {
        name,
        namespace: this.appNamespace,
        labels,
        annotations: props.roleArn ? { 'eks.amazonaws.com/role-arn': props.roleArn } : undefined,
      },
      automountServiceAccountToken: false,
    });
    const res = props.resources ?? opts.defaultResources;
    const secretEnv = props.secretEnv ?? [];
    const usesSecrets = secretEnv.length > 0 && opts.secretProviderClass !== undefined;
    return new DeploymentV1(this, key, {
      metadata: { name, namespace: this.appNamespace, labels },
      spec: {
        replicas: String(opts.replicas),
        selector: { matchLabels: { [NAME_LABEL]: name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '0' } },
        template: {
          metadata: {
            labels,
            // A changed config rolls the pods. Hashed by Terraform: the config may hold references
            // (endpoints) whose values exist only at apply time.
            annotations: { ...scrapeAnnotations(opts.port, opts.metricsPath), 'surgeguard.io/config-hash': Fn.sha1(configYaml) },
          },
          spec: {
            serviceAccountName: serviceAccount.metadata.name,
            // The projected IRSA token is mounted by the EKS webhook when the role annotation is set.
            automountServiceAccountToken: props.roleArn !== undefined,
            priorityClassName: opts.priorityClassName,
            terminationGracePeriodSeconds: opts.terminationGracePeriodSeconds,
            nodeSelector: { [NODE_POOL_LABEL]: 'cpu' },
            topologySpreadConstraint: [zoneSpread(name, opts.zoneSpread), { ...zoneSpread(name, 'ScheduleAnyway'), topologyKey: 'kubernetes.io/hostname' }],
            securityContext: {
              ...RUNTIME_POD_SECURITY,
              // Namespaced "safe" sysctl (allowed under the restricted Pod Security Standard):
              // a wide ephemeral port range for many upstream connections. net.core.somaxconn is
              // namespaced but not on the safe list (it needs the kubelet's allowed-unsafe-sysctls);
              // the kernel default of 4096 (Linux >= 5.4) is used instead.
              sysctl: [{ name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }],
            },
            container: [
              {
                name: key,
                image: props.image,
                port: [{ name: 'http', containerPort: opts.port }],
                env: [
                  { name: 'SURGEGUARD_CONFIG', value: `${CONFIG_DIR}/${configFile}` },
                  { name: 'NODE_OPTIONS', value: '--enable-source-maps' },
                  { name: 'TMPDIR', value: SCRATCH_DIR },
                  ...secretEnv.map((s) => ({
                    name: s.envName,
                    valueFrom: { secretKeyRef: { name: WORKLOAD_NAMES.runtimeSecret, key: s.envName, optional: false } },
                  })),
                ],
                resources: {
                  requests: { cpu: res.cpu, memory: res.memory },
                  limits: { memory: res.memory, ...(res.cpuLimit ? { cpu: res.cpuLimit } : {}) },
                },
                livenessProbe: httpProbe(opts.healthPath, opts.port, 10, 3),
                readinessProbe: httpProbe(opts.readyPath, opts.port, 5, 2),
                securityContext: CONTAINER_SECURITY,
                volumeMount: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'tmp', mountPath: SCRATCH_DIR },
                  ...(usesSecrets ? [{ name: 'secrets', mountPath: '/mnt/secrets', readOnly: true }] : []),
                ],
              },
            ],
            volume: [
              { name: 'config', configMap: { name: configMap.metadata.name } },
              { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
              // Mounting the CSI volume is what makes the driver sync the Kubernetes Secret.
              ...(usesSecrets
                ? [{ name: 'secrets', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: opts.secretProviderClass! } } }]
                : []),
            ],
          } satisfies DeploymentV1SpecTemplateSpec,
        },
      },
      lifecycle: { ignoreChanges: ['spec[0].replicas'] },
    });
  }
}

function scrapeAnnotations(port: number, path: string): Record<string, string> {
  return { [SCRAPE_ANNOTATIONS.scrape]: 'true', [SCRAPE_ANNOTATIONS.port]: String(port), [SCRAPE_ANNOTATIONS.path]: path };
}

function httpProbe(path: string, port: number, periodSeconds: number, failureThreshold: number) {
  return { httpGet: { path, port: String(port) }, periodSeconds, failureThreshold, timeoutSeconds: 3 };
}

function zoneSpread(name: string, whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway') {
  return { maxSkew: 1, topologyKey: ZONE_KEY, whenUnsatisfiable, labelSelector: [{ matchLabels: { [NAME_LABEL]: name } }] };
}
