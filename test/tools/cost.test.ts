import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { synthesize } from '../../main';
import { loadSynthOutput, SynthOutput } from '../../tools/common/synth-output';
import { estimateCost } from '../../tools/cost/estimate';
import { PRICE_TABLE } from '../../tools/cost/price-table';
import { res, writeSynth } from '../support/synth-fixture';

const scratch = mkdtempSync(join(tmpdir(), 'surgeguard-cost-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let all: SynthOutput;
beforeAll(() => {
  synthesize('all', join(scratch, 'all'));
  all = loadSynthOutput(join(scratch, 'all'));
});

describe('cost estimate', () => {
  it('prices every instance, cache node and broker type the environments use (nothing left unpriced)', () => {
    for (const env of ['dev', 'staging', 'prod']) expect(estimateCost(all, env).unpriced).toEqual([]);
  });

  it('gives prod per region and in total, the GPU tier at min and max scale, and the spot/on-demand split', () => {
    const e = estimateCost(all, 'prod');
    expect(Object.keys(e.byRegion).sort()).toEqual(['ap-southeast-1', 'eu-west-1', 'global', 'us-east-1']);
    const regionSum = Object.values(e.byRegion).reduce((n, r) => n + r.min, 0);
    expect(e.total.min).toBeCloseTo(regionSum, 0);
    expect(e.gpu.max).toBeGreaterThan(e.gpu.min);
    expect(e.capacitySplit.spot.min).toBe(0); // the spot pools scale from zero in prod
    expect(e.capacitySplit.spot.max).toBeGreaterThan(0);
    expect(e.lines.filter((l) => l.item === 'EKS cluster').map((l) => l.quantity)).toEqual(['1', '1', '1']);
    expect(e.asOf).toBe(PRICE_TABLE.asOf);
  });

  it('prices a node group from its size, capacity type (spot at the stated ratio), region and root volume', () => {
    const synth = loadSynthOutput(writeSynth({
      'x-eu-west-1': {
        provider: { aws: [{ region: 'eu-west-1' }] },
        resource: {
          aws_eks_node_group: { s: res('x-eu-west-1/c/spot', { node_group_name: 'spot', capacity_type: 'SPOT', instance_types: ['g5.xlarge', 'g6.xlarge'], scaling_config: { min_size: 1, max_size: 3 } }) },
        },
      },
    }));
    const e = estimateCost(synth, 'x');
    const hourly = ((1.006 + 0.805) / 2) * 1.1 * PRICE_TABLE.spotPriceRatio;
    const perNode = hourly * 730 + 20 * 0.08;
    expect(e.gpu.min).toBeCloseTo(perNode, 1);
    expect(e.gpu.max).toBeCloseTo(3 * perNode, 1);
    expect(e.capacitySplit.spot).toEqual(e.gpu);
    expect(e.capacitySplit.onDemand).toEqual({ min: 0, max: 0 });
  });

  it('names what it cannot price instead of counting it as free', () => {
    const synth = loadSynthOutput(writeSynth({
      'x-us-east-1': { resource: { aws_elasticache_replication_group: { r: res('x-us-east-1/redis', { node_type: 'cache.x99.huge', num_node_groups: 1 }) } } },
    }));
    expect(estimateCost(synth, 'x').unpriced).toEqual(['ElastiCache cache.x99.huge (x-us-east-1/redis)']);
  });

  it('npm run cost prints the estimate of an environment with its date and assumptions', () => {
    const result = spawnSync(process.execPath, [resolve(__dirname, '..', '..', 'dist', 'tools', 'cost', 'main.js'), 'dev'], { encoding: 'utf8', timeout: 120_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`# Monthly cost estimate: dev`);
    expect(result.stdout).toContain(`Prices of ${PRICE_TABLE.asOf}`);
    expect(result.stdout).toMatch(/GPU tier: \$[\d,]+ at minimum, \$[\d,]+ at maximum scale/);
    expect(result.stdout).toMatch(/usage assumed per region and month/);
  });
});
