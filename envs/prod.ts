import { EnvironmentConfig, RegionConfig } from './types';

function prodRegion(region: string, vpcCidr: string): RegionConfig {
  return {
    region,
    vpcCidr,
    azCount: 3,
    natGateways: 'per-az',
    cpuNodes: { instanceTypes: ['m7i.2xlarge', 'm6i.2xlarge', 'm7a.2xlarge'], min: 3, max: 20, desired: 3 },
    gpu: {
      // DeepSeek-V3 in FP8 (~690 GB of weights) needs H200-class nodes: 8 x 141 GB per replica on one
      // node (p5.48xlarge's 8 x 80 GB, p4d's 8 x 40 GB and g6e.48xlarge's 8 x 48 GB cannot hold it).
      // The serving plan (envs/serving-plan.ts, docs/serving-plan.md) checks every type listed here.
      // The on-demand base keeps critical traffic served when spot is reclaimed.
      onDemand: { instanceTypes: ['p5en.48xlarge', 'p5e.48xlarge'], min: 2, max: 4, desired: 2 },
      spot: { instanceTypes: ['p5en.48xlarge', 'p5e.48xlarge'], min: 0, max: 12, desired: 2 },
      gpusPerReplica: 8,
    },
    redis: { nodeType: 'cache.r7g.xlarge', shards: 3, replicasPerShard: 2, snapshotRetentionDays: 7 },
    messageQueue: { instanceType: 'mq.m5.xlarge', deploymentMode: 'CLUSTER_MULTI_AZ' },
  };
}

/** Production: three active-active regions behind latency DNS and Global Accelerator. */
export const prod: EnvironmentConfig = {
  name: 'prod',
  domain: 'api.surgeguard.example.com',
  regions: [
    prodRegion('us-east-1', '10.30.0.0/16'),
    prodRegion('eu-west-1', '10.31.0.0/16'),
    prodRegion('ap-southeast-1', '10.32.0.0/16'),
  ],
  globalAccelerator: true,
  geolocationOverrides: [{ country: 'DE', region: 'eu-west-1' }],
  backend: { type: 's3', bucket: 'surgeguard-terraform-state-prod', region: 'us-east-1', keyPrefix: 'surgeguard/prod' },
  deletionProtection: true,
  kubernetesVersion: '1.32',
  model: {
    name: 'deepseek-v3',
    // vLLM v0.8.5 by digest (as pinned in public deployment manifests of docker.io/vllm/vllm-openai:v0.8.5).
    image: 'vllm/vllm-openai:v0.8.5@sha256:6cf9808ca8810fc6c3fd0451c2e7784fb224590d81f7db338e7eaf3c02a33d33',
    modelId: 'deepseek-ai/DeepSeek-V3',
    quantization: 'fp8',
    maxConcurrentSequences: 256,
    maxModelLength: 65_536,
  },
  logRetentionDays: 90,
  // SHA-256 of each key (`printf %s "$KEY" | sha256sum`); the keys themselves live with their owners.
  // Replace these with your own before the first deploy.
  apiKeys: [
    { name: 'prod-realtime', sha256: '26a7fe058cc29927d576a222e15cdf3a6be3850199b5f1788bd131b0877ccb0d', tier: 'critical' },
    { name: 'prod-interactive', sha256: 'c1ee70f1a6cc8a707dc6bc15b4adbdf13d187d54adefae9d675dc1b27110fc62', tier: 'high' },
    { name: 'prod-batch', sha256: '46819d42cc61032f3725cb868251efdda8ad21ba373cb70fa93032665e62a402', tier: 'low' },
  ],
};
