import { EnvironmentConfig } from './types';

/** Pre-production: two regions, full HA shape at a smaller size. */
export const staging: EnvironmentConfig = {
  name: 'staging',
  domain: 'staging.surgeguard.example.com',
  regions: [
    {
      region: 'us-east-1',
      vpcCidr: '10.20.0.0/16',
      azCount: 3,
      natGateways: 'per-az',
      cpuNodes: { instanceTypes: ['m7i.xlarge', 'm6i.xlarge'], min: 3, max: 6, desired: 3 },
      gpu: {
        onDemand: { instanceTypes: ['g6e.2xlarge'], min: 1, max: 2, desired: 1 },
        // One L40S (48 GB) per replica: the 32B distill in FP8 (~34 GB) does not fit a 24 GB A10G/L4.
        spot: { instanceTypes: ['g6e.2xlarge', 'g6e.xlarge', 'g6e.4xlarge'], min: 0, max: 4, desired: 1 },
        gpusPerReplica: 1,
      },
      redis: { nodeType: 'cache.r7g.large', shards: 2, replicasPerShard: 1, snapshotRetentionDays: 1 },
      messageQueue: { instanceType: 'mq.m5.large', deploymentMode: 'CLUSTER_MULTI_AZ' },
    },
    {
      region: 'eu-west-1',
      vpcCidr: '10.21.0.0/16',
      azCount: 3,
      natGateways: 'per-az',
      cpuNodes: { instanceTypes: ['m7i.xlarge', 'm6i.xlarge'], min: 3, max: 6, desired: 3 },
      gpu: {
        onDemand: { instanceTypes: ['g6e.2xlarge'], min: 1, max: 2, desired: 1 },
        // One L40S (48 GB) per replica: the 32B distill in FP8 (~34 GB) does not fit a 24 GB A10G/L4.
        spot: { instanceTypes: ['g6e.2xlarge', 'g6e.xlarge', 'g6e.4xlarge'], min: 0, max: 4, desired: 1 },
        gpusPerReplica: 1,
      },
      redis: { nodeType: 'cache.r7g.large', shards: 2, replicasPerShard: 1, snapshotRetentionDays: 1 },
      messageQueue: { instanceType: 'mq.m5.large', deploymentMode: 'CLUSTER_MULTI_AZ' },
    },
  ],
  globalAccelerator: true,
  backend: { type: 's3', bucket: 'surgeguard-terraform-state-staging', region: 'us-east-1' },
  deletionProtection: false,
  kubernetesVersion: '1.32',
  model: {
    name: 'deepseek-r1-distill-qwen-32b',
    // vLLM v0.8.5 by digest (as pinned in public deployment manifests of docker.io/vllm/vllm-openai:v0.8.5).
    image: 'vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33',
    modelId: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-32B',
    quantization: 'fp8',
    maxConcurrentSequences: 128,
    maxModelLength: 16_384,
  },
  logRetentionDays: 30,
  // SHA-256 of each key (`printf %s "$KEY" | sha256sum`); the keys themselves live with their owners.
  // Replace these with your own before the first deploy.
  apiKeys: [
    { name: 'staging-realtime', sha256: 'dcb2d52a36bc01ec646b48f47869e967d27a7ef8a312fabb619ca7629cd6f2c6', tier: 'high' },
    { name: 'staging-batch', sha256: '51673dd0bb2e2d748c63555ab17ab68b9498a5e38c3351143e97ada5aadf1c4f', tier: 'low' },
  ],
};
