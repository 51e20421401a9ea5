/**
 * The serving plan: does the model fit the GPUs of every instance type its pool may launch?
 *
 * Pure data and arithmetic, no cdktf: `validateEnvironment` runs it for every region before any
 * construct exists, so a model that cannot load on a type its node groups list stops synth, naming
 * the environment, region, type and the numbers. The arithmetic is explained in docs/serving-plan.md.
 *
 * Units: GB = 10^9 bytes throughout (GPU vendors and model cards both use decimal gigabytes).
 */

/** GPUs of one EC2 instance type. */
export interface GpuInstanceType {
  /** GPU model. */
  readonly gpu: string;
  /** GPUs per instance. */
  readonly gpus: number;
  /** Memory of one GPU, GB. */
  readonly gpuMemoryGB: number;
}

/**
 * GPU memory and GPUs per instance of the EC2 types surgeguard plans for.
 *
 * Sources (checked 2026-12): the EC2 accelerated-computing instance pages
 * (https://aws.amazon.com/ec2/instance-types/p5/, /p4/, /g6e/, /g6/, /g5/); NVIDIA's datasheets
 * (H100 SXM 80 GB, H200 SXM 141 GB HBM3e, A100 SXM 40/80 GB, L40S 48 GB, L4 24 GB, A10G 24 GB);
 * cross-checked with MLCommons inference v4.1 system descriptions ("NVIDIA H200-SXM-141GB",
 * 8 per node) and public instance tables (p4d.24xlarge: 8 x A100 40 GB; g5.*: A10G 24 GB;
 * g6e.48xlarge: 8 x L40S; p5en.48xlarge: 8 x H200 141 GB).
 * Add a type here before listing it in an environment: an unknown GPU type stops synth.
 */
export const GPU_INSTANCE_TYPES: Readonly<Record<string, GpuInstanceType>> = {
  // H200 (Hopper, HBM3e): p5e and p5en (p5en: Sapphire Rapids hosts, EFAv3).
  'p5e.48xlarge': { gpu: 'NVIDIA H200', gpus: 8, gpuMemoryGB: 141 },
  'p5en.48xlarge': { gpu: 'NVIDIA H200', gpus: 8, gpuMemoryGB: 141 },
  // H100 (Hopper, HBM3).
  'p5.48xlarge': { gpu: 'NVIDIA H100', gpus: 8, gpuMemoryGB: 80 },
  // A100 (Ampere).
  'p4d.24xlarge': { gpu: 'NVIDIA A100 40GB', gpus: 8, gpuMemoryGB: 40 },
  'p4de.24xlarge': { gpu: 'NVIDIA A100 80GB', gpus: 8, gpuMemoryGB: 80 },
  // L40S (Ada).
  'g6e.xlarge': { gpu: 'NVIDIA L40S', gpus: 1, gpuMemoryGB: 48 },
  'g6e.2xlarge': { gpu: 'NVIDIA L40S', gpus: 1, gpuMemoryGB: 48 },
  'g6e.4xlarge': { gpu: 'NVIDIA L40S', gpus: 1, gpuMemoryGB: 48 },
  'g6e.8xlarge': { gpu: 'NVIDIA L40S', gpus: 1, gpuMemoryGB: 48 },
  'g6e.12xlarge': { gpu: 'NVIDIA L40S', gpus: 4, gpuMemoryGB: 48 },
  'g6e.24xlarge': { gpu: 'NVIDIA L40S', gpus: 4, gpuMemoryGB: 48 },
  'g6e.48xlarge': { gpu: 'NVIDIA L40S', gpus: 8, gpuMemoryGB: 48 },
  // L4 (Ada).
  'g6.xlarge': { gpu: 'NVIDIA L4', gpus: 1, gpuMemoryGB: 24 },
  'g6.2xlarge': { gpu: 'NVIDIA L4', gpus: 1, gpuMemoryGB: 24 },
  'g6.4xlarge': { gpu: 'NVIDIA L4', gpus: 1, gpuMemoryGB: 24 },
  'g6.12xlarge': { gpu: 'NVIDIA L4', gpus: 4, gpuMemoryGB: 24 },
  'g6.48xlarge': { gpu: 'NVIDIA L4', gpus: 8, gpuMemoryGB: 24 },
  // A10G (Ampere).
  'g5.xlarge': { gpu: 'NVIDIA A10G', gpus: 1, gpuMemoryGB: 24 },
  'g5.2xlarge': { gpu: 'NVIDIA A10G', gpus: 1, gpuMemoryGB: 24 },
  'g5.4xlarge': { gpu: 'NVIDIA A10G', gpus: 1, gpuMemoryGB: 24 },
  'g5.12xlarge': { gpu: 'NVIDIA A10G', gpus: 4, gpuMemoryGB: 24 },
  'g5.48xlarge': { gpu: 'NVIDIA A10G', gpus: 8, gpuMemoryGB: 24 },
};

/** Weights and KV-cache size of a model, for the precisions it is served in. */
export interface ModelFootprint {
  /** Weight footprint in GB by precision (`bf16`, `fp8`, …). The model's native precision is `native`. */
  readonly weightsGB: Readonly<Record<string, number>>;
  /** Precision the checkpoint is published in (used when no quantization is set). */
  readonly native: string;
  /** KV-cache bytes per token (all layers, bf16 cache). */
  readonly kvCacheBytesPerToken: number;
  /** Longest context the model supports, tokens. */
  readonly maxContextTokens: number;
}

// KV-cache bytes per token:
//  - DeepSeek-V3/R1 (MLA): (kv_lora_rank 512 + qk_rope_head_dim 64) x 61 layers x 2 bytes = 70,272.
//  - Qwen2.5-32B: 2 (K,V) x 64 layers x 8 KV heads x 128 head dim x 2 bytes = 262,144.
//  - Qwen2.5-14B: 2 x 48 x 8 x 128 x 2 = 196,608.   Qwen2.5-7B (Qwen2.5-Math-7B): 2 x 28 x 4 x 128 x 2 = 57,344.
//  - Llama-3.1-8B: 2 x 32 x 8 x 128 x 2 = 131,072.   Llama-3.3-70B: 2 x 80 x 8 x 128 x 2 = 327,680.
// Weights: parameter count (model cards: DeepSeek-V3/R1 671 B + 14 B MTP module, published in FP8,
// ~689 GB of safetensors) x bytes per parameter (bf16 2, fp8 1), plus the layers vLLM keeps in
// bf16 under fp8 (embeddings, lm_head), rounded up.
const DEEPSEEK_V3: ModelFootprint = { weightsGB: { fp8: 690, bf16: 1_370 }, native: 'fp8', kvCacheBytesPerToken: 70_272, maxContextTokens: 163_840 };

/** Footprints of the models surgeguard ships plans for, by model id. Others need `model.weightsGB`. */
export const MODEL_FOOTPRINTS: Readonly<Record<string, ModelFootprint>> = {
  'deepseek-ai/DeepSeek-V3': DEEPSEEK_V3,
  'deepseek-ai/DeepSeek-V3-0324': DEEPSEEK_V3,
  'deepseek-ai/DeepSeek-R1': DEEPSEEK_V3,
  'deepseek-ai/DeepSeek-R1-0528': DEEPSEEK_V3,
  'deepseek-ai/DeepSeek-R1-Distill-Llama-70B': { weightsGB: { bf16: 141.2, fp8: 72.2 }, native: 'bf16', kvCacheBytesPerToken: 327_680, maxContextTokens: 131_072 },
  'deepseek-ai/DeepSeek-R1-Distill-Qwen-32B': { weightsGB: { bf16: 65.6, fp8: 34.4 }, native: 'bf16', kvCacheBytesPerToken: 262_144, maxContextTokens: 131_072 },
  'deepseek-ai/DeepSeek-R1-Distill-Qwen-14B': { weightsGB: { bf16: 29.6, fp8: 15.7 }, native: 'bf16', kvCacheBytesPerToken: 196_608, maxContextTokens: 131_072 },
  'deepseek-ai/DeepSeek-R1-Distill-Llama-8B': { weightsGB: { bf16: 16.1, fp8: 9.1 }, native: 'bf16', kvCacheBytesPerToken: 131_072, maxContextTokens: 131_072 },
  'deepseek-ai/DeepSeek-R1-Distill-Qwen-7B': { weightsGB: { bf16: 15.3, fp8: 8.7 }, native: 'bf16', kvCacheBytesPerToken: 57_344, maxContextTokens: 131_072 },
};

/** vLLM's `--gpu-memory-utilization` default: the share of each GPU it may use (the rest: CUDA context, NCCL, activations). */
export const DEFAULT_GPU_MEMORY_UTILIZATION = 0.9;
/** KV-cache headroom at least this share of the weights (room to batch), and never less than one full context. */
export const MIN_KV_CACHE_SHARE = 0.1;

/** What the plan needs to know about the model (a subset of `ModelConfig`). */
export interface ServedModel {
  readonly modelId: string;
  readonly quantization?: string;
  /** Weight footprint, GB. @default - from MODEL_FOOTPRINTS by model id and precision */
  readonly weightsGB?: number;
  /** KV-cache bytes per token. @default - from MODEL_FOOTPRINTS */
  readonly kvCacheBytesPerToken?: number;
  /** Context length served (`--max-model-len`). @default - the model's maximum context */
  readonly maxModelLength?: number;
  /** Share of GPU memory vLLM may use. @default DEFAULT_GPU_MEMORY_UTILIZATION */
  readonly gpuMemoryUtilization?: number;
}

/** The settled footprint of a served model. */
export interface ResolvedFootprint {
  readonly weightsGB: number;
  readonly kvCacheBytesPerToken: number;
  readonly maxModelLength: number;
  readonly gpuMemoryUtilization: number;
  /** KV-cache memory the plan reserves: max(one full context, MIN_KV_CACHE_SHARE x weights), GB. */
  readonly kvHeadroomGB: number;
  /** weights + KV headroom, GB. */
  readonly requiredGB: number;
}

/** A problem with the plan: the field of the environment to fix and why. */
export interface ServingPlanProblem {
  readonly field: string;
  readonly problem: string;
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** Resolves weights, context and headroom of the model, or names the field that is missing. */
export function resolveFootprint(model: ServedModel): ResolvedFootprint | ServingPlanProblem {
  const known = MODEL_FOOTPRINTS[model.modelId];
  const precision = model.quantization ?? known?.native ?? 'bf16';
  const weightsGB = model.weightsGB ?? known?.weightsGB[precision];
  if (weightsGB === undefined) {
    const hint = known ? `known precisions: ${Object.keys(known.weightsGB).join(', ')}` : 'not in MODEL_FOOTPRINTS (envs/serving-plan.ts)';
    return { field: 'model.weightsGB', problem: `the weight footprint of "${model.modelId}" in ${precision} is unknown (${hint}): set model.weightsGB` };
  }
  const kvCacheBytesPerToken = model.kvCacheBytesPerToken ?? known?.kvCacheBytesPerToken;
  if (kvCacheBytesPerToken === undefined) {
    return { field: 'model.kvCacheBytesPerToken', problem: `the KV-cache size of "${model.modelId}" is unknown: set model.kvCacheBytesPerToken` };
  }
  const maxModelLength = model.maxModelLength ?? known?.maxContextTokens;
  if (maxModelLength === undefined) return { field: 'model.maxModelLength', problem: `the context length of "${model.modelId}" is unknown: set model.maxModelLength` };
  if (known && maxModelLength > known.maxContextTokens) {
    return { field: 'model.maxModelLength', problem: `${maxModelLength} tokens is above the ${known.maxContextTokens} "${model.modelId}" supports` };
  }
  const gpuMemoryUtilization = model.gpuMemoryUtilization ?? DEFAULT_GPU_MEMORY_UTILIZATION;
  if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 0.95)) {
    return { field: 'model.gpuMemoryUtilization', problem: `must be in (0, 0.95], got ${gpuMemoryUtilization}` };
  }
  const fullContextGB = (kvCacheBytesPerToken * maxModelLength) / 1e9;
  const kvHeadroomGB = round1(Math.max(fullContextGB, MIN_KV_CACHE_SHARE * weightsGB));
  return { weightsGB, kvCacheBytesPerToken, maxModelLength, gpuMemoryUtilization, kvHeadroomGB, requiredGB: round1(weightsGB + kvHeadroomGB) };
}

/** How one instance type fares for a replica of `gpusPerReplica` GPUs. */
export interface InstanceFit {
  readonly instanceType: string;
  readonly gpusPerReplica: number;
  /** gpusPerReplica x GPU memory x utilization, GB. */
  readonly usableGB: number;
  readonly requiredGB: number;
  readonly fits: boolean;
}

/**
 * Checks one instance type: known, enough GPUs on one node for a replica, and weights + KV headroom
 * within gpusPerReplica x GPU memory x utilization. Returns the fit, or the problem (no field).
 */
export function fitInstance(instanceType: string, gpusPerReplica: number, footprint: ResolvedFootprint): InstanceFit | string {
  const spec = GPU_INSTANCE_TYPES[instanceType];
  if (!spec) return `"${instanceType}" is not in the GPU table (envs/serving-plan.ts GPU_INSTANCE_TYPES): add its GPUs and GPU memory`;
  if (gpusPerReplica > spec.gpus) {
    return `${instanceType} has ${spec.gpus} GPU(s) (${spec.gpu}), a replica needs ${gpusPerReplica} on one node`;
  }
  const usableGB = round1(gpusPerReplica * spec.gpuMemoryGB * footprint.gpuMemoryUtilization);
  return { instanceType, gpusPerReplica, usableGB, requiredGB: footprint.requiredGB, fits: footprint.requiredGB <= usableGB };
}

/** One region's GPU pools, as the plan sees them. */
export interface GpuPools {
  readonly gpusPerReplica: number;
  readonly pools: readonly { readonly field: string; readonly instanceTypes: readonly string[]; readonly max: number }[];
}

/**
 * Checks every instance type every pool of a region may launch (pools with max 0 launch nothing).
 * Returns the problems found (empty when the plan holds), each naming the field, the region, the
 * type and the numbers.
 */
export function checkServingPlan(region: string, model: ServedModel, gpu: GpuPools): ServingPlanProblem[] {
  const footprint = resolveFootprint(model);
  if ('problem' in footprint) return [footprint];
  const problems: ServingPlanProblem[] = [];
  const checked = new Set<string>();
  for (const pool of gpu.pools) {
    if (pool.max === 0) continue;
    for (const type of pool.instanceTypes) {
      // A type listed in both pools is reported once, under the first pool listing it.
      if (checked.has(type)) continue;
      checked.add(type);
      const fit = fitInstance(type, gpu.gpusPerReplica, footprint);
      if (typeof fit === 'string') {
        problems.push({ field: `${pool.field}.instanceTypes`, problem: `${region}: ${fit}` });
      } else if (!fit.fits) {
        problems.push({
          field: `${pool.field}.instanceTypes`,
          problem:
            `${region}: "${model.modelId}" does not fit ${type}: weights ${footprint.weightsGB} GB + KV-cache headroom ` +
            `${footprint.kvHeadroomGB} GB = ${footprint.requiredGB} GB > ${fit.gpusPerReplica} x ${GPU_INSTANCE_TYPES[type].gpuMemoryGB} GB x ` +
            `${footprint.gpuMemoryUtilization} = ${fit.usableGB} GB`,
        });
      }
    }
  }
  return problems;
}

/** Sustained rate at which a replica streams its weights from the regional S3 bucket to the GPUs, GB/s (conservative; see docs/serving-plan.md). */
export const DEFAULT_WEIGHTS_LOAD_GBPS = 1;
/** Engine start besides loading weights (imports, torch.compile, CUDA graph capture, KV-cache profiling), seconds. */
export const DEFAULT_ENGINE_START_SECONDS = 300;
/** The startup probe allows this multiple of the estimate before the kubelet restarts the pod. */
export const STARTUP_SAFETY_FACTOR = 2;

/**
 * Seconds the model server's startup probe allows: (weights / load rate + engine start) x safety
 * factor, rounded up to whole minutes. DeepSeek-V3 FP8: (690 / 1 + 300) x 2 = 1,980 s = 33 min.
 */
export function estimateStartupSeconds(weightsGB: number, loadGBps = DEFAULT_WEIGHTS_LOAD_GBPS, engineStartSeconds = DEFAULT_ENGINE_START_SECONDS): number {
  if (!(weightsGB > 0) || !(loadGBps > 0) || !(engineStartSeconds >= 0)) throw new Error(`estimateStartupSeconds: weightsGB, loadGBps must be > 0 and engineStartSeconds >= 0`);
  return Math.ceil(((weightsGB / loadGBps + engineStartSeconds) * STARTUP_SAFETY_FACTOR) / 60) * 60;
}

/** S3 key prefix of a model's files in the weights bucket: the model id (`deepseek-ai/DeepSeek-V3`). */
export function weightsPrefix(modelId: string): string {
  return modelId.replace(/^\/+|\/+$/g, '');
}
