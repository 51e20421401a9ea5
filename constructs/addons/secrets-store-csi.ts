import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { Release } from '@cdktf/provider-helm/lib/release';
import { ADDON_CHARTS, ADDON_IMAGES, helmValues, PinnedImage, releaseDefaults } from './charts';

export interface SecretsStoreCsiProps {
  /** Namespace of the driver and the provider. @default 'kube-system' */
  readonly namespace?: string;
  /**
   * How often mounted secrets are re-read from Secrets Manager (the synced Kubernetes Secret follows;
   * environment variables take a new value when the pod restarts).
   * @default '2m'
   */
  readonly rotationPollInterval?: string;
  /**
   * Images of the driver chart, pinned by digest (`<tag>@sha256:<64 hex>`).
   * @default ADDON_IMAGES.secretsStoreDriver, secretsStoreDriverCrds, csiNodeDriverRegistrar, csiLivenessProbe
   */
  readonly images?: {
    readonly driver: PinnedImage;
    readonly crds: PinnedImage;
    readonly registrar: PinnedImage;
    readonly livenessProbe: PinnedImage;
  };
}

/**
 * Secret delivery: the Secrets Store CSI driver (installs the `SecretProviderClass` CRD; syncs mounted
 * objects into Kubernetes Secrets) and its AWS provider (ASCP), which fetches from Secrets Manager with
 * the IRSA role of the pod that mounts the volume. The workloads stack's `SecretProviderClass` is applied
 * after this (its CRD must exist at plan time). Chosen over runtimes calling Secrets Manager at start:
 * the runtimes stay cloud-neutral (`{ fromEnv }` config), each pod reads only the ARNs its own role
 * allows, and Terraform never holds the values.
 * @see https://secrets-store-csi-driver.sigs.k8s.io/
 * @see https://github.com/aws/secrets-store-csi-driver-provider-aws
 */
export class SecretsStoreCsi extends Construct {
  /** The driver release (CRDs, node DaemonSet). */
  public readonly driver: Release;
  /** The AWS provider release (DaemonSet beside the driver). */
  public readonly awsProvider: Release;

  constructor(scope: Construct, id: string, props: SecretsStoreCsiProps = {}) {
    super(scope, id);
    const rotation = props.rotationPollInterval ?? '2m';
    if (!/^\d+[smh]$/.test(rotation)) throw new Error(`SecretsStoreCsi ${this.node.path}: rotationPollInterval "${rotation}" must be a duration like 2m`);
    const namespace = props.namespace ?? 'kube-system';
    const images = props.images ?? {
      driver: ADDON_IMAGES.secretsStoreDriver,
      crds: ADDON_IMAGES.secretsStoreDriverCrds,
      registrar: ADDON_IMAGES.csiNodeDriverRegistrar,
      livenessProbe: ADDON_IMAGES.csiLivenessProbe,
    };
    for (const [name, image] of Object.entries(images)) {
      if (!Token.isUnresolved(image.tag) && !/@sha256:[0-9a-f]{64}$/.test(image.tag)) {
        throw new Error(`SecretsStoreCsi ${this.node.path}: images.${name}.tag "${image.tag}" must pin a digest (<tag>@sha256:<64 hex>)`);
      }
    }
    const pinned = (image: PinnedImage) => ({ repository: image.repository, tag: image.tag });
    this.driver = new Release(this, 'driver', {
      ...releaseDefaults(ADDON_CHARTS.secretsStoreCsiDriver),
      name: 'secrets-store-csi-driver',
      namespace,
      values: [
        helmValues({
          syncSecret: { enabled: true },
          enableSecretRotation: true,
          rotationPollInterval: rotation,
          // The chart renders `<repository>:<tag>`; a `<tag>@sha256:` tag pins each image by digest.
          linux: {
            image: pinned(images.driver),
            crds: { image: pinned(images.crds) },
            registrarImage: pinned(images.registrar),
            livenessProbeImage: pinned(images.livenessProbe),
          },
        }),
      ],
    });
    this.awsProvider = new Release(this, 'aws-provider', {
      ...releaseDefaults(ADDON_CHARTS.secretsStoreAwsProvider),
      name: 'secrets-store-csi-driver-provider-aws',
      namespace,
      // The driver is its own release above; the provider chart must not install a second one.
      values: [helmValues({ 'secrets-store-csi-driver': { install: false } })],
      dependsOn: [this.driver],
    });
  }
}
