import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import { NODE_POOL_LABEL } from '../cluster/node-group';
import { ADDON_CHARTS, ADDON_IMAGES, helmValues, PinnedImage, releaseDefaults } from './charts';

export interface MetricsServerProps {
  /** Namespace. @default 'kube-system' */
  readonly namespace?: string;
  /** Replicas (the resource metrics API is unavailable while none runs). @default 2 */
  readonly replicas?: number;
  /** Node selector. @default { 'surgeguard.io/pool': 'cpu' } */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Image, pinned by digest. @default ADDON_IMAGES.metricsServer */
  readonly image?: PinnedImage;
}

/**
 * metrics-server: serves `metrics.k8s.io` (pod CPU and memory from the kubelets), which the proxy
 * HPA's CPU target reads. Two replicas with a disruption budget, on the CPU pool.
 * @see https://github.com/kubernetes-sigs/metrics-server
 */
export class MetricsServer extends Construct {
  /** The Helm release. */
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: MetricsServerProps = {}) {
    super(scope, id);
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`MetricsServer ${this.node.path}: replicas ${replicas} must be a whole number >= 1`);
    const image = props.image ?? ADDON_IMAGES.metricsServer;
    this.release = new Release(this, 'release', {
      ...releaseDefaults(ADDON_CHARTS.metricsServer),
      name: 'metrics-server',
      namespace: props.namespace ?? 'kube-system',
      values: [
        helmValues({
          image: { repository: image.repository, tag: image.tag },
          replicas,
          podDisruptionBudget: replicas > 1 ? { enabled: true, maxUnavailable: 1 } : { enabled: false },
          nodeSelector: { ...(props.nodeSelector ?? { [NODE_POOL_LABEL]: 'cpu' }) },
          priorityClassName: 'system-cluster-critical',
        }),
      ],
    });
  }
}
