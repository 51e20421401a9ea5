import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { NamespaceV1 } from '@cdktf/provider-kubernetes/lib/namespace-v1';
import { NetworkPolicyV1 } from '@cdktf/provider-kubernetes/lib/network-policy-v1';
import { PriorityClassV1 } from '@cdktf/provider-kubernetes/lib/priority-class-v1';
import { Construct } from 'constructs';
import { stringify } from 'yaml';
import { NAME_LABEL } from '../private/kubernetes';
import { MODEL_SERVER_CONTRACT, NAMESPACES, WORKLOAD_NAMES } from '../../contract/service';
import type { SecretEnv } from './runtime-workload';

export interface CellPoliciesProps {
  /**
   * Namespace of the proxy and worker.
   * @default - a `surgeguard` namespace is created (Pod Security `restricted`)
   */
  readonly appNamespace?: string;
  /**
   * Namespace of the model servers.
   * @default - a `surgeguard-inference` namespace is created (Pod Security `baseline`)
   */
  readonly inferenceNamespace?: string;
  /**
   * CIDRs allowed to scrape the model servers' metrics (the managed Prometheus collector's
   * subnets); the NetworkPolicy admits nothing else but the proxy and the worker.
   * @default []
   */
  readonly metricsScraperCidrs?: readonly string[];
  /**
   * Secrets Manager secrets the runtimes read as environment variables: synced into one Kubernetes
   * Secret by a SecretProviderClass. Listed by several runtimes, an `envName` is synced once.
   * @default [] - no SecretProviderClass
   */
  readonly secretEnv?: readonly SecretEnv[];
}

/**
 * What a cell's workloads live under: the namespaces (or given ones), the PriorityClasses
 * (gateway > serving > batch), the NetworkPolicies that let only the proxy and the worker (and the
 * metrics collector) reach the model servers and deny everything else in the inference namespace,
 * and the SecretProviderClass (Secrets Store CSI driver, AWS provider) that syncs the runtimes'
 * secrets from Secrets Manager — synth holds only ARNs, never a value.
 *
 * The resources are created directly in `scope` (`Namespace-app`, `Namespace-inference`,
 * `Priority-<class>`, `ModelServerPolicy`, `InferenceDefaultDeny`, `SecretProviderClass`) — the
 * Terraform addresses they had when InferenceWorkloads built them itself (construct ids are state
 * addresses); so one CellPolicies per scope.
 */
export class CellPolicies {
  public readonly appNamespace: string;
  public readonly inferenceNamespace: string;
  public readonly priorityClasses: { readonly gateway: PriorityClassV1; readonly serving: PriorityClassV1; readonly batch: PriorityClassV1 };
  /** Ingress policy of the model servers. */
  public readonly modelServerPolicy: NetworkPolicyV1;
  /** Name of the SecretProviderClass, when there are secrets. */
  public readonly secretProviderClass?: string;

  constructor(scope: Construct, props: CellPoliciesProps) {
    const namespace = (given: string | undefined, key: string, name: string, podSecurity: string) =>
      given ??
      new NamespaceV1(scope, `Namespace-${key}`, {
        metadata: { name, labels: { 'app.kubernetes.io/part-of': 'surgeguard', 'pod-security.kubernetes.io/enforce': podSecurity } },
      }).metadata.name;
    this.appNamespace = namespace(props.appNamespace, 'app', NAMESPACES.app.name, NAMESPACES.app.podSecurity);
    this.inferenceNamespace = namespace(props.inferenceNamespace, 'inference', NAMESPACES.inference.name, NAMESPACES.inference.podSecurity);

    const pc = (key: string, name: string, value: number, description: string, preemptionPolicy: string) =>
      new PriorityClassV1(scope, `Priority-${key}`, { metadata: { name }, value, description, preemptionPolicy, globalDefault: false });
    this.priorityClasses = {
      gateway: pc('gateway', WORKLOAD_NAMES.priorityClasses.gateway, 1_000_000, 'surgeguard proxy: every request passes it; evicted last', 'PreemptLowerPriority'),
      serving: pc('serving', WORKLOAD_NAMES.priorityClasses.serving, 900_000, 'surgeguard model servers answering real-time traffic', 'PreemptLowerPriority'),
      batch: pc('batch', WORKLOAD_NAMES.priorityClasses.batch, 1_000, 'surgeguard asynchronous job workers: wait for capacity, never preempt serving', 'Never'),
    };

    // Only the proxy and the worker (the proxy's asynchronous half) reach the model servers;
    // the metrics collector may scrape them.
    const clientPeer = (name: string) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': this.appNamespace } },
      podSelector: { matchLabels: { [NAME_LABEL]: name } },
    });
    this.modelServerPolicy = new NetworkPolicyV1(scope, 'ModelServerPolicy', {
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
    new NetworkPolicyV1(scope, 'InferenceDefaultDeny', {
      metadata: { name: 'default-deny-ingress', namespace: this.inferenceNamespace },
      spec: { podSelector: {}, policyTypes: ['Ingress'] },
    });

    const secrets = props.secretEnv ?? [];
    if (secrets.length > 0) this.secretProviderClass = this.syncSecrets(scope, secrets);
  }

  /**
   * A SecretProviderClass (Secrets Store CSI driver + AWS provider) that mounts the secrets and
   * syncs them into one Kubernetes Secret the runtimes read as environment variables. Synth holds
   * only the ARNs; the values travel Secrets Manager -> driver -> pod, never through Terraform.
   */
  private syncSecrets(scope: Construct, secrets: readonly SecretEnv[]): string {
    const unique = [...new Map(secrets.map((s) => [s.envName, s])).values()];
    const name = 'surgeguard-runtime';
    new Manifest(scope, 'SecretProviderClass', {
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
}
