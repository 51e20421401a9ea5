import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { synthesizeExample } from '../../examples/compose-your-own-stack';

// Whole-app synths take seconds on a loaded 2-core machine; the default 5 s is too tight.
jest.setTimeout(60_000);

const repo = resolve(__dirname, '..', '..');
const examplePath = join(repo, 'examples', 'compose-your-own-stack.ts');

// Type-checking the example is the `tsc --noEmit` step of `npm test` (tsconfig.json includes examples/);
// here it is compiled by ts-jest and synthesized, and terraform-validate.test.ts validates its stack.
describe('composition example (examples/compose-your-own-stack.ts)', () => {
  it('synthesizes one stack with the network, cluster, layered load balancers and GSLB records', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-example-'));
    try {
      synthesizeExample(outdir);
      const tf = JSON.parse(readFileSync(join(outdir, 'stacks', 'my-inference', 'cdk.tf.json'), 'utf8'));
      expect(tf.terraform.backend.s3).toMatchObject({ bucket: 'my-tf-state', key: 'my-inference.tfstate', use_lockfile: true });
      expect(Object.values(tf.resource.aws_vpc)).toEqual([expect.objectContaining({ cidr_block: '10.80.0.0/16' })]);
      expect(Object.keys(tf.resource.aws_eks_node_group)).toHaveLength(3);
      expect((Object.values(tf.resource.aws_lb) as any[]).map((lb) => lb.load_balancer_type).sort()).toEqual(['application', 'network']);
      expect(tf.resource.aws_acm_certificate).toBeUndefined();
      const latency = Object.values(tf.resource.aws_route53_record) as any[];
      expect(latency).toHaveLength(1);
      expect(latency[0]).toMatchObject({ name: 'llm.example.org', latency_routing_policy: { region: 'eu-central-1' } });
      expect(latency[0].alias.name).toMatch(/^\$\{aws_lb\..+\.dns_name\}$/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('is quoted verbatim in docs/architecture.md', () => {
    const source = readFileSync(examplePath, 'utf8');
    const quoted = /\/\/ docs:start\n([\s\S]*?)\/\/ docs:end/.exec(source)![1];
    const page = readFileSync(join(repo, 'docs', 'architecture.md'), 'utf8');
    expect(page).toContain(quoted);
  });
});
