import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { synthesizeExample } from '../../examples/compose-your-own-stack';
import { loadRuntimeArtifacts } from '../../constructs/artifacts/runtime-artifacts';

// Whole-app synths take seconds on a loaded 2-core machine; the default 5 s is too tight.
jest.setTimeout(120_000);

const repo = resolve(__dirname, '..', '..');
const examplePath = join(repo, 'examples', 'compose-your-own-stack.ts');

/** The part of the example between its docs markers: what docs/library.md quotes. */
function quotedExample(): string {
  return /\/\/ docs:start\n([\s\S]*?)\/\/ docs:end/.exec(readFileSync(examplePath, 'utf8'))![1];
}

// Here the example runs against the sources (`surgeguard/constructs` is mapped to constructs/ by
// tsconfig.json paths and jest's moduleNameMapper); test/package/consumer.test.ts builds the same
// file in a fresh project from the packed library and runs `terraform validate` on it.
describe('composition example (examples/compose-your-own-stack.ts)', () => {
  let outdir: string;
  let cell: any;
  let workloads: any;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'surgeguard-example-'));
    synthesizeExample(outdir);
    const stack = (name: string) => JSON.parse(readFileSync(join(outdir, 'stacks', name, 'cdk.tf.json'), 'utf8'));
    cell = stack('my-inference');
    workloads = stack('my-inference-workloads');
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('synthesizes the cell stack: network, cluster, layered load balancers, data stores and GSLB records, no certificate of its own', () => {
    expect(cell.terraform.backend.s3).toMatchObject({ bucket: 'my-tf-state', key: 'my-inference.tfstate', use_lockfile: true });
    expect(Object.values(cell.resource.aws_vpc)).toEqual([expect.objectContaining({ cidr_block: '10.80.0.0/16' })]);
    expect(Object.keys(cell.resource.aws_eks_node_group)).toHaveLength(3);
    expect((Object.values(cell.resource.aws_lb) as any[]).map((lb) => lb.load_balancer_type).sort()).toEqual(['application', 'network']);
    expect(Object.keys(cell.resource.aws_elasticache_replication_group)).toHaveLength(1);
    expect(Object.keys(cell.resource.aws_mq_broker)).toHaveLength(1);
    expect(cell.resource.aws_acm_certificate).toBeUndefined();
    const latency = Object.values(cell.resource.aws_route53_record) as any[];
    expect(latency).toHaveLength(1);
    expect(latency[0]).toMatchObject({ name: 'llm.example.org', latency_routing_policy: { region: 'eu-central-1' } });
    expect(latency[0].alias.name).toMatch(/^\$\{aws_lb\..+\.dns_name\}$/);
  });

  it('synthesizes the workloads stack: the bundles uploaded under their SHA-256, the Deployments naming them, a Kubernetes provider reading the cluster from the cell stack', () => {
    const bundles = loadRuntimeArtifacts();
    const keys = (Object.values(workloads.resource.aws_s3_object) as any[]).map((o) => o.key).sort();
    expect(keys).toHaveLength(4);
    expect(keys).toEqual(expect.arrayContaining([bundles.proxy.file, bundles.worker.file]));
    const deployments = JSON.stringify(workloads.resource.kubernetes_deployment_v1);
    expect(deployments).toContain(bundles.proxy.sha256);
    expect(deployments).toContain(bundles.worker.sha256);
    expect(workloads.provider.kubernetes[0].host).toMatch(/terraform_remote_state/);
  });

  it('is quoted verbatim in docs/library.md', () => {
    const page = readFileSync(join(repo, 'docs', 'library.md'), 'utf8');
    expect(page).toContain(quotedExample());
  });
});
