import { PolicySuppressionRecord, referencesIn, SynthOutput, SynthResource, SynthStack } from '../common/synth-output';
import { replacementRule, STATEFUL_TYPES } from './replacement-table';
import { Category, categorizeAttribute, categorizeType } from './categories';

/** What Terraform would do to a resource. */
export type Action = 'create' | 'delete' | 'update' | 'replace';

/** One changed argument, `before` or `after` undefined when it was added or removed. */
export interface AttributeChange {
  /** Argument path, blocks and list items joined: `scaling_config.max_size`, `ingress[0].cidr_ipv4`. */
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
  /** Set when only content hashes differ: the artifact's name (`proxy`). */
  readonly artifact?: string;
  /** Set when the value did not change but refers to a resource that is replaced (so it will). */
  readonly recomputedFrom?: string;
  readonly category: Category;
}

/** Why a resource is replaced. */
export interface ReplacementCause {
  /** The argument whose change forces replacement. */
  readonly attribute: string;
  /** Set when the argument changes because it refers to this replaced resource (`<stack>:<address>`). */
  readonly replacedDependency?: string;
}

/** One resource (or data source) that differs between the two synths. */
export interface ResourceChange {
  readonly stack: string;
  readonly address: string;
  readonly type: string;
  readonly path: string;
  readonly action: Action;
  /** Changed arguments (empty for create/delete). */
  readonly changes: readonly AttributeChange[];
  /** Why it is replaced (action `replace`). */
  readonly forcedBy: readonly ReplacementCause[];
  /** Changed arguments that force replacement only in some cases, with the table's note. */
  readonly mayReplace: readonly { attribute: string; note: string }[];
  /** What a replacement or destruction loses, for stateful types. */
  readonly stateful?: string;
  /** The section a created or deleted resource is listed in. */
  readonly category: Category;
  /** Policy suppressions before and after (only when they differ). */
  readonly suppressions?: { readonly before: readonly PolicySuppressionRecord[]; readonly after: readonly PolicySuppressionRecord[] };
}

/** One stack's differences. */
export interface StackDiff {
  readonly name: string;
  readonly status: 'added' | 'removed' | 'changed';
  readonly resources: readonly ResourceChange[];
  /** Changes of outputs, providers and the terraform block (backend), as attribute changes. */
  readonly settings: readonly AttributeChange[];
}

/** The differences between two synth outputs. */
export interface SynthDiff {
  readonly stacks: readonly StackDiff[];
  /** Resources whose synthesized arguments differ only by noise (set ordering), not listed. */
  readonly noiseOnly: number;
}

/** A `${...}` reference to a resource attribute, with the stack it lives in. */
interface Reference {
  readonly key: string; // `<stack>:<address>`
  readonly attribute: string;
}

const HASH_SOURCE = '(?:sha256[:-])?[0-9a-f]{64}|sha256-[A-Za-z0-9+/]{43}=';
const hashPattern = (): RegExp => new RegExp(HASH_SOURCE, 'g');
const REF = /(?:([A-Za-z0-9][A-Za-z0-9-]*):)?(?<!data\.)\b([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_][a-z0-9_]*)/g;

/** Compares two synth outputs resource by resource (matched by Terraform address, per stack). */
export function compareSynths(before: SynthOutput, after: SynthOutput): SynthDiff {
  const names = [...new Set([...before.stacks.keys(), ...after.stacks.keys()])].sort();
  const changes = new Map<string, ResourceChange[]>();
  const replaced = new Set<string>();
  let noiseOnly = 0;

  // Pass 1: what differs in the configuration itself.
  for (const name of names) {
    const a = before.stacks.get(name);
    const b = after.stacks.get(name);
    const list: ResourceChange[] = [];
    const addresses = [...new Set([...(a?.resources.keys() ?? []), ...(b?.resources.keys() ?? [])])].sort();
    for (const address of addresses) {
      const ra = a?.resources.get(address);
      const rb = b?.resources.get(address);
      if (!ra && rb) {
        list.push(resourceChange(name, rb, 'create', [], [], [], rb.suppressions.length > 0 ? [] : undefined));
      } else if (ra && !rb) {
        list.push(resourceChange(name, ra, 'delete', [], [], []));
      } else if (ra && rb) {
        const diffs: RawChange[] = [];
        diffValues('', ra.attributes, rb.attributes, diffs);
        const suppressionsChanged = canonical(ra.suppressions) !== canonical(rb.suppressions);
        if (diffs.length === 0) {
          if (canonical(ra.attributes) !== canonical(rb.attributes)) noiseOnly++;
          if (suppressionsChanged) list.push(resourceChange(name, rb, 'update', [], [], [], ra.suppressions));
          continue;
        }
        const rule = replacementRule(rb.type);
        const forcedBy: ReplacementCause[] = [];
        const mayReplace: { attribute: string; note: string }[] = [];
        for (const d of diffs) {
          const attribute = matchRule(rule?.forceNew ?? [], d.path);
          if (attribute && !forcedBy.some((f) => f.attribute === attribute)) forcedBy.push({ attribute });
          const conditional = matchRule(rule?.conditional ?? [], d.path);
          if (conditional && !mayReplace.some((m) => m.attribute === conditional)) {
            mayReplace.push({ attribute: conditional, note: rule?.note ?? '' });
          }
        }
        const action: Action = forcedBy.length > 0 ? 'replace' : 'update';
        if (action === 'replace') replaced.add(`${name}:${address}`);
        const attributeChanges = diffs.map((d) => toAttributeChange(rb.type, d));
        list.push(resourceChange(name, rb, action, attributeChanges, forcedBy, mayReplace, suppressionsChanged ? ra.suppressions : undefined));
      }
    }
    changes.set(name, list);
  }

  // Pass 2: a replaced resource gets new ids; whatever refers to them in an argument that forces
  // replacement is replaced too, transitively (a new VPC replaces its subnets, route tables,
  // security groups, and the cluster and node groups in those subnets).
  let grew = true;
  while (grew) {
    grew = false;
    for (const name of names) {
      const a = before.stacks.get(name);
      const b = after.stacks.get(name);
      if (!a || !b) continue;
      const list = changes.get(name)!;
      for (const [address, rb] of b.resources) {
        const key = `${name}:${address}`;
        if (replaced.has(key) || !a.resources.has(address) || rb.mode === 'data') continue;
        const rule = replacementRule(rb.type);
        const causes: ReplacementCause[] = [];
        const recomputed: AttributeChange[] = [];
        const index = list.findIndex((c) => c.address === address);
        const existing = index >= 0 ? list[index] : undefined;
        const mayReplace = [...(existing?.mayReplace ?? [])];
        for (const [path, value] of leafEntries(rb.attributes)) {
          for (const ref of referencesOf(value, name)) {
            if (!replaced.has(ref.key) || isStableAttribute(before, after, ref)) continue;
            const attribute = matchRule(rule?.forceNew ?? [], path);
            const conditional = matchRule(rule?.conditional ?? [], path);
            if (conditional && !mayReplace.some((m) => m.attribute === conditional)) mayReplace.push({ attribute: conditional, note: rule?.note ?? '' });
            if (attribute) {
              if (!causes.some((c) => c.attribute === attribute)) causes.push({ attribute, replacedDependency: ref.key });
            } else if (!recomputed.some((r) => r.path === path)) {
              recomputed.push({ path, recomputedFrom: ref.key, category: categorizeAttribute(rb.type, path) });
            }
          }
        }
        const known = new Set(existing?.changes.map((c) => c.path) ?? []);
        const newRecomputed = recomputed.filter((r) => !known.has(r.path));
        if (causes.length === 0 && newRecomputed.length === 0 && mayReplace.length === (existing?.mayReplace.length ?? 0)) continue;
        const action: Action = causes.length > 0 ? 'replace' : existing?.action ?? 'update';
        const updated = resourceChange(
          name,
          rb,
          action,
          [...(existing?.changes ?? []), ...newRecomputed],
          [...(existing?.forcedBy ?? []), ...causes],
          mayReplace,
          existing?.suppressions ? existing.suppressions.before : undefined,
        );
        if (index >= 0) list[index] = updated;
        else list.push(updated);
        if (action === 'replace') {
          replaced.add(key);
          grew = true;
        }
      }
    }
  }

  const stacks: StackDiff[] = [];
  for (const name of names) {
    const a = before.stacks.get(name);
    const b = after.stacks.get(name);
    const resources = changes.get(name)!.sort((x, y) => severity(x) - severity(y) || x.address.localeCompare(y.address));
    const settings = a && b ? settingsChanges(a, b) : [];
    if (a && b && resources.length === 0 && settings.length === 0) continue;
    stacks.push({ name, status: !a ? 'added' : !b ? 'removed' : 'changed', resources, settings });
  }
  return { stacks, noiseOnly };
}

const STATEFUL_ORDER = Object.keys(STATEFUL_TYPES);

/** Stateful types in the order of STATEFUL_TYPES (data first), then everything else. */
function severity(r: ResourceChange): number {
  const i = STATEFUL_ORDER.indexOf(r.type);
  return r.stateful !== undefined && i >= 0 ? i : STATEFUL_ORDER.length;
}

interface RawChange {
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

function resourceChange(
  stack: string,
  r: SynthResource,
  action: Action,
  changes: AttributeChange[],
  forcedBy: ReplacementCause[],
  mayReplace: readonly { attribute: string; note: string }[],
  suppressionsBefore?: readonly PolicySuppressionRecord[],
): ResourceChange {
  const stateful = action === 'replace' || action === 'delete' ? STATEFUL_TYPES[r.type] : undefined;
  return {
    stack,
    address: r.address,
    type: r.type,
    path: r.path,
    action,
    changes,
    forcedBy,
    mayReplace,
    ...(stateful ? { stateful } : {}),
    category: categorizeType(r.type),
    ...(suppressionsBefore ? { suppressions: { before: suppressionsBefore, after: r.suppressions } } : {}),
  };
}

function toAttributeChange(type: string, d: RawChange): AttributeChange {
  const artifact = artifactName(d.path, d.before, d.after);
  return { ...d, ...(artifact ? { artifact } : {}), category: categorizeAttribute(type, d.path) };
}

/** Stable JSON (sorted keys) for equality. */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseJsonString(v: unknown): unknown {
  if (typeof v !== 'string' || !/^\s*[[{]/.test(v)) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

/**
 * Collects the differences of two argument values. Noise is left out: list items that are the same
 * multiset in another order (sets: subnet ids, security groups, policy statements), and JSON
 * documents in strings (policies) that differ only in formatting or order.
 */
export function diffValues(path: string, a: unknown, b: unknown, out: RawChange[]): void {
  if (canonical(a) === canonical(b)) return;
  const ja = parseJsonString(a);
  const jb = parseJsonString(b);
  if (ja !== undefined && jb !== undefined) {
    diffValues(path, ja, jb, out);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const ca = a.map(canonical).sort();
    const cb = b.map(canonical).sort();
    if (ca.length === cb.length && ca.every((x, i) => x === cb[i])) return; // same set, other order
    const scalars = [...a, ...b].every((x) => x === null || typeof x !== 'object');
    if (!scalars && a.length === b.length) {
      a.forEach((item, i) => diffValues(`${path}[${i}]`, item, b[i], out));
      return;
    }
    out.push({ path, before: a, after: b });
    return;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (path === '' && key === 'depends_on') continue; // ordering hint, not infrastructure
      diffValues(path ? `${path}.${key}` : key, a[key], b[key], out);
    }
    return;
  }
  // A single nested block is written as an object or a one-item list; compare them alike.
  if (Array.isArray(a) && a.length === 1 && isPlainObject(b)) return diffValues(path, a[0], b, out);
  if (Array.isArray(b) && b.length === 1 && isPlainObject(a)) return diffValues(path, a, b[0], out);
  out.push({ path, ...(a === undefined ? {} : { before: a }), ...(b === undefined ? {} : { after: b }) });
}

/** `vpc_config[0].subnet_ids[2]` -> `vpc_config.subnet_ids`. */
export function normalizePath(path: string): string {
  return path.replace(/\[\d+\]/g, '');
}

/** The rule path a changed argument falls under (or that lies inside a changed block), if any. */
function matchRule(paths: readonly string[], changedPath: string): string | undefined {
  const p = normalizePath(changedPath);
  return paths.find((r) => p === r || p.startsWith(`${r}.`) || r.startsWith(`${p}.`));
}

/**
 * When two strings differ only in content hashes (sha256 hex or base64), the name of the artifact
 * they address: the path segment before the hash (`ghcr.io/x/proxy@sha256:…` -> `proxy`,
 * `bundles/worker-<hex>.tgz` -> `worker`), else the argument's last path segment.
 */
export function artifactName(path: string, before: unknown, after: unknown): string | undefined {
  if (typeof before !== 'string' || typeof after !== 'string' || before === after) return undefined;
  if (!hashPattern().test(before) || before.replace(hashPattern(), '#') !== after.replace(hashPattern(), '#')) return undefined;
  const first = before.search(hashPattern());
  const prefix = before.slice(0, first).replace(/[@:/._-]+$/, '');
  const segment = prefix.split(/[/:]/).pop() ?? '';
  if (segment) return segment;
  const parts = normalizePath(path).split('.');
  return parts[parts.length - 1];
}

function leafEntries(value: unknown, path = '', out: [string, unknown][] = []): [string, unknown][] {
  if (Array.isArray(value)) value.forEach((v, i) => leafEntries(v, `${path}[${i}]`, out));
  else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (path === '' && (k === 'depends_on' || k === 'lifecycle')) continue;
      leafEntries(v, path ? `${path}.${k}` : k, out);
    }
  } else out.push([path, value]);
  return out;
}

function referencesOf(value: unknown, stack: string): Reference[] {
  const refs: Reference[] = [];
  for (const expression of referencesIn(value)) {
    for (const m of expression.matchAll(REF)) {
      refs.push({ key: `${m[1] ?? stack}:${m[2]}.${m[3]}`, attribute: m[4] });
    }
  }
  return refs;
}

/** A replaced resource's attribute keeps its value when it is a literal argument that did not change (a name). */
function isStableAttribute(before: SynthOutput, after: SynthOutput, ref: Reference): boolean {
  const [stack, address] = ref.key.split(':');
  const a = before.stacks.get(stack)?.resources.get(address)?.attributes[ref.attribute];
  const b = after.stacks.get(stack)?.resources.get(address)?.attributes[ref.attribute];
  return b !== undefined && referencesIn(b).length === 0 && canonical(a) === canonical(b);
}

function settingsChanges(a: SynthStack, b: SynthStack): AttributeChange[] {
  const out: RawChange[] = [];
  diffValues('output', a.outputs, b.outputs, out);
  diffValues('provider', a.providers, b.providers, out);
  diffValues('terraform', a.terraform, b.terraform, out);
  return out.map((d) => toAttributeChange('', d));
}
