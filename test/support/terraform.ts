import { execFile } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { basename, join } from 'path';
import { promisify } from 'util';

const run = promisify(execFile);

/** Where this machine (and CI) carries the AWS provider binary for offline `terraform init`. */
export const PLUGIN_DIR = process.env.SURGEGUARD_TF_PLUGIN_DIR ?? '/opt/tf-plugins';
/** The AWS provider version the stacks pin (@cdktf/provider-aws 20.1.0). */
export const AWS_PROVIDER_VERSION = '5.100.0';

export interface ValidateResult {
  /** Stack directory name. */
  readonly stack: string;
  /** No error diagnostics for this stack. */
  readonly valid: boolean;
  readonly errorCount: number;
  readonly warningCount: number;
  /** `severity: summary at address (detail)` of every diagnostic attributed to the stack. */
  readonly diagnostics: string[];
}

export interface ValidateOptions {
  /**
   * Terraform processes run side by side (each validates a share of the stacks).
   * @default 2 - this machine has two cores
   */
  readonly parallelism?: number;
}

interface Diagnostic {
  severity: string;
  summary: string;
  detail?: string;
  address?: string;
  range?: { filename?: string };
}

function terraformEnv(): NodeJS.ProcessEnv {
  // GOGC=400: decoding the AWS provider schema is garbage-collector bound; a lazier GC cuts validate
  // CPU by about a third here for ~0.5 GB of memory per terraform process (the plugin inherits it).
  return { GOGC: '400', ...process.env, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0' };
}

/** Offline (`-plugin-dir`) when the plugin directory exists, else a normal registry install. */
export function providerSource(): 'plugin-dir' | 'registry' {
  return existsSync(PLUGIN_DIR) ? 'plugin-dir' : 'registry';
}

async function terraform(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run('terraform', args, { cwd, env: terraformEnv(), maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    // `validate -json` exits 1 on an invalid configuration but still prints its JSON report.
    if (args[0] === 'validate' && e.stdout) return e.stdout;
    throw new Error(`terraform ${args[0]} failed in ${cwd}: ${e.stderr || e.message}`);
  }
}

/**
 * Runs the real `terraform validate -json` over synthesized stacks (directories holding `cdk.tf.json`).
 *
 * Loading the AWS provider's schema costs ~3 s of CPU per terraform process, so instead of one
 * init + validate per stack, the stacks are copied (never validated in place: `.terraform` must not
 * land in `cdktf.out`) into `parallelism` scratch root modules that call each stack as a module, and
 * each root is initialized (offline from PLUGIN_DIR when present) and validated once. Every resource,
 * data source, provider and output block of every stack is checked against the provider schema exactly
 * as in its own root; only the backend block is dropped (`init -backend=false` ignores it anyway).
 * Diagnostics are attributed back to stacks by their module address / file name.
 * Only for stacks whose sole provider is `aws` (no Kubernetes provider binary is carried here).
 */
export async function validateStacks(stackDirs: readonly string[], options: ValidateOptions = {}): Promise<ValidateResult[]> {
  const parallelism = Math.max(1, options.parallelism ?? 2);
  const names = stackDirs.map((d) => basename(d));
  for (const n of names) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(n)) throw new Error(`validateStacks: "${n}" cannot be a module name`);
  }
  if (new Set(names).size !== names.length) throw new Error('validateStacks: stack directory names must be unique');
  const root = mkdtempSync(join(tmpdir(), 'surgeguard-tf-'));
  const groups: number[][] = Array.from({ length: Math.min(parallelism, stackDirs.length) }, () => []);
  stackDirs.forEach((_, i) => groups[i % groups.length].push(i));
  const source = providerSource();
  try {
    const reports = await Promise.all(
      groups.map(async (members, g) => {
        const dir = join(root, `group-${g}`);
        mkdirSync(dir);
        const modules: Record<string, { source: string }> = {};
        for (const i of members) {
          const tf = JSON.parse(readFileSync(join(stackDirs[i], 'cdk.tf.json'), 'utf8'));
          if (tf.terraform) delete tf.terraform.backend;
          mkdirSync(join(dir, names[i]));
          writeFileSync(join(dir, names[i], 'cdk.tf.json'), JSON.stringify(tf));
          modules[names[i]] = { source: `./${names[i]}` };
        }
        writeFileSync(
          join(dir, 'main.tf.json'),
          JSON.stringify({ terraform: { required_providers: { aws: { source: 'aws', version: AWS_PROVIDER_VERSION } } }, module: modules }),
        );
        const init = ['init', '-backend=false', '-input=false', '-no-color'];
        if (source === 'plugin-dir') init.push(`-plugin-dir=${PLUGIN_DIR}`);
        await terraform(init, dir);
        const report = JSON.parse(await terraform(['validate', '-json', '-no-color'], dir)) as { diagnostics: Diagnostic[] };
        return { members, diagnostics: report.diagnostics };
      }),
    );
    const results: ValidateResult[] = [];
    for (const { members, diagnostics } of reports) {
      const owner = (d: Diagnostic): number | undefined =>
        members.find((i) => {
          const n = names[i];
          return d.address?.startsWith(`module.${n}.`) || d.address === `module.${n}` || d.range?.filename?.startsWith(`${n}/`);
        });
      for (const i of members) {
        // A diagnostic that names no stack (e.g. in the generated root) counts against all of the group.
        const mine = diagnostics.filter((d) => {
          const o = owner(d);
          return o === i || o === undefined;
        });
        const errors = mine.filter((d) => d.severity === 'error').length;
        results[i] = {
          stack: names[i],
          valid: errors === 0,
          errorCount: errors,
          warningCount: mine.length - errors,
          diagnostics: mine.map((d) => `${d.severity}: ${d.summary}${d.address ? ` at ${d.address}` : ''}${d.detail ? ` (${d.detail})` : ''}`),
        };
      }
    }
    return stackDirs.map((_, i) => results[i]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** True when the stack's JSON declares only the AWS provider (what this machine can validate offline). */
export function usesOnlyAwsProvider(tf: { terraform?: { required_providers?: Record<string, unknown> } }): boolean {
  const providers = Object.keys(tf.terraform?.required_providers ?? {});
  return providers.length > 0 && providers.every((p) => p === 'aws');
}

/**
 * The AWS part of a synthesized stack that also uses the Kubernetes/Helm providers (no binaries here):
 * its `aws_*` resources and data sources, remote state inputs and AWS provider, next to the stack's
 * assets, written as the stack `<name>-aws` beside it in `stacksDir` (a cdktf `stacks/` directory).
 * Returns its directory, or undefined when the stack has no AWS resources.
 */
export function writeAwsSlice(stacksDir: string, name: string): string | undefined {
  const tf = JSON.parse(readFileSync(join(stacksDir, name, 'cdk.tf.json'), 'utf8')) as Record<string, any>;
  const pick = (blocks: Record<string, unknown> | undefined, keep: (type: string) => boolean) =>
    Object.fromEntries(Object.entries(blocks ?? {}).filter(([type]) => keep(type)));
  const resource = pick(tf.resource, (t) => t.startsWith('aws_'));
  if (Object.keys(resource).length === 0) return undefined;
  const dir = join(stacksDir, `${name}-aws`);
  mkdirSync(dir, { recursive: true });
  const assets = join(stacksDir, name, 'assets');
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
