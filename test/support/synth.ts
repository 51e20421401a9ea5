import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { App, TerraformStack, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { EnvironmentConfig } from '../../envs/types';
import { buildEnvironment, EnvironmentStacks } from '../../stacks';

/** Synthesized Terraform JSON of one stack. */
export type TfJson = {
  terraform?: Record<string, any>;
  provider?: Record<string, any[]>;
  resource?: Record<string, Record<string, any>>;
  data?: Record<string, Record<string, any>>;
  output?: Record<string, any>;
  [key: string]: unknown;
};

/** Providers a test stack gets before `build` runs. */
export interface SynthOptions {
  /** An AWS provider for this region. @default - none */
  readonly awsRegion?: string;
  /** A Kubernetes provider (no cluster: the JSON is only read). @default false */
  readonly kubernetes?: boolean;
}

/**
 * Synthesizes what `build` creates inside a fresh test stack (`test`, in `Testing.app()`) and
 * returns the parsed JSON. The one way construct tests synthesize.
 */
export function synthConstruct(build: (scope: Construct) => void, options: SynthOptions = {}): TfJson {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'test');
  if (options.awsRegion !== undefined) new AwsProvider(stack, 'aws', { region: options.awsRegion });
  if (options.kubernetes) new KubernetesProvider(stack, 'k8s', {});
  build(stack);
  return JSON.parse(Testing.synth(stack)) as TfJson;
}

/** All resources of a Terraform type, by logical id. */
export function resources(tf: TfJson, type: string): Record<string, any> {
  return tf.resource?.[type] ?? {};
}

/** The resources of a type as a list. */
export function resourceList(tf: TfJson, type: string): any[] {
  return Object.values(resources(tf, type));
}

/** The single resource of a type; fails when there are none or several. */
export function onlyResource(tf: TfJson, type: string): any {
  const list = resourceList(tf, type);
  if (list.length !== 1) throw new Error(`expected exactly one ${type}, found ${list.length}`);
  return list[0];
}

/** Logical id of a resource as Terraform sees it (`${aws_vpc.<id>.id}` references). */
export function logicalIdOf(tf: TfJson, type: string, predicate: (r: any) => boolean): string {
  const entry = Object.entries(resources(tf, type)).find(([, r]) => predicate(r));
  if (!entry) throw new Error(`no ${type} matches`);
  return entry[0];
}

/** A synthesized app in a temporary directory, read back stack by stack. */
export interface SynthesizedApp {
  readonly outdir: string;
  readonly stacks: EnvironmentStacks[];
  readonly stackNames: string[];
  stack(name: string): TfJson;
}

/**
 * Synthesizes environments with `app.synth()` (cross-stack references resolved as in a real synth)
 * into a new temporary directory.
 */
export function synthApp(configs: readonly EnvironmentConfig[], outdir = mkdtempSync(join(tmpdir(), 'surgeguard-synth-'))): SynthesizedApp {
  let stacks: EnvironmentStacks[];
  try {
    const app = new App({ outdir });
    stacks = configs.map((c) => buildEnvironment(app, c));
    app.synth();
  } catch (err) {
    rmSync(outdir, { recursive: true, force: true });
    throw err;
  }
  const cache = new Map<string, TfJson>();
  return {
    outdir,
    stacks,
    stackNames: readdirSync(join(outdir, 'stacks')).sort(),
    stack(name: string): TfJson {
      if (!cache.has(name)) cache.set(name, JSON.parse(readFileSync(join(outdir, 'stacks', name, 'cdk.tf.json'), 'utf8')));
      return cache.get(name)!;
    },
  };
}
