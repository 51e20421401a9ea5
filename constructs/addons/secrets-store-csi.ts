import { ITerraformDependable, Token } from 'cdktf';
import { Construct } from 'constructs';
import { EksAddon } from '@cdktf/provider-aws/lib/eks-addon';

/** Name of the EKS add-on that installs the Secrets Store CSI driver and its AWS provider (ASCP). */
export const SECRETS_STORE_ADDON_NAME = 'aws-secrets-store-csi-driver-provider';

/**
 * The add-on version per Kubernetes minor version of the cluster. An add-on version is what AWS
 * publishes for it: the images (the CSI driver, its registrar and liveness probe, the provider) come
 * from AWS's registry at the digests that version names, and EKS refuses a version it does not list as
 * compatible with the cluster (`InvalidParameterException` on create/update), so a wrong entry fails the
 * apply, never pulls something else. Check a new entry with
 * `aws eks describe-addon-versions --addon-name aws-secrets-store-csi-driver-provider --kubernetes-version <minor>`.
 *
 * `v2.2.2-eksbuild.1` (ASCP 2.2.2, released 2026-03-02 in aws/secrets-store-csi-driver-provider-aws, tag
 * `2.2.2`): pinned by public EKS configurations (`addon_version = "v2.2.2-eksbuild.1"`); it was
 * published while 1.32 was in EKS standard support (until 2026-03-23), and add-on versions are
 * published for every supported Kubernetes version.
 */
export const SECRETS_STORE_ADDON_VERSIONS: Readonly<Record<string, string>> = {
  '1.32': 'v2.2.2-eksbuild.1',
};

/** The CustomResourceDefinitions each EKS add-on installs (`group/Kind`), as `CHART_CRDS` does for charts. */
export const EKS_ADDON_CRDS: Readonly<Record<string, readonly string[]>> = {
  [SECRETS_STORE_ADDON_NAME]: ['secrets-store.csi.x-k8s.io/SecretProviderClass', 'secrets-store.csi.x-k8s.io/SecretProviderClassPodStatus'],
};

export interface SecretsStoreCsiProps {
  /** EKS cluster name. */
  readonly clusterName: string;
  /** Kubernetes minor version of the cluster (`1.32`): selects the add-on version. */
  readonly kubernetesVersion: string;
  /**
   * Add-on version (`v<major>.<minor>.<patch>-eksbuild.<n>`).
   * @default SECRETS_STORE_ADDON_VERSIONS[kubernetesVersion]
   */
  readonly addonVersion?: string;
  /**
   * How often mounted secrets are re-read from Secrets Manager (the synced Kubernetes Secret follows;
   * environment variables take a new value when the pod restarts).
   * @default '2m'
   */
  readonly rotationPollInterval?: string;
  /** What must exist first: nodes for the DaemonSets (the add-on reports degraded without them). @default [] */
  readonly dependsOn?: ITerraformDependable[];
  /** Tags of the add-on. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * Secret delivery: the Secrets Store CSI driver (installs the `SecretProviderClass` CRD; syncs mounted
 * objects into Kubernetes Secrets) and its AWS provider (ASCP), which fetches from Secrets Manager with
 * the IRSA role of the pod that mounts the volume — installed as the EKS add-on
 * `aws-secrets-store-csi-driver-provider`, pinned by add-on version.
 *
 * Why an add-on and not the two Helm charts: AWS publishes the provider image on Public ECR without a
 * digest list, and no public source records one, so a chart install could only run it by a mutable tag.
 * An add-on version fixes every image it runs (AWS builds and scans them; `describe-addon-versions`
 * lists it), the same trust model as the VPC CNI, kube-proxy and CoreDNS add-ons of the cluster.
 * It is declared in the platform stack (an AWS resource), so its CRD exists before the workloads
 * stack's `SecretProviderClass` is planned. Chosen over runtimes calling Secrets Manager at start: the
 * runtimes stay cloud-neutral (`{ fromEnv }` config), each pod reads only the ARNs its own role allows,
 * and Terraform never holds the values.
 * @see https://github.com/aws/secrets-store-csi-driver-provider-aws
 */
export class SecretsStoreCsi extends Construct {
  /** The EKS add-on (driver, CRDs, provider DaemonSets). */
  public readonly addon: EksAddon;

  constructor(scope: Construct, id: string, props: SecretsStoreCsiProps) {
    super(scope, id);
    const where = `SecretsStoreCsi ${this.node.path}`;
    const rotation = props.rotationPollInterval ?? '2m';
    if (!/^\d+[smh]$/.test(rotation)) throw new Error(`${where}: rotationPollInterval "${rotation}" must be a duration like 2m`);
    const version = props.addonVersion ?? SECRETS_STORE_ADDON_VERSIONS[props.kubernetesVersion];
    if (version === undefined) {
      throw new Error(
        `${where}: no ${SECRETS_STORE_ADDON_NAME} add-on version is known for Kubernetes ${props.kubernetesVersion} (kubernetesVersion): add it to SECRETS_STORE_ADDON_VERSIONS or pass addonVersion`,
      );
    }
    if (!Token.isUnresolved(version) && !/^v\d+\.\d+\.\d+-eksbuild\.\d+$/.test(version)) {
      throw new Error(`${where}: addonVersion "${version}" must be an exact add-on version like v2.2.2-eksbuild.1`);
    }
    this.addon = new EksAddon(this, 'addon', {
      clusterName: props.clusterName,
      addonName: SECRETS_STORE_ADDON_NAME,
      addonVersion: version,
      // The add-on's chart values: the driver syncs mounted objects into Kubernetes Secrets (the runtimes
      // read them as environment variables) and re-reads them for rotation.
      configurationValues: JSON.stringify({
        'secrets-store-csi-driver': { syncSecret: { enabled: true }, enableSecretRotation: true, rotationPollInterval: rotation },
      }),
      resolveConflictsOnCreate: 'OVERWRITE',
      resolveConflictsOnUpdate: 'PRESERVE',
      dependsOn: props.dependsOn,
      tags: { ...(props.tags ?? {}) },
    });
  }
}
