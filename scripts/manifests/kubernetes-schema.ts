import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import v132 from '../../schema/kubernetes/v1.32.json';

/** A JSON schema node of the Kubernetes OpenAPI v2 definitions (only what the renderer reads). */
export interface SchemaNode {
  readonly $ref?: string;
  readonly type?: string;
  readonly format?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly items?: SchemaNode;
  readonly required?: readonly string[];
  readonly 'x-kubernetes-group-version-kind'?: readonly { group: string; version: string; kind: string }[];
  readonly [key: string]: unknown;
}

interface SchemaDocument {
  readonly kubernetesVersion: string;
  readonly definitions: Readonly<Record<string, SchemaNode>>;
}

/** The Kubernetes schemas in the repository (schema/kubernetes/v<version>.json), by cluster version. */
const DOCUMENTS: Readonly<Record<string, SchemaDocument>> = { '1.32': v132 as unknown as SchemaDocument };

/** One problem found in a rendered object: where, and what. */
export interface SchemaProblem {
  /** JSON pointer into the object (`/spec/template/spec/containers/0/name`). */
  readonly path: string;
  readonly message: string;
}

function formatError(e: ErrorObject): SchemaProblem {
  const extra =
    e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : e.keyword === 'enum' ? ` (${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)})` : '';
  return { path: e.instancePath || '/', message: `${e.message ?? e.keyword}${extra}` };
}

/**
 * The definitions made strict for validation, as kubeconform's "strict" schemas are: an object with
 * declared properties admits no others (a misspelt field is an error, not silently dropped by the API
 * server's pruning); `int-or-string` admits both; a Quantity admits a number; apiVersion and kind must
 * name the definition's group/version/kind.
 */
function strictDefinitions(defs: Readonly<Record<string, SchemaNode>>): Record<string, unknown> {
  const tighten = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(tighten);
    if (node === null || typeof node !== 'object') return node;
    const n = node as Record<string, unknown>;
    if (n.format === 'int-or-string') return { anyOf: [{ type: 'integer' }, { type: 'string' }] };
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, tighten(s)])) : tighten(v);
    if (n.properties !== undefined && n.additionalProperties === undefined && n['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
    return out;
  };
  const result: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(defs)) {
    let strict = tighten(def) as Record<string, unknown>;
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') strict = { anyOf: [{ type: 'string' }, { type: 'number' }] };
    const gvks = def['x-kubernetes-group-version-kind'] ?? [];
    if (gvks.length === 1 && strict.properties !== undefined) {
      const { group, version, kind } = gvks[0];
      const props = strict.properties as Record<string, unknown>;
      strict = {
        ...strict,
        required: [...new Set([...((strict.required as string[] | undefined) ?? []), 'apiVersion', 'kind'])],
        properties: { ...props, apiVersion: { type: 'string', enum: [group === '' ? version : `${group}/${version}`] }, kind: { type: 'string', enum: [kind] } },
      };
    }
    result[name] = strict;
  }
  return result;
}

/**
 * The Kubernetes API schema of one cluster version: the definition of each kind (for the renderer,
 * which maps the Terraform provider's field names onto it) and a strict validator per kind.
 */
export class KubernetesSchema {
  /** Cluster version (`1.32`). */
  public readonly version: string;
  private readonly definitions: Readonly<Record<string, SchemaNode>>;
  private readonly byKind = new Map<string, string>();
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  /** Throws naming the version when the repository carries no schema for it. */
  constructor(version: string) {
    const doc = DOCUMENTS[version];
    if (!doc) throw new Error(`no Kubernetes schema for cluster version ${version} (schema/kubernetes/ has ${Object.keys(DOCUMENTS).join(', ')}): add it with scripts/kubernetes-schema.py`);
    this.version = version;
    this.definitions = doc.definitions;
    for (const [name, def] of Object.entries(doc.definitions)) {
      for (const g of def['x-kubernetes-group-version-kind'] ?? []) this.byKind.set(KubernetesSchema.key(g.group === '' ? g.version : `${g.group}/${g.version}`, g.kind), name);
    }
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    this.ajv.addSchema({ $id: 'k8s', definitions: strictDefinitions(doc.definitions) });
  }

  private static key(apiVersion: string, kind: string): string {
    return `${apiVersion} ${kind}`;
  }

  /** The definition of a kind, or undefined when this schema does not carry it (a custom resource). */
  public definitionOf(apiVersion: string, kind: string): SchemaNode | undefined {
    const name = this.byKind.get(KubernetesSchema.key(apiVersion, kind));
    return name === undefined ? undefined : this.definitions[name];
  }

  /** Follows a `$ref` to its definition. */
  public resolve(node: SchemaNode): SchemaNode {
    let n = node;
    while (n.$ref !== undefined) {
      const target = this.definitions[n.$ref.replace('#/definitions/', '')];
      if (!target) throw new Error(`Kubernetes schema ${this.version}: unknown reference ${n.$ref}`);
      n = target;
    }
    return n;
  }

  /**
   * Validates an object against its kind's strict schema. Returns the problems (empty when valid),
   * or undefined when the kind is not in this schema.
   */
  public validate(object: { apiVersion?: unknown; kind?: unknown }): SchemaProblem[] | undefined {
    const name = this.byKind.get(KubernetesSchema.key(String(object.apiVersion), String(object.kind)));
    if (name === undefined) return undefined;
    let validator = this.validators.get(name);
    if (!validator) {
      validator = this.ajv.getSchema(`k8s#/definitions/${name}`);
      if (!validator) throw new Error(`Kubernetes schema ${this.version}: cannot compile ${name}`);
      this.validators.set(name, validator);
    }
    return validator(object) ? [] : (validator.errors ?? []).map(formatError);
  }
}
