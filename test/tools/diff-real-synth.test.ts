import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { App } from 'cdktf';
import { ENVIRONMENTS } from '../../envs';
import { EnvironmentConfig } from '../../envs/types';
import { buildEnvironment } from '../../stacks';
import { loadSynthOutput } from '../../tools/common/synth-output';
import { compareSynths } from '../../tools/diff/compare';
import { EXIT_RISK } from '../../tools/diff/main';

const ROOT = resolve(__dirname, '..', '..');
const DIFF = join(ROOT, 'dist', 'tools', 'diff', 'main.js');
const scratch = mkdtempSync(join(tmpdir(), 'surgeguard-diff-real-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function synth(env: EnvironmentConfig, name: string): string {
  const outdir = join(scratch, name);
  const app = new App({ outdir });
  buildEnvironment(app, env);
  app.synth();
  return outdir;
}

describe('synth diff of two real synths differing by one environment setting', () => {
  const dev = ENVIRONMENTS.dev;
  const before = synth(dev, 'before');
  const after = synth({ ...dev, regions: dev.regions.map((r, i) => (i === 0 ? { ...r, vpcCidr: '10.99.0.0/16' } : r)) }, 'after');

  it('shows the VPC and everything that hangs on it as replaced when the VPC CIDR changes', () => {
    const diff = compareSynths(loadSynthOutput(before), loadSynthOutput(after));
    const platform = diff.stacks.find((s) => s.name === 'dev-us-east-1')!;
    const replacedTypes = new Set(platform.resources.filter((r) => r.action === 'replace').map((r) => r.type));
    for (const type of ['aws_vpc', 'aws_subnet', 'aws_route_table', 'aws_security_group', 'aws_eks_cluster', 'aws_eks_node_group', 'aws_nat_gateway', 'aws_mq_broker', 'aws_lb_target_group', 'aws_vpc_endpoint']) {
      expect(replacedTypes).toContain(type);
    }
    const vpc = platform.resources.find((r) => r.type === 'aws_vpc')!;
    expect(vpc.forcedBy).toEqual([{ attribute: 'cidr_block' }]);
    expect(vpc.changes).toContainEqual(expect.objectContaining({ path: 'cidr_block', before: '10.10.0.0/16', after: '10.99.0.0/16' }));
    const cluster = platform.resources.find((r) => r.type === 'aws_eks_cluster')!;
    expect(cluster.forcedBy[0]).toEqual(expect.objectContaining({ attribute: 'vpc_config.subnet_ids' }));
    expect(cluster.stateful).toBeDefined();
    // Nothing else changed: the workloads and global stacks only see values known after apply.
    expect(diff.stacks.flatMap((s) => s.resources).filter((r) => r.action === 'create' || r.action === 'delete')).toEqual([]);
  });

  it('exits non-zero with --fail-on replace, and zero without it, printing the risk table first', () => {
    const failing = spawnSync(process.execPath, [DIFF, before, after, '--fail-on', 'replace'], { encoding: 'utf8', timeout: 60_000 });
    expect(failing.status).toBe(EXIT_RISK);
    expect(failing.stderr).toMatch(/stateful resource\(s\) replaced or destroyed/);
    const sections = [...failing.stdout.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(sections[0]).toMatch(/^⚠️ Risk/);
    expect(failing.stdout).toMatch(/`dev-us-east-1\/network\/vpc` \(aws_vpc\) \| \*\*REPLACE\*\* \| `cidr_block` changed/);
    const plain = spawnSync(process.execPath, [DIFF, before, after, '--json'], { encoding: 'utf8', timeout: 60_000 });
    expect(plain.status).toBe(0);
    const json = JSON.parse(plain.stdout);
    expect(json.risks.map((r: { type: string }) => r.type)).toContain('aws_vpc');
  });

  it('reports no change and exits zero for two synths of the same configuration', () => {
    const again = synth(dev, 'again');
    const result = spawnSync(process.execPath, [DIFF, before, again, '--fail-on', 'replace'], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('No infrastructure change');
  });

  it('rejects bad arguments with a usage message and status 2', () => {
    const result = spawnSync(process.execPath, [DIFF, before], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/give --base <git-ref> or two synth output folders/);
  });
});

describe('synth diff against a git revision', () => {
  it('synthesizes HEAD in a temporary worktree with the current node_modules and compares it with the working tree', () => {
    // Its own TMPDIR, to tell its temporary worktree from those of other runs sharing the repository.
    const tmp = mkdtempSync(join(scratch, 'tmp-'));
    const result = spawnSync(process.execPath, [DIFF, '--base', 'HEAD', '--env', 'dev'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000, env: { ...process.env, TMPDIR: tmp } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^# Synth diff: `HEAD \([0-9a-f]{10}\)` → `working tree`/);
    // The temporary worktree is gone afterwards.
    const worktrees = spawnSync('git', ['worktree', 'list'], { cwd: ROOT, encoding: 'utf8' }).stdout;
    expect(worktrees).not.toContain(tmp);
    expect(readdirSync(tmp)).toEqual([]);
  }, 600_000);
});
