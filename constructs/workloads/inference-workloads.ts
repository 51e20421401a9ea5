import { DeploymentV1 } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import { HorizontalPodAutoscalerV2 } from '@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2';
import { NetworkPolicyV1 } from '@cdktf/provider-kubernetes/lib/network-policy-v1';
import { PodDisruptionBudgetV1 } from '@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1';
import { PriorityClassV1 } from '@cdktf/provider-kubernetes/lib/priority-class-v1';
import { ServiceV1 } from '@cdktf/provider-kubernetes/lib/service-v1';
import { Construct } from 'constructs';
import { METRIC } from '../../contract/metrics';
import { THRESHOLDS } from '../../monitoring/thresholds';
import { PROXY_CONTRACT, WORKER_CONTRACT } from '../../contract/service';
import { PropsValidator } from '../private/validation';
import { CellPolicies } from './cell-policies';
import { ModelServer, ModelServerProps, validateModelServerProps } from './model-server';
import { WORKLOAD_NAMES } from '../../contract/service';
import { RuntimeWorkload, RuntimeWorkloadProps, validateRuntimeSource, validateSecretEnv } from './runtime-workload';
import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1';
import { readFileSync } from 'node:fs';
import { loadRuntimeArtifacts, RuntimeArtifact } from '../artifacts/runtime-artifacts';
import { LAUNCHER_CONFIG_MAP } from './artifact-launch';

export interface ProxyWorkloadProps extends RuntimeWorkloadProps {
  /** Fewest proxy replicas (HPA minimum, spread over zones). @default 3 (the brief) */
  readonly minReplicas?: number;
  /** Most proxy replicas (HPA maximum). @default 20 (the brief) */
  readonly maxReplicas?: number;
  /** HPA CPU utilisation target, percent. @default 70 (the brief) */
  readonly cpuTargetPercent?: number;
  /** HPA target of in-flight requests per replica (pods metric). @default 200 */
  readonly inFlightTarget?: number;
}

export interface WorkerWorkloadProps extends RuntimeWorkloadProps {
  /** Fewest worker replicas (HPA minimum; 0 is refused: EKS does not enable HPA scale-to-zero). @default 1 */
  readonly minReplicas?: number;
  /** Most worker replicas (HPA maximum). @default 10 */
  readonly maxReplicas?: number;
  /** Ready jobs per worker replica the HPA aims for (external metric, averaged over replicas). @default 100 */
  readonly backlogPerReplica?: number;
  /** Seconds a worker gets on SIGTERM to finish its jobs before the kill (spot notice is 120 s). @default WORKER_CONTRACT.terminationGracePeriodSeconds (60) */
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
  /**
   * The launcher bundle (the init step of pods that run an `artifact`), delivered in a ConfigMap.
   * @default - the `launcher` of `loadRuntimeArtifacts()` (what `npm run bundle` built)
   */
  readonly launcher?: RuntimeArtifact;
}

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
    // Every prop is checked here first, so that errors name InferenceWorkloads' own props
    // (`proxy.maxReplicas`); the parts check the same rules again under their own names.
    const v = new PropsValidator('InferenceWorkloads', id);
    validateModelServerProps(v.nested('modelServer'), props.modelServer);
    const pxMin = props.proxy.minReplicas ?? 3;
    const pxMax = props.proxy.maxReplicas ?? 20;
    v.wholeNumber('proxy.minReplicas', pxMin, 1);
    v.ordered('proxy.maxReplicas', pxMax, 'minReplicas', pxMin);
    const cpuTarget = props.proxy.cpuTargetPercent ?? THRESHOLDS.proxyCpuTargetPercent;
    v.check('proxy.cpuTargetPercent', cpuTarget, (t) => t >= 10 && t <= 95, `must be between 10 and 95, got ${cpuTarget}`);
    const wkMin = props.worker.minReplicas ?? 1;
    const wkMax = props.worker.maxReplicas ?? 10;
    // 0 would need the HPAScaleToZero feature gate, which EKS does not enable.
    v.wholeNumber('worker.minReplicas', wkMin, 1);
    v.ordered('worker.maxReplicas', wkMax, 'minReplicas', wkMin);
    validateSecretEnv(v.nested('proxy'), props.proxy.secretEnv);
    validateSecretEnv(v.nested('worker'), props.worker.secretEnv);
    validateRuntimeSource(v.nested('proxy'), props.proxy);
    validateRuntimeSource(v.nested('worker'), props.worker);

    // The parts create their resources in this construct, under the ids it always gave them.
    const cell = new CellPolicies(this, {
      appNamespace: props.appNamespace,
      inferenceNamespace: props.inferenceNamespace,
      metricsScraperCidrs: props.metricsScraperCidrs,
      secretEnv: [...(props.proxy.secretEnv ?? []), ...(props.worker.secretEnv ?? [])],
    });
    this.appNamespace = cell.appNamespace;
    this.inferenceNamespace = cell.inferenceNamespace;
    this.priorityClasses = cell.priorityClasses;
    this.modelServerPolicy = cell.modelServerPolicy;

    const modelServer = new ModelServer(this, 'ModelServer', {
      ...props.modelServer,
      namespace: this.inferenceNamespace,
      priorityClassName: WORKLOAD_NAMES.priorityClasses.serving,
    });
    this.modelServer = modelServer.deployment;
    this.modelServerService = modelServer.service;
    this.modelServerHpa = modelServer.hpa;
    this.modelServerUrl = modelServer.url;

    // The launcher (init step of pods that run a bundle from the artifact store), one ConfigMap for both.
    const launcher = props.proxy.artifact || props.worker.artifact ? (props.launcher ?? loadRuntimeArtifacts().launcher) : undefined;
    if (launcher) {
      new ConfigMapV1(this, 'launcher', {
        metadata: { name: LAUNCHER_CONFIG_MAP, namespace: this.appNamespace, labels: { 'app.kubernetes.io/part-of': 'surgeguard' } },
        data: { 'launcher.js': readFileSync(launcher.path, 'utf8') },
      });
    }

    const proxy = new RuntimeWorkload(this, 'proxy', {
      ...props.proxy,
      name: WORKLOAD_NAMES.proxy,
      namespace: this.appNamespace,
      port: PROXY_CONTRACT.port,
      healthPath: PROXY_CONTRACT.healthPath,
      readyPath: PROXY_CONTRACT.readyPath,
      metricsPath: PROXY_CONTRACT.metricsPath,
      minReplicas: pxMin,
      maxReplicas: pxMax,
      priorityClassName: WORKLOAD_NAMES.priorityClasses.gateway,
      terminationGracePeriodSeconds: PROXY_CONTRACT.terminationGracePeriodSeconds,
      defaultResources: { cpu: '1', memory: '1Gi' },
      zoneSpread: 'DoNotSchedule',
      secretProviderClass: cell.secretProviderClass,
      nodePort: PROXY_CONTRACT.nodePort,
      launcher,
      autoscalingMetrics: [
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: cpuTarget } } },
        {
          type: 'Pods',
          pods: { metric: { name: METRIC.proxyInflightRequests }, target: { type: 'AverageValue', averageValue: String(props.proxy.inFlightTarget ?? 200) } },
        },
      ],
      autoscalingBehavior: {
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
    });
    this.proxy = proxy.deployment;
    this.proxyService = proxy.service!;
    this.proxyHpa = proxy.hpa;
    this.proxyPdb = proxy.pdb;

    const worker = new RuntimeWorkload(this, 'worker', {
      ...props.worker,
      name: WORKLOAD_NAMES.worker,
      namespace: this.appNamespace,
      port: WORKER_CONTRACT.port,
      healthPath: WORKER_CONTRACT.healthPath,
      readyPath: WORKER_CONTRACT.readyPath,
      metricsPath: WORKER_CONTRACT.metricsPath,
      minReplicas: wkMin,
      maxReplicas: wkMax,
      priorityClassName: WORKLOAD_NAMES.priorityClasses.batch,
      terminationGracePeriodSeconds: props.worker.drainSeconds ?? WORKER_CONTRACT.terminationGracePeriodSeconds,
      defaultResources: { cpu: '500m', memory: '512Mi' },
      zoneSpread: 'ScheduleAnyway',
      secretProviderClass: cell.secretProviderClass,
      launcher,
      autoscalingMetrics: [
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
      autoscalingBehavior: {
        scaleUp: [{ stabilizationWindowSeconds: 60, selectPolicy: 'Max', policy: [{ type: 'Percent', value: 100, periodSeconds: 60 }] }],
        scaleDown: [{ stabilizationWindowSeconds: 600, selectPolicy: 'Min', policy: [{ type: 'Pods', value: 1, periodSeconds: 120 }] }],
      },
    });
    this.worker = worker.deployment;
    this.workerHpa = worker.hpa;
  }
}
