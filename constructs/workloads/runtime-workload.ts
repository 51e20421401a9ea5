import { ConfigMapV1 } from '@cdktf/provider-kubernetes/lib/config-map-v1';
import { DeploymentV1, DeploymentV1SpecTemplateSpec } from '@cdktf/provider-kubernetes/lib/deployment-v1';
import {
  HorizontalPodAutoscalerV2,
  HorizontalPodAutoscalerV2SpecBehavior,
  HorizontalPodAutoscalerV2SpecMetric,
} from '@cdktf/provider-kubernetes/lib/horizontal-pod-autoscaler-v2';
import { PodDisruptionBudgetV1 } from '@cdktf/provider-kubernetes/lib/pod-disruption-budget-v1';
import { ServiceAccountV1 } from '@cdktf/provider-kubernetes/lib/service-account-v1';
import { ServiceV1 } from '@cdktf/provider-kubernetes/lib/service-v1';
import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { NODE_POOL_LABEL } from '../cluster/node-group';
import { CONTAINER_SECURITY, httpProbe, NAME_LABEL, RUNTIME_POD_SECURITY, scrapeAnnotations, zoneSpread } from '../private/kubernetes';
import { PropsValidator } from '../private/validation';
import { RuntimeArtifactObjects } from '../artifacts/runtime-artifact-objects';
import { RuntimeArtifact } from '../artifacts/runtime-artifacts';
import { artifactLaunch } from './artifact-launch';
import { WORKLOAD_NAMES } from '../../contract/service';
import { SCRATCH_DIR } from './names';

const CONFIG_DIR = '/etc/surgeguard';

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

export interface RuntimeWorkloadProps {
  /**
   * The runtime's bundle in the artifact bucket: the pod's init container fetches it with the pod's
   * role and verifies its SHA-256, then the pinned Node image runs it (docs/artifacts.md). Needs
   * `roleArn` (a role the objects granted read to). Exactly one of `artifact` and `image`.
   * @default - none; `image` must be set
   */
  readonly artifact?: RuntimeArtifactObjects;
  /**
   * A runtime image built in your own CI (see the repository's Dockerfile), pinned by digest
   * (`registry/repo@sha256:<64 hex>`); run as is. Exactly one of `artifact` and `image`.
   * @default - none; `artifact` must be set
   */
  readonly image?: string;
  /** The runtime's config file content (validated by the runtime's schema), rendered to YAML in a ConfigMap. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Secrets Manager secrets exposed as environment variables. @default [] */
  readonly secretEnv?: readonly SecretEnv[];
  /** IAM role (IRSA) of the service account. @default - none */
  readonly roleArn?: string;
  /** Container resources. @default - proxy 1 CPU / 1Gi, worker 500m / 512Mi (memory limit = request) */
  readonly resources?: ContainerResources;
}

/** How a {@link RuntimeWorkload} runs: what the runtime serves and how it scales. */
export interface RuntimeWorkloadSpec {
  /** Kubernetes name of the Deployment, its ServiceAccount, Service, HPA and PDB (the `app.kubernetes.io/name` label). */
  readonly name: string;
  /** Namespace of everything the workload creates. */
  readonly namespace: string;
  /** Container port (the runtime's listener). */
  readonly port: number;
  /** Liveness probe path. */
  readonly healthPath: string;
  /** Readiness probe path. */
  readonly readyPath: string;
  /** Prometheus metrics path (scrape annotations). */
  readonly metricsPath: string;
  /** Replicas at least (the Deployment's initial count and the HPA's floor). */
  readonly minReplicas: number;
  /** Replicas at most (the HPA's ceiling). */
  readonly maxReplicas: number;
  /** PriorityClass of the pods. */
  readonly priorityClassName: string;
  /** Seconds between SIGTERM and SIGKILL (the drain budget). */
  readonly terminationGracePeriodSeconds: number;
  /** Container resources when {@link RuntimeWorkloadProps.resources} is not set. */
  readonly defaultResources: ContainerResources;
  /** Zone spread: `DoNotSchedule` for a workload that must stay in every zone. */
  readonly zoneSpread: 'DoNotSchedule' | 'ScheduleAnyway';
  /** SecretProviderClass that syncs the `secretEnv` secrets (see CellPolicies). @default - no secret volume */
  readonly secretProviderClass?: string;
  /** Metrics the HPA scales on. */
  readonly autoscalingMetrics: HorizontalPodAutoscalerV2SpecMetric[];
  /** Scale-up and scale-down behaviour of the HPA. */
  readonly autoscalingBehavior: HorizontalPodAutoscalerV2SpecBehavior;
  /** A NodePort Service in front of the pods (what a load balancer forwards to). @default - no Service */
  readonly nodePort?: number;
  /**
   * The launcher bundle, whose ConfigMap (`LAUNCHER_CONFIG_MAP`) the init container mounts when
   * `artifact` is set; its SHA-256 rolls the pods when it changes. @default - no launcher annotation
   */
  readonly launcher?: RuntimeArtifact;
}

/** Checks where the runtime comes from: exactly one of artifact and image, images by digest, a role for an artifact. */
export function validateRuntimeSource(v: PropsValidator, props: RuntimeWorkloadProps): void {
  if ((props.artifact === undefined) === (props.image === undefined)) v.fail('artifact', 'and image: set exactly one (the bundle from the artifact store, or an image of your own)');
  if (props.image !== undefined) {
    v.check('image', props.image, (i) => /@sha256:[0-9a-f]{64}$/.test(i), `must be pinned by digest (<repository>@sha256:<64 hex digits>), got "${props.image}"`);
  }
  if (props.artifact !== undefined && props.roleArn === undefined) v.fail('roleArn', 'is required with artifact (the role the artifact grants read to)');
}

/** Checks the secrets a runtime reads (used by RuntimeWorkload, and by InferenceWorkloads under `proxy.`/`worker.`). */
export function validateSecretEnv(v: PropsValidator, secretEnv: readonly SecretEnv[] | undefined): void {
  const names = new Set<string>();
  for (const s of secretEnv ?? []) {
    v.check('secretEnv', s.envName, (n) => /^[A-Z_][A-Z0-9_]*$/.test(n), `"${s.envName}" is not an environment variable name`);
    if (names.has(s.envName)) v.fail('secretEnv', `"${s.envName}" is listed twice`);
    names.add(s.envName);
  }
}

/** `proxy` -> `Proxy`: the prefix of the Service, HPA and PDB ids. */
function pascal(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}

/**
 * A surgeguard runtime (the proxy or the worker) on the CPU nodes: its config file rendered to YAML
 * in a ConfigMap (a changed config rolls the pods), a ServiceAccount (IRSA when a role is given), a
 * Deployment (read-only root, non-root, probes, zone and host spread, secrets as environment
 * variables from the synced Kubernetes Secret), an HPA, a PDB, and optionally a NodePort Service.
 *
 * The resources are created directly in `scope` — `<id>-config`, `<id>-service-account`, the
 * Deployment `<id>`, then `<Id>Service`, `<Id>Hpa`, `<Id>Pdb` — the Terraform addresses they had
 * when InferenceWorkloads built them itself (construct ids are state addresses).
 */
export class RuntimeWorkload {
  public readonly configMap: ConfigMapV1;
  public readonly serviceAccount: ServiceAccountV1;
  public readonly deployment: DeploymentV1;
  public readonly hpa: HorizontalPodAutoscalerV2;
  public readonly pdb: PodDisruptionBudgetV1;
  /** The NodePort Service, when `nodePort` is set. */
  public readonly service?: ServiceV1;

  constructor(scope: Construct, id: string, props: RuntimeWorkloadProps & RuntimeWorkloadSpec) {
    const v = new PropsValidator('RuntimeWorkload', id);
    v.wholeNumber('minReplicas', props.minReplicas, 1);
    v.ordered('maxReplicas', props.maxReplicas, 'minReplicas', props.minReplicas);
    validateSecretEnv(v, props.secretEnv);
    validateRuntimeSource(v, props);
    const key = id;
    const name = props.name;
    const replicas = props.minReplicas;
    const labels = { [NAME_LABEL]: name, 'app.kubernetes.io/part-of': 'surgeguard' };
    const configFile = `${key}.yaml`;
    const configYaml = stringify(props.config, { lineWidth: 0 });
    this.configMap = new ConfigMapV1(scope, `${key}-config`, {
      metadata: { name: `${name}-config`, namespace: props.namespace, labels },
      data: { [configFile]: configYaml },
    });
    this.serviceAccount = new ServiceAccountV1(scope, `${key}-service-account`, {
      metadata: {
        name,
        namespace: props.namespace,
        labels,
        annotations: props.roleArn ? { 'eks.amazonaws.com/role-arn': props.roleArn } : undefined,
      },
      automountServiceAccountToken: false,
    });
    const res = props.resources ?? props.defaultResources;
    const secretEnv = props.secretEnv ?? [];
    const usesSecrets = secretEnv.length > 0 && props.secretProviderClass !== undefined;
    const launch = props.artifact
      ? artifactLaunch(props.artifact, { securityContext: CONTAINER_SECURITY, scratchEnv: { name: 'TMPDIR', value: SCRATCH_DIR } })
      : undefined;
    this.deployment = new DeploymentV1(scope, key, {
      metadata: { name, namespace: props.namespace, labels },
      spec: {
        replicas: String(replicas),
        selector: { matchLabels: { [NAME_LABEL]: name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '0' } },
        template: {
          metadata: {
            labels,
            // A changed config rolls the pods. Hashed by Terraform: the config may hold references
            // (endpoints) whose values exist only at apply time.
            annotations: {
              ...scrapeAnnotations(props.port, props.metricsPath),
              'surgeguard.io/config-hash': Fn.sha1(configYaml),
              ...launch?.annotations,
              ...(launch && props.launcher ? { 'surgeguard.io/launcher-sha256': props.launcher.sha256 } : {}),
            },
          },
          spec: {
            serviceAccountName: this.serviceAccount.metadata.name,
            // The projected IRSA token is mounted by the EKS webhook when the role annotation is set.
            automountServiceAccountToken: props.roleArn !== undefined,
            priorityClassName: props.priorityClassName,
            terminationGracePeriodSeconds: props.terminationGracePeriodSeconds,
            nodeSelector: { [NODE_POOL_LABEL]: 'cpu' },
            topologySpreadConstraint: [zoneSpread(name, props.zoneSpread), { ...zoneSpread(name, 'ScheduleAnyway'), topologyKey: 'kubernetes.io/hostname' }],
            securityContext: {
              ...RUNTIME_POD_SECURITY,
              // Namespaced "safe" sysctl (allowed under the restricted Pod Security Standard):
              // a wide ephemeral port range for many upstream connections. net.core.somaxconn is
              // namespaced but not on the safe list (it needs the kubelet's allowed-unsafe-sysctls);
              // the kernel default of 4096 (Linux >= 5.4) is used instead.
              sysctl: [{ name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }],
            },
            ...(launch ? { initContainer: [launch.initContainer] } : {}),
            container: [
              {
                name: key,
                image: launch?.image ?? props.image,
                ...(launch ? { command: launch.command } : {}),
                port: [{ name: 'http', containerPort: props.port }],
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
                livenessProbe: httpProbe(props.healthPath, props.port, 10, 3),
                readinessProbe: httpProbe(props.readyPath, props.port, 5, 2),
                securityContext: CONTAINER_SECURITY,
                volumeMount: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'tmp', mountPath: SCRATCH_DIR },
                  ...(launch ? [launch.mainMount] : []),
                  ...(usesSecrets ? [{ name: 'secrets', mountPath: '/mnt/secrets', readOnly: true }] : []),
                ],
              },
            ],
            volume: [
              { name: 'config', configMap: { name: this.configMap.metadata.name } },
              { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
              ...(launch?.volumes ?? []),
              // Mounting the CSI volume is what makes the driver sync the Kubernetes Secret.
              ...(usesSecrets
                ? [{ name: 'secrets', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: props.secretProviderClass! } } }]
                : []),
            ],
          } satisfies DeploymentV1SpecTemplateSpec,
        },
      },
      lifecycle: { ignoreChanges: ['spec[0].replicas'] },
    });
    const Id = pascal(id);
    if (props.nodePort !== undefined) {
      this.service = new ServiceV1(scope, `${Id}Service`, {
        metadata: { name, namespace: props.namespace, labels: { [NAME_LABEL]: name } },
        spec: {
          type: 'NodePort',
          selector: { [NAME_LABEL]: name },
          externalTrafficPolicy: 'Cluster',
          port: [{ name: 'http', port: props.port, targetPort: String(props.port), nodePort: props.nodePort, protocol: 'TCP' }],
        },
      });
    }
    this.hpa = new HorizontalPodAutoscalerV2(scope, `${Id}Hpa`, {
      metadata: { name, namespace: props.namespace },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.deployment.metadata.name },
        minReplicas: props.minReplicas,
        maxReplicas: props.maxReplicas,
        metric: props.autoscalingMetrics,
        behavior: props.autoscalingBehavior,
      },
    });
    this.pdb = new PodDisruptionBudgetV1(scope, `${Id}Pdb`, {
      metadata: { name, namespace: props.namespace },
      spec: { maxUnavailable: '1', selector: { matchLabels: { [NAME_LABEL]: name } } },
    });
  }
}
