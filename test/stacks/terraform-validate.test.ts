import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ENVIRONMENTS } from '../../envs';
import { synthesizeExample } from '../../examples/compose-your-own-stack';
import { stackNames } from '../../stacks';
import { synthApp, SynthesizedApp } from '../support/synth';
import { usesOnlyAwsProvider, validateStacks, ValidateResult } from '../support/terraform';

// The real `terraform validate` over every AWS stack of every environment: offline from /opt/tf-plugins
// here and on CI, a registry install elsewhere. Never skipped: a missing terraform binary fails the test.
describe('terraform validate (AWS provider 5.100.0)', () => {
  let synth: SynthesizedApp;
  let results: ValidateResult[];
  let example: ValidateResult;
  let fixtures: { good: ValidateResult; bad: ValidateResult };
  let scratch: string;

  /** A one-resource stack, to prove the check can fail and blames the right stack. */
  function writeFixture(name: string, queue: Record<string, unknown>): string {
    const dir = join(scratch, 'fixtures', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'cdk.tf.json'),
      JSON.stringify({
        terraform: { required_providers: { aws: { source: 'aws', version: '5.100.0' } }, backend: { local: { path: 'x.tfstate' } } },
        provider: { aws: [{ region: 'us-east-1' }] },
        resource: { aws_sqs_queue: { q: queue } },
      }),
    );
    return dir;
  }

  /**
   * The AWS part of a stack that also uses the Kubernetes/Helm providers (no binaries here): its
   * `aws_*` resources and data sources, remote state inputs and AWS provider, next to the stack's
   * assets, as `<stack>-aws`. Undefined when the stack has no AWS resources.
   */
  function writeAwsSlice(name: string): string | undefined {
    const tf = synth.stack(name) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const pick = (blocks: Record<string, unknown> | undefined, keep: (type: string) => boolean) =>
      Object.fromEntries(Object.entries(blocks ?? {}).filter(([type]) => keep(type)));
    const resource = pick(tf.resource, (t) => t.startsWith('aws_'));
    if (Object.keys(resource).length === 0) return undefined;
    const dir = join(synth.outdir, 'stacks', `${name}-aws`);
    mkdirSync(dir, { recursive: true });
    const assets = join(synth.outdir, 'stacks', name, 'assets');
    if (existsSync(assets)) symlinkSync(assets, join(dir, 'assets'));
    writeFileSync(
      join(dir, 'cdk.tf.json'),
      JSON.stringify({
        terraform: { required_providers: { aws: tf.terraform.required_providers.aws }, backend: tf.terraform.backend },
        provider: { aws: tf.provider.aws },
        data: pick(tf.data, (t) => t.startsWith('aws_') || t === 'terraform_remote_state'),
        resource,
      }),
    );
    return dir;
  }

  beforeAll(async () => {
    synth = synthApp(Object.values(ENVIRONMENTS));
    scratch = mkdtempSync(join(tmpdir(), 'surgeguard-validate-'));
    synthesizeExample(join(scratch, 'example'));
    const awsStacks = synth.stackNames.filter((name) => usesOnlyAwsProvider(synth.stack(name)));
    // The workloads stacks' AWS part (artifact objects, their read policies) is validated too.
    const awsSlices = synth.stackNames.filter((name) => !usesOnlyAwsProvider(synth.stack(name))).flatMap((name) => writeAwsSlice(name) ?? []);
    // The composition example (examples/, quoted in docs/architecture.md) and two fixtures ride along in the same terraform runs.
    const all = await validateStacks([
      ...awsStacks.map((name) => join(synth.outdir, 'stacks', name)),
      ...awsSlices,
      join(scratch, 'example', 'stacks', 'my-inference'),
      writeFixture('fixture-good', { name: 'ok' }),
      writeFixture('fixture-bad', { name: 'x', not_an_argument: true }),
    ]);
    const bad = all.pop()!;
    const good = all.pop()!;
    fixtures = { good, bad };
    example = all.pop()!;
    results = all;
    // Two terraform processes over 20 stacks take ~2 minutes on a 2-core machine shared with other
    // test runs (load average 20+); bounded, with room for that.
  }, 300_000);

  afterAll(() => {
    if (synth) rmSync(synth.outdir, { recursive: true, force: true });
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('covers the dns, platform and global stacks of every environment and the AWS part of the workloads stacks; add-ons and workloads stacks (Helm / Kubernetes providers) hold no other AWS resources', () => {
    const expected = Object.values(ENVIRONMENTS).flatMap((env) => [
      ...(env.hostedZoneId === undefined ? [stackNames.dns(env.name)] : []),
      ...env.regions.map((r) => stackNames.platform(env.name, r.region)),
      stackNames.global(env.name),
    ]);
    const slices = Object.values(ENVIRONMENTS).flatMap((env) => env.regions.map((r) => `${stackNames.workloads(env.name, r.region)}-aws`));
    expect(results.map((r) => r.stack).sort()).toEqual([...expected, ...slices].sort());
    const notValidated = synth.stackNames.filter((n) => !expected.includes(n));
    expect(notValidated.length).toBeGreaterThan(0);
    expect(notValidated.every((n) => /-(workloads|addons)$/.test(n))).toBe(true);
    // Everything AWS is validated above: the add-ons stacks hold none, the workloads stacks' is in their slice.
    for (const n of notValidated.filter((x) => !slices.includes(`${x}-aws`))) {
      expect(Object.keys(synth.stack(n).resource ?? {}).filter((t) => t.startsWith('aws_'))).toEqual([]);
    }
  });

  it('finds every AWS stack valid, without errors or warnings', () => {
    const problems = results.filter((r) => !r.valid || r.warningCount > 0);
    expect(problems.map((p) => `${p.stack}: ${p.diagnostics.join('; ')}`)).toEqual([]);
  });

  it('finds the composition example valid', () => {
    expect(example).toMatchObject({ stack: 'my-inference', valid: true, errorCount: 0, warningCount: 0 });
  });

  it('reports a stack with an unknown argument as invalid and blames that stack only', () => {
    expect(fixtures.good).toMatchObject({ stack: 'fixture-good', valid: true, errorCount: 0 });
    expect(fixtures.bad).toMatchObject({ stack: 'fixture-bad', valid: false });
    expect(fixtures.bad.diagnostics.join('\n')).toMatch(/not_an_argument/);
  });
});
