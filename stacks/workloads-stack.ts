import { Fn, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { DataAwsEksClusterAuth } from '@cdktf/provider-aws/lib/data-aws-eks-cluster-auth';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { NamespaceV1 } from '@cdktf/provider-kubernetes/lib/namespace-v1';
import { EnvironmentConfig } from '../envs/types';
import { addAwsProvider, addBackend, stackNames } from './common';
import { PlatformStack } from './platform-stack';

/** Namespaces of a cell and their Pod Security level. */
export const NAMESPACES = {
  /** Proxy and worker. */
  app: { name: 'surgeguard', podSecurity: 'restricted' },
  /** Model servers on the GPU nodes. */
  inference: { name: 'surgeguard-inference', podSecurity: 'baseline' },
  /** Prometheus, alerting, log shipping (node exporters need host access). */
  monitoring: { name: 'surgeguard-monitoring', podSecurity: 'privileged' },
} as const;

export interface WorkloadsStackProps {
  /** The (validated) environment. */
  readonly environment: EnvironmentConfig;
  /** The platform stack of the same region, whose cluster this stack deploys into. */
  readonly platform: PlatformStack;
}

/**
 * `<env>-<region>-workloads`: everything inside the cluster. Its Kubernetes provider reads the cluster
 * endpoint and CA from the platform stack (a cdktf cross-stack reference, i.e. remote state) and a
 * short-lived token from `aws_eks_cluster_auth`, so it is only configured once the cluster exists —
 * never in the same plan that creates it.
 */
export class WorkloadsStack extends TerraformStack {
  /** The platform stack deployed into. */
  public readonly platform: PlatformStack;
  /** The Kubernetes provider bound to the platform stack's cluster. */
  public readonly kubernetesProvider: KubernetesProvider;
  /** The namespaces, by role. */
  public readonly namespaces: { readonly app: NamespaceV1; readonly inference: NamespaceV1; readonly monitoring: NamespaceV1 };

  constructor(scope: Construct, props: WorkloadsStackProps) {
    const env = props.environment;
    const region = props.platform.region.region;
    const name = stackNames.workloads(env.name, region);
    super(scope, name);
    this.platform = props.platform;
    this.addDependency(props.platform);
    addAwsProvider(this, env, region);
    addBackend(this, env, name);

    const cluster = props.platform.cluster;
    const auth = new DataAwsEksClusterAuth(this, 'cluster-auth', { name: cluster.clusterName });
    this.kubernetesProvider = new KubernetesProvider(this, 'kubernetes', {
      host: cluster.clusterEndpoint,
      clusterCaCertificate: Fn.base64decode(cluster.clusterCertificateAuthorityData),
      token: auth.token,
    });

    const namespace = (key: keyof typeof NAMESPACES) => {
      const ns = NAMESPACES[key];
      return new NamespaceV1(this, `namespace-${key}`, {
        metadata: {
          name: ns.name,
          labels: {
            'app.kubernetes.io/part-of': 'surgeguard',
            'pod-security.kubernetes.io/enforce': ns.podSecurity,
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      });
    };
    this.namespaces = { app: namespace('app'), inference: namespace('inference'), monitoring: namespace('monitoring') };
  }
}
