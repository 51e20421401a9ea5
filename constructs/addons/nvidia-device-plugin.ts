import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import { GPU_TAINT, NODE_POOL_LABEL } from '../cluster/node-group';
import { PropsValidator } from '../private/validation';
import { ADDON_CHARTS, ADDON_IMAGES, helmValues, PinnedImage, releaseDefaults } from './charts';

export interface NvidiaDevicePluginProps {
  /**
   * Namespace of the DaemonSet.
   * @default 'kube-system'
   */
  readonly namespace?: string;
  /**
   * Node label (key and values) the DaemonSet is restricted to: the GPU nodes. The chart's own
   * affinity requires Node Feature Discovery labels, which nothing sets on EKS managed nodes, so
   * the default would schedule the plugin nowhere.
   * @default { key: NODE_POOL_LABEL, values: ['gpu'] }
   */
  readonly gpuNodeLabel?: { readonly key: string; readonly values: readonly string[] };
  /**
   * Image of the plugin, pinned by digest.
   * @default ADDON_IMAGES.nvidiaDevicePlugin
   */
  readonly image?: PinnedImage;
}

/**
 * The NVIDIA device plugin: a DaemonSet on the GPU nodes that registers `nvidia.com/gpu` with the
 * kubelet, so model-server pods requesting GPUs can be scheduled. The EKS AL2023 NVIDIA AMIs carry
 * the driver and the container toolkit but not the plugin. It tolerates the GPU taint and runs at
 * `system-node-critical` priority.
 * @see https://github.com/NVIDIA/k8s-device-plugin
 */
export class NvidiaDevicePlugin extends Construct {
  /** The Helm release. */
  public readonly release: Release;

  constructor(scope: Construct, id: string, props: NvidiaDevicePluginProps = {}) {
    super(scope, id);
    const label = props.gpuNodeLabel ?? { key: NODE_POOL_LABEL, values: ['gpu'] };
    if (label.values.length === 0) throw new Error(`NvidiaDevicePlugin ${this.node.path}: gpuNodeLabel.values must list at least one value`);
    const image = props.image ?? ADDON_IMAGES.nvidiaDevicePlugin;
    new PropsValidator('NvidiaDevicePlugin', this.node.path).pinnedDigest('image.tag', image.tag);
    this.release = new Release(this, 'release', {
      ...releaseDefaults(ADDON_CHARTS.nvidiaDevicePlugin),
      name: 'nvidia-device-plugin',
      namespace: props.namespace ?? 'kube-system',
      values: [
        helmValues({
          image: { repository: image.repository, tag: image.tag },
          priorityClassName: 'system-node-critical',
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: label.key, operator: 'In', values: [...label.values] }] }],
              },
            },
          },
          tolerations: [
            { key: GPU_TAINT.key, operator: 'Exists', effect: 'NoSchedule' },
            { key: 'CriticalAddonsOnly', operator: 'Exists' },
          ],
          // GPU feature discovery needs Node Feature Discovery; the pool label is enough here.
          gfd: { enabled: false },
        }),
      ],
    });
  }
}
