import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

/** One resource or data source of a synthesized stack, with cdktf's metadata taken off. */
export interface SynthResource {
  /** `resource` or `data`. */
  readonly mode: 'resource' | 'data';
  /** Terraform type, e.g. `aws_vpc`. */
  readonly type: string;
  /** Terraform name (cdktf's unique id), e.g. `network_vpc_4E8F0223`. */
  readonly name: string;
  /** The state address inside its stack: `aws_vpc.network_vpc_4E8F0223` or `data.aws_iam_policy_document.x`. */
  readonly address: string;
  /** The construct path, e.g. `prod-us-east-1/network/vpc` (the address when cdktf left none). */
  readonly path: string;
  /** Arguments as synthesized, cross-stack references rewritten to `${<stack>:<address>.<attr>}`. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** Policy-check suppressions recorded on the resource (`//.policy_suppressions`). */
  readonly suppressions: readonly PolicySuppressionRecord[];
}

/** A policy rule suppressed on one resource, with its reason, as written into synth output. */
export interface PolicySuppressionRecord {
  readonly rule: string;
  readonly reason: string;
}

/** One synthesized stack. */
export interface SynthStack {
  readonly name: string;
  readonly dependencies: readonly string[];
  /** Every resource and data source by address, cross-stack plumbing excluded. */
  readonly resources: ReadonlyMap<string, SynthResource>;
  /** The stack's own outputs, cross-stack plumbing excluded. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Provider configurations by `<provider>` or `<provider>.<alias>` (region, default tags, ...). */
  readonly providers: Readonly<Record<string, unknown>>;
  /** The `terraform` block (backend, required providers). */
  readonly terraform: Readonly<Record<string, unknown>>;
}

/** A synthesized cdktf output folder (`cdktf.out/`). */
export interface SynthOutput {
  readonly dir: string;
  /** Stacks by name, in name order. */
  readonly stacks: ReadonlyMap<string, SynthStack>;
}

const CROSS_STACK_INPUT = 'cross-stack-reference-input-';
const CROSS_STACK_OUTPUT = 'cross-stack-output-';
/** `${data.terraform_remote_state.cross-stack-reference-input-<stack>.outputs.<output>}` (also inside longer expressions). */
const REMOTE_REF = /data\.terraform_remote_state\.cross-stack-reference-input-([A-Za-z0-9_-]+)\.outputs\.(cross-stack-output-[A-Za-z0-9_.-]+)/g;

interface RawStack {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, { value?: unknown }>;
  provider?: Record<string, Array<Record<string, unknown>>>;
  terraform?: Record<string, unknown>;
}

/**
 * Reads `<dir>/manifest.json` and every stack's `cdk.tf.json`. Cross-stack plumbing (the
 * `cross-stack-output-*` outputs and `cross-stack-reference-input-*` remote states cdktf generates)
 * is removed, and references through it are rewritten to the producing resource
 * (`${prod-us-east-1:aws_lb.entry_nlb_97579B36.dns_name}`), so a renamed output is not a change and
 * a replaced producer can be followed into its consumers.
 */
export function loadSynthOutput(dir: string): SynthOutput {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${dir}: no manifest.json (not a cdktf synth output folder)`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    stacks: Record<string, { synthesizedStackPath: string; dependencies?: string[] }>;
  };
  const raw = new Map<string, RawStack>();
  for (const [name, entry] of Object.entries(manifest.stacks)) {
    raw.set(name, JSON.parse(readFileSync(join(dir, entry.synthesizedStackPath), 'utf8')) as RawStack);
  }
  // What every cross-stack output points at, to rewrite consumers' references.
  const outputTargets = new Map<string, string>();
  for (const [name, tf] of raw) {
    for (const [outName, out] of Object.entries(tf.output ?? {})) {
      if (!outName.startsWith(CROSS_STACK_OUTPUT) || typeof out.value !== 'string') continue;
      const m = /^\$\{(.*)\}$/.exec(out.value);
      if (m) outputTargets.set(`${name}/${outName}`, `${name}:${m[1]}`);
    }
  }
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.includes(CROSS_STACK_INPUT)
        ? value.replace(REMOTE_REF, (whole, stack: string, out: string) => outputTargets.get(`${stack}/${out}`) ?? whole)
        : value;
    }
    if (Array.isArray(value)) return value.map(rewrite);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]));
    }
    return value;
  };

  const stacks = new Map<string, SynthStack>();
  for (const name of [...raw.keys()].sort()) {
    const tf = raw.get(name)!;
    const resources = new Map<string, SynthResource>();
    for (const mode of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries(tf[mode] ?? {})) {
        for (const [tfName, body] of Object.entries(byName)) {
          if (mode === 'data' && type === 'terraform_remote_state' && tfName.startsWith(CROSS_STACK_INPUT)) continue;
          const { ['//']: meta, ...attributes } = body as Record<string, unknown> & { '//'?: Record<string, unknown> };
          const metadata = (meta?.metadata ?? {}) as { path?: string };
          const address = mode === 'data' ? `data.${type}.${tfName}` : `${type}.${tfName}`;
          resources.set(address, {
            mode,
            type,
            name: tfName,
            address,
            path: metadata.path ?? address,
            attributes: rewrite(attributes) as Record<string, unknown>,
            suppressions: (meta?.policy_suppressions as PolicySuppressionRecord[] | undefined) ?? [],
          });
        }
      }
    }
    const outputs: Record<string, unknown> = {};
    for (const [outName, out] of Object.entries(tf.output ?? {})) {
      if (!outName.startsWith(CROSS_STACK_OUTPUT)) outputs[outName] = rewrite(out);
    }
    const providers: Record<string, unknown> = {};
    for (const [provider, configs] of Object.entries(tf.provider ?? {})) {
      for (const config of configs) {
        const alias = typeof config.alias === 'string' ? `.${config.alias}` : '';
        providers[`${provider}${alias}`] = rewrite(config);
      }
    }
    const { ['//']: _meta, ...terraform } = (tf.terraform ?? {}) as Record<string, unknown>;
    stacks.set(name, {
      name,
      dependencies: manifest.stacks[name].dependencies ?? [],
      resources,
      outputs,
      providers,
      terraform,
    });
  }
  return { dir, stacks };
}

/** The region a stack's default AWS provider runs in, or undefined (e.g. a Kubernetes-only stack). */
export function stackRegion(stack: SynthStack): string | undefined {
  const aws = stack.providers.aws as { region?: unknown } | undefined;
  return typeof aws?.region === 'string' ? aws.region : undefined;
}

/** The environment a stack belongs to: its name up to the first `-` (`prod-us-east-1` -> `prod`). */
export function stackEnvironment(stackName: string): string {
  return stackName.split('-')[0];
}

/** Every `${...}` reference in a value, as the expression inside the braces. */
export function referencesIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\$\{([^}]*)\}/g)) found.push(m[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) referencesIn(v, found);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) referencesIn(v, found);
  }
  return found;
}
