import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse, stringify } from 'yaml';
import { ENVIRONMENTS } from '../envs';
import { synthesize } from '../main';
import { KubernetesSchema, SchemaProblem } from './manifests/kubernetes-schema';
import { ManifestRenderer, RenderedObject, StackJson } from './manifests/render';

/**
 * `npm run manifests -- <env> <region>`: every Kubernetes object the stacks of one cell declare
 * (workloads, add-ons: any stack of `<env>-<region>` with Kubernetes resources), rendered from the
 * synthesized Terraform JSON as plain YAML manifests and validated against the Kubernetes API schema
 * of the environment's cluster version. For reviews and `kubectl diff -f -`. Values Terraform knows
 * only at apply time (ARNs, endpoints) stay `${…}` expressions.
 */

/** A rendered object with the schema problems found in it. */
export interface CheckedObject extends RenderedObject {
  /** Problems against the schema; undefined when the kind is a custom resource the schema does not carry. */
  readonly problems: readonly SchemaProblem[] | undefined;
}

/** A Helm release a stack of the cell installs, as Terraform will ask Helm for it. */
export interface HelmReleaseSummary {
  readonly stack: string;
  /** Terraform address (`helm_release.<name>`). */
  readonly address: string;
  readonly name: string;
  readonly namespace: string;
  readonly chart: string;
  readonly version: string;
  readonly repository: string;
  /** The release's `values` documents merged in order (later keys win at the top level, as Helm merges maps). */
  readonly values: Record<string, unknown>;
}

/** What `renderCellManifests` returns. */
export interface CellManifests {
  readonly kubernetesVersion: string;
  /** Stacks read, in order. */
  readonly stacks: readonly string[];
  readonly objects: readonly CheckedObject[];
  /** Helm releases of those stacks (their objects are rendered by Helm at apply, so listed, not validated). */
  readonly helmReleases: readonly HelmReleaseSummary[];
  /** Patch resources (labels, annotations, …) that declare no object. */
  readonly skipped: readonly string[];
}

/** Renders and validates the Kubernetes objects of `<env>-<region>*` stacks from a synth output directory. */
export function renderCellManifests(outdir: string, environment: string, region: string): CellManifests {
  const env = ENVIRONMENTS[environment];
  if (!env) throw new Error(`manifests: unknown environment "${environment}" (known: ${Object.keys(ENVIRONMENTS).join(', ')})`);
  if (!env.regions.some((r) => r.region === region)) {
    throw new Error(`manifests: environment "${environment}" has no region "${region}" (regions: ${env.regions.map((r) => r.region).join(', ')})`);
  }
  const schema = new KubernetesSchema(env.kubernetesVersion);
  const renderer = new ManifestRenderer(schema);
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { stacks: Record<string, { synthesizedStackPath: string }> };
  const prefix = `${environment}-${region}`;
  const stacks = Object.keys(manifest.stacks)
    .filter((name) => name === prefix || name.startsWith(`${prefix}-`))
    .sort();
  const objects: CheckedObject[] = [];
  const skipped: string[] = [];
  const helmReleases: HelmReleaseSummary[] = [];
  for (const stack of stacks) {
    const tf = JSON.parse(readFileSync(join(outdir, manifest.stacks[stack].synthesizedStackPath), 'utf8')) as StackJson;
    helmReleases.push(...helmReleasesOf(stack, tf));
    const rendered = renderer.renderStack(stack, tf);
    skipped.push(...rendered.skipped.map((a) => `${stack}: ${a}`));
    for (const o of rendered.objects) objects.push({ ...o, problems: schema.validate(o.object) });
  }
  return { kubernetesVersion: schema.version, stacks, objects, skipped, helmReleases };
}

/** The `helm_release` resources of one stack, with their values parsed (JSON or YAML documents). */
export function helmReleasesOf(stack: string, tf: StackJson): HelmReleaseSummary[] {
  const releases = ((tf as { resource?: Record<string, Record<string, any>> }).resource?.helm_release ?? {}) as Record<string, any>;
  return Object.entries(releases)
    .map(([id, r]) => {
      const docs = ((r.values ?? []) as string[]).map((v, i) => {
        const parsed: unknown = parse(v);
        if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error(`manifests: ${stack} helm_release.${id}: values[${i}] is not a map`);
        return (parsed ?? {}) as Record<string, unknown>;
      });
      return {
        stack,
        address: `helm_release.${id}`,
        name: String(r.name),
        namespace: String(r.namespace ?? 'default'),
        chart: String(r.chart),
        version: String(r.version ?? ''),
        repository: String(r.repository ?? ''),
        values: Object.assign({}, ...docs) as Record<string, unknown>,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The releases as YAML comments (appended to the manifests, so `kubectl diff -f` still reads only the
 * objects): chart, version, repository, namespace and the values Terraform passes to Helm.
 */
export function helmReleasesToYamlComments(releases: readonly HelmReleaseSummary[]): string {
  if (releases.length === 0) return '';
  const lines = ['# Helm releases: rendered by Helm at apply time, so listed here with their values, not validated above.'];
  for (const r of releases) {
    lines.push(`# --- ${r.stack} ${r.address}`);
    lines.push(`# release ${r.namespace}/${r.name}: chart ${r.chart} ${r.version} from ${r.repository}`);
    const values = stringify(r.values, { lineWidth: 0, sortMapEntries: false }).trimEnd();
    lines.push('# values:', ...values.split('\n').map((l) => `#   ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

/** Multi-document YAML of the objects, each preceded by its source. */
export function toYaml(objects: readonly RenderedObject[]): string {
  return objects
    .map((o) => `# Source: ${o.stack} ${o.address}${o.constructPath ? ` (${o.constructPath})` : ''}\n${stringify(o.object, { lineWidth: 0, sortMapEntries: false })}`)
    .join('---\n');
}

/** One line per problem: object, path, message. */
export function formatProblems(objects: readonly CheckedObject[]): string[] {
  const lines: string[] = [];
  for (const o of objects) {
    const name = `${o.object.kind} ${o.object.metadata?.namespace ? `${o.object.metadata.namespace}/` : ''}${o.object.metadata?.name ?? '?'} (${o.stack} ${o.address})`;
    for (const p of o.problems ?? []) lines.push(`${name}: ${p.path}: ${p.message}`);
  }
  return lines;
}

function main(argv: readonly string[]): number {
  const [environment, region] = argv;
  if (!environment || !region) {
    console.error('usage: npm run manifests -- <environment> <region>   (e.g. npm run manifests -- dev us-east-1 > dev-us-east-1.yaml)');
    return 2;
  }
  const outdir = mkdtempSync(join(tmpdir(), 'surgeguard-manifests-'));
  try {
    synthesize(environment, outdir);
    const result = renderCellManifests(outdir, environment, region);
    process.stdout.write(toYaml(result.objects));
    process.stdout.write(helmReleasesToYamlComments(result.helmReleases));
    const problems = formatProblems(result.objects);
    const unchecked = result.objects.filter((o) => o.problems === undefined).map((o) => `${o.object.apiVersion} ${o.object.kind}`);
    console.error(
      `manifests: ${result.objects.length} objects and ${result.helmReleases.length} Helm releases from ${result.stacks.join(', ')}; objects validated against Kubernetes ${result.kubernetesVersion}` +
        (unchecked.length > 0 ? `; custom resources not validated: ${[...new Set(unchecked)].join(', ')}` : '') +
        (result.skipped.length > 0 ? `; patch resources skipped: ${result.skipped.length}` : ''),
    );
    for (const line of problems) console.error(`invalid: ${line}`);
    return problems.length > 0 ? 1 : 0;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`manifests failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
