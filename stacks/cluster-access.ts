import { Fn } from 'cdktf';
import { Construct } from 'constructs';
import { HelmProvider } from '@cdktf/provider-helm/lib/provider';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { InferenceCluster } from '../constructs/cluster/inference-cluster';

/**
 * Client authentication plugin call that yields an EKS token: `aws eks get-token`. The providers run it
 * whenever they need a token, so an apply that outlasts a token's 15 minutes (GPU node groups, Helm
 * releases waiting for rollouts) keeps working — unlike a token read once from `aws_eks_cluster_auth`
 * at plan time. Needs the AWS CLI v2 on the machine that runs Terraform, and credentials of a principal
 * with an EKS access entry on the cluster.
 */
export function eksExecAuth(clusterName: string, region: string) {
  return {
    apiVersion: 'client.authentication.k8s.io/v1beta1',
    command: 'aws',
    args: ['eks', 'get-token', '--cluster-name', clusterName, '--region', region, '--output', 'json'],
  };
}

/** The Kubernetes provider of a later stack, bound to `cluster` (endpoint and CA from its stack's state). */
export function addKubernetesProvider(scope: Construct, cluster: InferenceCluster, region: string): KubernetesProvider {
  return new KubernetesProvider(scope, 'kubernetes', {
    host: cluster.clusterEndpoint,
    clusterCaCertificate: Fn.base64decode(cluster.clusterCertificateAuthorityData),
    exec: [eksExecAuth(cluster.clusterName, region)],
  });
}

/** The Helm provider of a later stack, bound to `cluster` the same way. */
export function addHelmProvider(scope: Construct, cluster: InferenceCluster, region: string): HelmProvider {
  return new HelmProvider(scope, 'helm', {
    kubernetes: {
      host: cluster.clusterEndpoint,
      clusterCaCertificate: Fn.base64decode(cluster.clusterCertificateAuthorityData),
      exec: eksExecAuth(cluster.clusterName, region),
    },
  });
}
