import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ENVIRONMENTS } from '../../envs';
import { stackNames } from '../../stacks';
import { synthApp, SynthesizedApp } from '../support/synth';
import { usesOnlyAwsProvider, validateStacks, ValidateResult, writeAwsSlice } from '../support/terraform';

// The real `terraform validate` over every AWS stack of every environment: offline from /opt/tf-plugins
// here and on CI, a registry install elsewhere. Never skipped: a missing terraform binary fails the test.
describe('terraform validate (AWS provider 5.100.0)', () => {
  let synth: SynthesizedApp;
  let results: ValidateResult[];
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

  beforeAll(async () => {
    synth = synthApp(Object.values(ENVIRONMENTS));
    scratch = mkdtempSync(join(tmpdir(), 'surgeguard-validate-'));
    const awsStacks = synth.stackNames.filter((name) => usesOnlyAwsProvider(synth.stack(name)));
    // The workloads stacks' AWS part (artifact objects, their read policies) is validated too.
    const awsSlices = synth.stackNames.filter((name) => !usesOnlyAwsProvider(synth.stack(name))).flatMap((name) => writeAwsSlice(join(synth.outdir, 'stacks'), name) ?? []);
    // Two fixtures ride along in the same terraform runs. (The composition example is validated as a
    // consumer builds it, from the packed library: test/package/consumer.test.ts.)
    const all = await validateStacks([
      ...awsStacks.map((name) => join(synth.outdir, 'stacks', name)),
      ...awsSlices,
      writeFixture('fixture-good', { name: 'ok' }),
      writeFixture('fixture-bad', { name: 'x', not_an_argument: true }),
    ]);
    const bad = all.pop()!;
    const good = all.pop()!;
    fixtures = { good, bad };
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

  it('reports a stack with an unknown argument as invalid and blames that stack only', () => {
    expect(fixtures.good).toMatchObject({ stack: 'fixture-good', valid: true, errorCount: 0 });
    expect(fixtures.bad).toMatchObject({ stack: 'fixture-bad', valid: false });
    expect(fixtures.bad.diagnostics.join('\n')).toMatch(/not_an_argument/);
  });
});
