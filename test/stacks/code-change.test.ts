import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENVIRONMENTS } from '../../envs';
import { ARTIFACTS_DIR_ENV } from '../../constructs/artifacts/runtime-artifacts';
import { bundleRuntimes } from '../../tools/bundle';
import { copyCheckout } from '../support/checkout';
import { synthApp } from '../support/synth';

jest.setTimeout(300_000);

/** Every block of every stack (`<stack> resource.<type>.<name>`, `... data...`, `... output...`, top-level keys), by its JSON. */
function blocksOf(outdir: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const stack of readdirSync(join(outdir, 'stacks')).sort()) {
    const tf = JSON.parse(readFileSync(join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8')) as Record<string, any>;
    for (const [top, value] of Object.entries(tf)) {
      if (top === 'resource' || top === 'data') {
        for (const [type, byName] of Object.entries(value as Record<string, Record<string, unknown>>)) {
          for (const [name, block] of Object.entries(byName)) blocks.set(`${stack} ${top}.${type}.${name}`, JSON.stringify(block));
        }
      } else {
        blocks.set(`${stack} ${top}`, JSON.stringify(value));
      }
    }
  }
  return blocks;
}

/** Addresses whose block differs (or exists on one side only). */
function changed(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
}

/** One line of a runtime's own code, edited in the copy (a log message only that runtime has). */
function editLine(root: string, file: string, from: string, to: string): () => void {
  const path = join(root, file);
  const original = readFileSync(path, 'utf8');
  expect(original.split(from)).toHaveLength(2);
  writeFileSync(path, original.replace(from, to));
  return () => writeFileSync(path, original);
}

/** What a runtime's artifact references are in one region's workloads stack. */
const artifactBlocks = (stack: string, name: string) => [
  `${stack} data.aws_iam_policy_document.artifact-${name}_read-doc`,
  `${stack} resource.aws_s3_object.artifact-${name}_bundle`,
  `${stack} resource.aws_s3_object.artifact-${name}_source-map`,
  `${stack} resource.kubernetes_deployment_v1.workloads_${name}`,
];

describe('a one-line code change in the synth diff', () => {
  // staging: two regions, so "in every region" is checked.
  const env = ENVIRONMENTS.staging;
  const workloadStacks = env.regions.map((r) => `${env.name}-${r.region}-workloads`);
  const checkout = copyCheckout('sg-code-change-');
  const synths: string[] = [];
  const previous = process.env[ARTIFACTS_DIR_ENV];

  async function synthWith(label: string): Promise<Map<string, string>> {
    const outDir = join(checkout.root, 'dist', `artifacts-${label}`);
    await bundleRuntimes({ root: checkout.root, outDir });
    process.env[ARTIFACTS_DIR_ENV] = outDir;
    const synth = synthApp([env]);
    synths.push(synth.outdir);
    return blocksOf(synth.outdir);
  }

  let base: Map<string, string>;
  beforeAll(async () => {
    base = await synthWith('base');
  });
  afterAll(() => {
    if (previous === undefined) delete process.env[ARTIFACTS_DIR_ENV];
    else process.env[ARTIFACTS_DIR_ENV] = previous;
    synths.forEach((d) => rmSync(d, { recursive: true, force: true }));
    checkout.remove();
  });

  it("changes exactly the proxy's artifact objects, its read policy and its Deployment, in every region", async () => {
    const restore = editLine(checkout.root, 'runtime/proxy/main.ts', "'shutdown requested'", "'shutdown requested, draining'");
    const after = await synthWith('proxy-edit');
    restore();
    const diff = changed(base, after).map((k) => k.replace(/_[0-9A-F]{8}$/, ''));
    expect(diff).toEqual(workloadStacks.flatMap((s) => artifactBlocks(s, 'proxy')).sort());
  });

  it("changes exactly the worker's artifact objects, its read policy and its Deployment, in every region", async () => {
    const restore = editLine(checkout.root, 'runtime/worker/main.ts', "'worker stopping'", "'worker stopping, draining'");
    const after = await synthWith('worker-edit');
    restore();
    const diff = changed(base, after).map((k) => k.replace(/_[0-9A-F]{8}$/, ''));
    expect(diff).toEqual(workloadStacks.flatMap((s) => artifactBlocks(s, 'worker')).sort());
  });
});
