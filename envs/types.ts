/**
 * The contract of an environment: everything `cdktf synth` needs to lay out one
 * surgeguard deployment. Each environment is a typed value in `envs/<name>.ts`,
 * validated by `validateEnvironment` before any construct is created.
 */

/** Where Terraform keeps the state of every stack of an environment. */
export type BackendConfig =
  | {
      /** Local state files, for a developer's sandbox. */
      readonly type: 'local';
      /**
       * Directory for the state files, relative to the synthesized stack directory
       * (`cdktf.out/stacks/<stack>`), so synth output never carries an absolute path of the checkout.
       * @default '../../../terraform-state' - `terraform-state/` at the repository root
       */
      readonly directory?: string;
    }
  | {
      /** S3 state with Terraform's native lock file (`use_lockfile`). */
      readonly type: 's3';
      /** Name of the (pre-existing, versioned, encrypted) state bucket. */
      readonly bucket: string;
      /** Region of the state bucket. */
      readonly region: string;
      /**
       * Prefix of every state key: each stack writes `<keyPrefix>/<stack>.tfstate`.
       * @default 'surgeguard/<environment>'
       */
      readonly keyPrefix?: string;
      /** KMS key id/ARN used to encrypt state objects. @default - the bucket's default encryption (SSE-S3) */
      readonly kmsKeyId?: string;
    };

/** Bounds of an autoscaled group of nodes. */
export interface ScalingConfig {
  /** Smallest number of nodes. */
  readonly min: number;
  /** Largest number of nodes. */
  readonly max: number;
  /** Nodes at creation; the cluster autoscaler owns the number afterwards. */
  readonly desired: number;
}

/** A group of nodes: instance types plus scaling bounds. */
export interface NodeGroupConfig extends ScalingConfig {
  /** EC2 instance types, in order of preference. At least one. */
  readonly instanceTypes: readonly string[];
}

/** Per-region GPU capacity: an on-demand base plus a diversified spot group. */
export interface GpuConfig {
  /** The on-demand base that keeps serving when spot capacity is reclaimed. */
  readonly onDemand: NodeGroupConfig;
  /** The spot group, diversified over several GPU instance types. */
  readonly spot: NodeGroupConfig;
  /** GPUs per model-server pod (tensor-parallel size). */
  readonly gpusPerReplica: number;
}

/** ElastiCache (cluster mode) sizing. */
export interface RedisConfig {
  /** Node type, e.g. `cache.r7g.large`. */
  readonly nodeType: string;
  /** Number of shards (node groups) the 16384 hash slots are spread over. */
  readonly shards: number;
  /** Replicas per shard (0–5). At least 1 for automatic failover. */
  readonly replicasPerShard: number;
  /** Days of automatic snapshots to keep; 0 turns snapshots off. */
  readonly snapshotRetentionDays: number;
}

/** Amazon MQ for RabbitMQ sizing. */
export interface MessageQueueConfig {
  /** Broker instance type, e.g. `mq.m5.large`. */
  readonly instanceType: string;
  /** `CLUSTER_MULTI_AZ` (three nodes) or `SINGLE_INSTANCE` (dev only). */
  readonly deploymentMode: 'CLUSTER_MULTI_AZ' | 'SINGLE_INSTANCE';
}

/** One region of the active-active deployment (a "cell"). */
export interface RegionConfig {
  /** AWS region name, e.g. `us-east-1`. */
  readonly region: string;
  /** CIDR of the region's VPC; must not overlap another region's. */
  readonly vpcCidr: string;
  /** Availability zones to spread over: 3, or 2 for dev. */
  readonly azCount: 2 | 3;
  /** `per-az` NAT gateways (production) or one `single` shared NAT (dev). */
  readonly natGateways: 'per-az' | 'single';
  /** The CPU node group running the proxy, worker and monitoring. */
  readonly cpuNodes: NodeGroupConfig;
  /** GPU node groups running the model servers. */
  readonly gpu: GpuConfig;
  /** The Redis cluster for rate limits, cache and job results. */
  readonly redis: RedisConfig;
  /** The RabbitMQ broker for asynchronous jobs. */
  readonly messageQueue: MessageQueueConfig;
  /**
   * ARN of an existing ACM certificate for the regional endpoint.
   * @default - a DNS-validated certificate is created in the environment's zone
   */
  readonly certificateArn?: string;
}

/** Routes clients from some places to a fixed region regardless of latency. */
export interface GeolocationOverride {
  /** Two-letter continent code (`EU`, `AS`, …) or `*` for default. Exactly one of continent/country. */
  readonly continent?: string;
  /** ISO 3166 country code. Exactly one of continent/country. */
  readonly country?: string;
  /** Region (one of the environment's) that serves those clients. */
  readonly region: string;
}

/** The model served by the GPU tier. */
export interface ModelConfig {
  /** The name clients send as `model`. */
  readonly name: string;
  /** Container image of the OpenAI-compatible server (vLLM). */
  readonly image: string;
  /** Model id or path loaded by the server. */
  readonly modelId: string;
  /**
   * Hub revision the weights-staging Job copies into each region's bucket: a commit sha (pin one for
   * production) or a branch, which the Job resolves to its commit and records in the staged manifest.
   * @default 'main'
   */
  readonly revision?: string;
  /** Quantisation passed to the server (`awq`, `fp8`, …). @default - none */
  readonly quantization?: string;
  /** Max concurrent sequences per replica (vLLM `--max-num-seqs`). */
  readonly maxConcurrentSequences: number;
  /**
   * Context length served, tokens (vLLM `--max-model-len`); the serving plan reserves KV cache for
   * at least one full context.
   * @default - the model's maximum context (MODEL_FOOTPRINTS in envs/serving-plan.ts)
   */
  readonly maxModelLength?: number;
  /**
   * Weight footprint in GB (10^9 bytes) at the served precision, for a model not in MODEL_FOOTPRINTS.
   * @default - from MODEL_FOOTPRINTS by `modelId` and `quantization`
   */
  readonly weightsGB?: number;
  /** KV-cache bytes per token, for a model not in MODEL_FOOTPRINTS. @default - from MODEL_FOOTPRINTS */
  readonly kvCacheBytesPerToken?: number;
  /** Share of each GPU's memory vLLM may use (`--gpu-memory-utilization`). @default 0.9 */
  readonly gpuMemoryUtilization?: number;
}

/** An API key the proxy accepts. */
export interface ApiKeyConfig {
  /** Key owner (logs, metrics). */
  readonly name: string;
  /** Lower-case hex SHA-256 of the key. */
  readonly sha256: string;
  /** Priority class of the key's requests without an X-Priority header. */
  readonly tier: 'critical' | 'high' | 'medium' | 'low';
  /**
   * A request quota for this key over all its classes (a token bucket shared by every proxy
   * replica of a region through Redis): for a key handed to a tenant whose share must be
   * bounded. The cell's capacity does not depend on it: admission bounds every key's traffic by
   * the model servers' slots and sheds by class.
   * @default - not rate limited (the key's traffic is bounded by admission only)
   */
  readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst: number };
}

/**
 * An OpenAI-compatible hosted API the cells fall back to when their own model servers and the
 * other regions are full: the last pool of every cell's route.
 */
export interface ExternalProviderConfig {
  /**
   * HTTPS origin of the provider's API, e.g. `https://api.deepseek.com`: scheme and host (and a
   * port), no path, no credentials. Requests keep their path (`/v1/chat/completions`).
   */
  readonly baseUrl: string;
  /** The provider's name for the model. @default - `model.name` */
  readonly model?: string;
  /**
   * Name of the Secrets Manager secret holding the provider's API key (its `SecretString` is the
   * key). You create it, in every region of the environment under this same name (one secret with
   * replicas: `aws secretsmanager create-secret --add-replica-regions`), encrypted with the
   * `aws/secretsmanager` key. A name, never the key; each region's proxies may read that region's
   * copy only.
   */
  readonly apiKeySecretName: string;
  /**
   * Priority classes whose requests may go to the provider (it costs money per token).
   * @default ['critical', 'high', 'medium'] - not low
   */
  readonly classes?: readonly ('critical' | 'high' | 'medium' | 'low')[];
  /**
   * Requests in flight to the provider from one region at most (its proxy replicas divide it):
   * the pool's admission limit, so a surge cannot run past the provider's own rate limits. It is
   * lowered further by the provider's 429/503 answers.
   */
  readonly maxConcurrency: number;
}

export interface EnvironmentConfig {
  /** Environment name: 1-16 lower-case letters, digits, dashes. Prefix of every stack. */
  readonly name: string;
  /** DNS name clients use, e.g. `api.surgeguard.example.com`. */
  readonly domain: string;
  /**
   * Existing Route 53 hosted zone id for `domain`'s parent zone.
   * @default - a zone for `domain` is created in the `<env>-dns` stack
   */
  readonly hostedZoneId?: string;
  /** The regions; every one serves traffic (active-active). */
  readonly regions: readonly RegionConfig[];
  /** Put AWS Global Accelerator in front of the regional NLBs. */
  readonly globalAccelerator: boolean;
  /** Geolocation overrides on top of latency routing. @default [] */
  readonly geolocationOverrides?: readonly GeolocationOverride[];
  /** State backend for every stack of the environment. */
  readonly backend: BackendConfig;
  /** Deletion protection on load balancers and data stores. */
  readonly deletionProtection: boolean;
  /**
   * CIDRs allowed to reach the EKS API publicly.
   * @default [] - private endpoint only
   */
  readonly clusterPublicAccessCidrs?: readonly string[];
  /**
   * IAM role/user ARNs given cluster-admin on every cluster of the environment (EKS access entries),
   * e.g. the CI role that deploys the workloads stacks. The identity creating a cluster is admin anyway.
   * @default []
   */
  readonly clusterAdminPrincipalArns?: readonly string[];
  /** EKS Kubernetes version. */
  readonly kubernetesVersion: string;
  /** The model served. */
  readonly model: ModelConfig;
  /** Days to keep logs (flow logs, control plane, brokers). */
  readonly logRetentionDays: number;
  /**
   * API keys the proxy accepts: owner, SHA-256 of the key (the key itself is never stored) and
   * the priority class of its requests.
   * @default [] - the proxy runs without authentication (acceptable for dev only)
   */
  readonly apiKeys?: readonly ApiKeyConfig[];
  /**
   * A hosted provider as the last pool of every cell's route (after the local model servers and
   * the other regions).
   * @default - none: a request no region can serve is shed
   */
  readonly externalProvider?: ExternalProviderConfig;
  /** Extra tags on every resource. @default {} */
  readonly tags?: Readonly<Record<string, string>>;
}
