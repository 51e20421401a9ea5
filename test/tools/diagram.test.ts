import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { synthesize } from '../../main';
import { loadSynthOutput } from '../../tools/common/synth-output';
import { renderDot, renderMermaid } from '../../tools/diagram/render';
import { readTopology, Topology } from '../../tools/diagram/topology';

const ROOT = resolve(__dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'surgeguard-diagram-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let prod: Topology;
beforeAll(() => {
  synthesize('prod', join(scratch, 'prod'));
  prod = readTopology(loadSynthOutput(join(scratch, 'prod')), 'prod');
});

const node = (t: Topology, pattern: RegExp) => {
  const found = t.nodes.filter((n) => pattern.test(n.label));
  if (found.length === 0) throw new Error(`no node like ${pattern}: ${t.nodes.map((n) => n.label).join(' | ')}`);
  return found;
};
const edge = (t: Topology, from: RegExp, to: RegExp) =>
  t.edges.filter((e) => from.test(t.nodes.find((n) => n.id === e.from)!.label) && to.test(t.nodes.find((n) => n.id === e.to)!.label));

describe('topology diagram', () => {
  it('the committed prod diagram (docs/diagrams) is what `npm run diagram -- prod` generates now', () => {
    // Compares the generated sources, not Graphviz's SVG bytes (those depend on the Graphviz version).
    // After a topology change: `npm run diagram -- prod` and commit docs/diagrams/prod-topology.*.
    const stale = [['prod-topology.mmd', renderMermaid(prod)], ['prod-topology.dot', renderDot(prod)]]
      .filter(([file, generated]) => readFileSync(join(ROOT, 'docs', 'diagrams', file), 'utf8') !== generated)
      .map(([file]) => `docs/diagrams/${file} is stale: run npm run diagram -- prod and commit it`);
    expect(stale).toEqual([]);
  });

  it('draws one group per region with its VPC, and the cluster with its node pools and workloads inside', () => {
    expect(prod.groups.filter((g) => g.parent === undefined).map((g) => g.label)).toEqual([
      'global', 'ap-southeast-1 · VPC 10.32.0.0/16', 'eu-west-1 · VPC 10.31.0.0/16', 'us-east-1 · VPC 10.30.0.0/16',
    ]);
    const eks = prod.groups.find((g) => g.id === 'region_us_east_1_eks')!;
    expect(eks.parent).toBe('region_us_east_1');
    const inCluster = prod.nodes.filter((n) => n.group === eks.id).map((n) => n.label);
    expect(inCluster).toEqual(expect.arrayContaining([
      expect.stringMatching(/^pool gpu-spot: spot .*0–\d+ nodes$/),
      expect.stringMatching(/^pool gpu-on-demand: on-demand /),
      expect.stringMatching(/^surgeguard-proxy: 3–20 replicas \(HPA\)$/),
    ]));
  });

  it('connects clients through DNS and the accelerator to each public NLB, the NLB to the ALB, the ALB to the cluster, the cluster to Redis and RabbitMQ', () => {
    expect(edge(prod, /^clients$/, /^Global Accelerator/)).toHaveLength(1);
    expect(edge(prod, /^Global Accelerator/, /^NLB .* \(public\)$/).map((e) => e.label).sort()).toEqual(['endpoint ap-southeast-1', 'endpoint eu-west-1', 'endpoint us-east-1']);
    expect(edge(prod, /^latency\.api\./, /^NLB /).map((e) => e.label).sort()).toEqual(['latency ap-southeast-1', 'latency eu-west-1', 'latency us-east-1']);
    expect(edge(prod, /^NLB prod-use1-nlb/, /^ALB prod-use1-alb/)[0].label).toBe(':80, :443');
    expect(edge(prod, /^ALB prod-use1-alb/, /^EKS nodes/)[0].label).toBe(':30080');
    expect(edge(prod, /^EKS nodes/, /^Redis /)).toHaveLength(3);
    expect(edge(prod, /^EKS nodes/, /^RabbitMQ /).every((e) => e.label === ':5671')).toBe(true);
    // Health checks probe the NLBs and gate the records.
    expect(edge(prod, /^health check HTTPS \/readyz/, /^NLB /).every((e) => e.style === 'probe')).toBe(true);
    expect(node(prod, /^health check/)).toHaveLength(3);
  });

  it('renders Mermaid and DOT that parse: dot accepts the DOT source', () => {
    const dot = spawnSync('dot', ['-Tsvg'], { input: renderDot(prod), encoding: 'utf8', timeout: 120_000 });
    expect(dot.stderr).toBe('');
    expect(dot.status).toBe(0);
    expect(dot.stdout).toContain('<svg');
    expect(renderMermaid(prod).split('\n')[0]).toBe('flowchart LR');
  });

  it('npm run diagram writes DOT, Mermaid and SVG for an environment', () => {
    const out = join(scratch, 'out');
    const result = spawnSync(process.execPath, [join(ROOT, 'dist', 'tools', 'diagram', 'main.js'), 'dev', '--out', out], { encoding: 'utf8', timeout: 300_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(join(out, 'dev-topology.svg'), 'utf8')).toContain('<svg');
    expect(readFileSync(join(out, 'dev-topology.mmd'), 'utf8')).toMatch(/subgraph region_us_east_1\["us-east-1 · VPC 10\.10\.0\.0\/16"\]/);
  });
});
