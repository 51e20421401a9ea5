import { EnvironmentConfig } from './types';

/**
 * Networks allowed to reach dev's Kubernetes API over the internet: dev keeps local state, so it has no
 * in-VPC deploy runner (the runner reads state from S3), and its add-ons and workloads stacks are applied
 * from the developer's or CI's machine. Comma-separated CIDRs in `SURGEGUARD_DEV_API_CIDRS` (e.g. your
 * address as /32); validated like any `clusterPublicAccessCidrs` (a CIDR, never 0.0.0.0/0). Unset: the
 * endpoint stays private and only the dns and platform stacks can be applied from outside the VPC.
 */
export function devApiCidrs(value: string | undefined = process.env.SURGEGUARD_DEV_API_CIDRS): string[] {
  return (value ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '');
}

/** A developer's sandbox: one region, two AZs, one NAT, spot-heavy GPUs, local state. */
export const dev: EnvironmentConfig = {
  name: 'dev',
  domain: 'dev.surgeguard.example.com',
  regions: [
    {
      region: 'us-east-1',
      vpcCidr: '10.10.0.0/16',
      azCount: 2,
      natGateways: 'single',
      cpuNodes: { instanceTypes: ['m7i.large', 'm6i.large'], min: 2, max: 4, desired: 2 },
      gpu: {
        onDemand: { instanceTypes: ['g6.xlarge'], min: 0, max: 1, desired: 0 },
        spot: { instanceTypes: ['g6.xlarge', 'g5.xlarge', 'g6e.xlarge'], min: 1, max: 3, desired: 1 },
        gpusPerReplica: 1,
      },
      redis: { nodeType: 'cache.t4g.small', shards: 1, replicasPerShard: 0, snapshotRetentionDays: 0 },
      messageQueue: { instanceType: 'mq.t3.micro', deploymentMode: 'SINGLE_INSTANCE' },
    },
  ],
  globalAccelerator: false,
  backend: { type: 'local' },
  clusterPublicAccessCidrs: devApiCidrs(),
  deletionProtection: false,
  kubernetesVersion: '1.32',
  model: {
    name: 'deepseek-r1-distill-qwen-7b',
    // vLLM v0.8.5 by digest (as pinned in public deployment manifests of docker.io/vllm/vllm-openai:v0.8.5).
    image: 'vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33',
    modelId: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B',
    maxConcurrentSequences: 64,
    maxModelLength: 16_384,
  },
  logRetentionDays: 7,
};
