import { ENVIRONMENTS, EnvironmentConfig, EnvironmentConfigError, validateEnvironment } from '../../envs';
import { checkServingPlan, GPU_INSTANCE_TYPES, MODEL_FOOTPRINTS, resolveFootprint } from '../../envs/serving-plan';
import { synthesize } from '../../main';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
const copy = (name: 'dev' | 'staging' | 'prod'): Mutable<EnvironmentConfig> => structuredClone(ENVIRONMENTS[name]) as Mutable<EnvironmentConfig>;

function configError(config: Mutable<EnvironmentConfig>): EnvironmentConfigError {
  try {
    validateEnvironment(config as EnvironmentConfig);
  } catch (e) {
    if (e instanceof EnvironmentConfigError) return e;
    throw e;
  }
  throw new Error('expected the serving plan to reject the config');
}

describe('serving plan: the model fits every GPU type its pools may launch', () => {
  it.each(['dev', 'staging', 'prod'] as const)('%s passes the plan in every region and pool', (name) => {
    const env = ENVIRONMENTS[name];
    for (const r of env.regions) {
      const problems = checkServingPlan(r.region, env.model, {
        gpusPerReplica: r.gpu.gpusPerReplica,
        pools: [
          { field: 'onDemand', instanceTypes: r.gpu.onDemand.instanceTypes, max: r.gpu.onDemand.max },
          { field: 'spot', instanceTypes: r.gpu.spot.instanceTypes, max: r.gpu.spot.max },
        ],
      });
      expect(problems).toEqual([]);
    }
  });

  it('prod serves DeepSeek-V3 in FP8 on H200 nodes only (8 x 141 GB per replica)', () => {
    for (const r of ENVIRONMENTS.prod.regions) {
      for (const type of [...r.gpu.onDemand.instanceTypes, ...r.gpu.spot.instanceTypes]) {
        expect(GPU_INSTANCE_TYPES[type]).toMatchObject({ gpu: 'NVIDIA H200', gpus: 8, gpuMemoryGB: 141 });
      }
      expect(r.gpu.gpusPerReplica).toBe(8);
    }
  });

  it('fails prod when p5.48xlarge (8 x 80 GB) is back in the spot list, naming environment, region, type and numbers', () => {
    const prod = copy('prod');
    prod.regions[1].gpu.spot.instanceTypes.push('p5.48xlarge');
    const err = configError(prod);
    expect(err.field).toBe('regions[1].gpu.spot.instanceTypes');
    expect(err.message).toBe(
      'environment "prod": regions[1].gpu.spot.instanceTypes: eu-west-1: "deepseek-ai/DeepSeek-V3" does not fit p5.48xlarge: ' +
        'weights 690 GB + KV-cache headroom 69 GB = 759 GB > 8 x 80 GB x 0.9 = 576 GB',
    );
  });

  it('fails the on-demand base too, and lists every type that does not fit', () => {
    const prod = copy('prod');
    prod.regions[0].gpu.onDemand.instanceTypes = ['p4d.24xlarge', 'g6e.48xlarge'];
    const err = configError(prod);
    expect(err.field).toBe('regions[0].gpu.onDemand.instanceTypes');
    expect(err.message).toContain('us-east-1: "deepseek-ai/DeepSeek-V3" does not fit p4d.24xlarge: weights 690 GB + KV-cache headroom 69 GB = 759 GB > 8 x 40 GB x 0.9 = 288 GB');
    expect(err.message).toContain('does not fit g6e.48xlarge: weights 690 GB + KV-cache headroom 69 GB = 759 GB > 8 x 48 GB x 0.9 = 345.6 GB');
  });

  it('fails staging when a 24 GB GPU is in the spot list for the 32B model', () => {
    const staging = copy('staging');
    staging.regions[0].gpu.spot.instanceTypes.push('g5.2xlarge');
    expect(configError(staging).message).toMatch(/us-east-1: "deepseek-ai\/DeepSeek-R1-Distill-Qwen-32B" does not fit g5\.2xlarge: .* > 1 x 24 GB x 0\.9 = 21\.6 GB$/);
  });

  it('reserves KV cache for one full context: a longer context no longer fits', () => {
    const staging = copy('staging');
    staging.model.maxModelLength = 131_072; // 262,144 B/token x 131,072 = 34.4 GB of KV cache
    expect(configError(staging).message).toMatch(/weights 34\.4 GB \+ KV-cache headroom 34\.4 GB = 68\.8 GB > 1 x 48 GB x 0\.9 = 43\.2 GB/);
  });

  it('fails when a replica needs more GPUs than one node of the type has', () => {
    const dev = copy('dev');
    dev.regions[0].gpu.gpusPerReplica = 2;
    const err = configError(dev);
    expect(err.field).toBe('regions[0].gpu.onDemand.instanceTypes');
    expect(err.message).toContain('us-east-1: g6.xlarge has 1 GPU(s) (NVIDIA L4), a replica needs 2 on one node');
  });

  it('fails on an instance type missing from the GPU table', () => {
    const dev = copy('dev');
    dev.regions[0].gpu.spot.instanceTypes.push('g4dn.xlarge');
    expect(configError(dev).message).toContain('"g4dn.xlarge" is not in the GPU table');
  });

  it('ignores a pool that can launch nothing (max 0)', () => {
    const dev = copy('dev');
    dev.regions[0].gpu.onDemand = { instanceTypes: ['g4dn.xlarge'], min: 0, max: 0, desired: 0 };
    expect(() => validateEnvironment(dev as EnvironmentConfig)).not.toThrow();
  });

  it('asks for model.weightsGB when the model is unknown, and accepts it when given', () => {
    const dev = copy('dev');
    dev.model.modelId = 'acme/private-13b';
    const err = configError(dev);
    expect(err.field).toBe('model.weightsGB');
    expect(err.message).toContain('the weight footprint of "acme/private-13b" in bf16 is unknown');
    dev.model.weightsGB = 26;
    expect(configError(dev).field).toBe('model.kvCacheBytesPerToken');
    dev.model.kvCacheBytesPerToken = 819_200;
    dev.model.maxModelLength = 4_096;
    expect(() => validateEnvironment(dev as EnvironmentConfig)).toThrow(/does not fit g6\.xlarge: weights 26 GB \+ KV-cache headroom 3\.4 GB = 29\.4 GB > 1 x 24 GB x 0\.9 = 21\.6 GB/);
  });

  it('rejects a model server image by mutable tag', () => {
    const prod = copy('prod');
    prod.model.image = 'vllm/vllm-openai:v0.8.5';
    const err = configError(prod);
    expect(err.field).toBe('model.image');
    expect(err.message).toContain('"vllm/vllm-openai:v0.8.5" must be pinned by digest');
  });

  it('rejects a context longer than the model supports', () => {
    const dev = copy('dev');
    dev.model.maxModelLength = 200_000;
    expect(configError(dev).message).toContain('model.maxModelLength: 200000 tokens is above the 131072');
  });

  it('derives the footprint from the table: fp8 halves a bf16 checkpoint, DeepSeek-V3 is native fp8', () => {
    expect(resolveFootprint({ modelId: 'deepseek-ai/DeepSeek-V3' })).toMatchObject({ weightsGB: 690 });
    expect(resolveFootprint({ modelId: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-32B', quantization: 'fp8', maxModelLength: 16_384 })).toMatchObject({
      weightsGB: 34.4,
      kvHeadroomGB: 4.3,
      requiredGB: 38.7,
    });
    for (const fp of Object.values(MODEL_FOOTPRINTS)) expect(fp.weightsGB[fp.native]).toBeGreaterThan(0);
  });

  it('stops a real synth (app.synth) of a doctored environment with the plan error', () => {
    const prod = copy('prod');
    prod.regions[2].gpu.spot.instanceTypes.push('g6e.48xlarge');
    const registry = ENVIRONMENTS as Record<string, EnvironmentConfig>;
    registry.doctored = { ...prod, name: 'doctored' } as EnvironmentConfig;
    const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-plan-'));
    try {
      expect(() => synthesize('doctored', outdir)).toThrow(
        /environment "doctored": regions\[2\]\.gpu\.spot\.instanceTypes: ap-southeast-1: "deepseek-ai\/DeepSeek-V3" does not fit g6e\.48xlarge/,
      );
    } finally {
      delete registry.doctored;
      rmSync(outdir, { recursive: true, force: true });
    }
  });
});
