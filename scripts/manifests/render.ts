import { KubernetesSchema, SchemaNode } from './kubernetes-schema';

/**
 * Renders the Kubernetes objects a synthesized stack declares as plain manifests: every
 * `kubernetes_<kind>_v<n>` resource (the Terraform Kubernetes provider's typed resources) and every
 * `kubernetes_manifest`, from the same cdk.tf.json Terraform applies.
 *
 * The typed resources use the provider's field names (snake_case, singular names for repeated
 * blocks: `container`, `volume_mount`, `metric`; blocks of one as lists; numbers and int-or-string
 * values as strings). The renderer maps them onto the Kubernetes schema of the cluster version,
 * field by field: a field with no counterpart in the schema is an error (it names resource and
 * path), so the mapping cannot silently drop anything.
 */

/** Terraform resource types of the provider's typed resources -> apiVersion and kind. */
export const KUBERNETES_RESOURCE_KINDS: Readonly<Record<string, { readonly apiVersion: string; readonly kind: string }>> = {
  kubernetes_namespace_v1: { apiVersion: 'v1', kind: 'Namespace' },
  kubernetes_service_v1: { apiVersion: 'v1', kind: 'Service' },
  kubernetes_config_map_v1: { apiVersion: 'v1', kind: 'ConfigMap' },
  kubernetes_secret_v1: { apiVersion: 'v1', kind: 'Secret' },
  kubernetes_service_account_v1: { apiVersion: 'v1', kind: 'ServiceAccount' },
  kubernetes_persistent_volume_claim_v1: { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  kubernetes_limit_range_v1: { apiVersion: 'v1', kind: 'LimitRange' },
  kubernetes_resource_quota_v1: { apiVersion: 'v1', kind: 'ResourceQuota' },
  kubernetes_deployment_v1: { apiVersion: 'apps/v1', kind: 'Deployment' },
  kubernetes_daemon_set_v1: { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  kubernetes_daemonset: { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  kubernetes_stateful_set_v1: { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  kubernetes_job_v1: { apiVersion: 'batch/v1', kind: 'Job' },
  kubernetes_cron_job_v1: { apiVersion: 'batch/v1', kind: 'CronJob' },
  kubernetes_horizontal_pod_autoscaler_v2: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  kubernetes_pod_disruption_budget_v1: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  kubernetes_priority_class_v1: { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass' },
  kubernetes_network_policy_v1: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  kubernetes_cluster_role_v1: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
  kubernetes_cluster_role_binding_v1: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
  kubernetes_role_v1: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  kubernetes_role_binding_v1: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  kubernetes_storage_class_v1: { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass' },
  kubernetes_api_service_v1: { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService' },
  kubernetes_runtime_class_v1: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass' },
  kubernetes_validating_webhook_configuration_v1: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' },
  kubernetes_mutating_webhook_configuration_v1: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' },
};

/**
 * Provider resources that patch objects declared elsewhere (labels, annotations, data, env of an
 * existing object) rather than declare one: not rendered, listed in `skipped`.
 */
const PATCH_RESOURCES = new Set(['kubernetes_labels', 'kubernetes_annotations', 'kubernetes_config_map_v1_data', 'kubernetes_env', 'kubernetes_node_taint', 'kubernetes_default_service_account_v1']);

/** Terraform meta-arguments and provider-only arguments: not part of the Kubernetes object. */
const NOT_OBJECT_FIELDS = new Set([
  '//', 'count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection', 'timeouts',
  'wait_for_rollout', 'wait_for_load_balancer', 'wait_for_completion', 'wait_for_default_service_account', 'wait', 'field_manager', 'computed_fields',
]);

/** A rendered object and where it came from. */
export interface RenderedObject {
  /** Stack the resource is in. */
  readonly stack: string;
  /** Terraform address (`kubernetes_deployment_v1.workloads_ModelServer_1A2B3C4D`). */
  readonly address: string;
  /** Construct path, when synth recorded one. */
  readonly constructPath?: string;
  /** The Kubernetes object (apiVersion, kind, metadata, …). */
  readonly object: Record<string, unknown> & { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } };
}

/** A synthesized stack's Terraform JSON (the parts the renderer reads). */
export interface StackJson {
  readonly resource?: Readonly<Record<string, Readonly<Record<string, Record<string, unknown>>>>>;
}

/** Thrown when a resource cannot be rendered; names the stack, address and field. */
export class ManifestRenderError extends Error {
  constructor(stack: string, address: string, problem: string) {
    super(`${stack}: ${address}: ${problem}`);
    this.name = 'ManifestRenderError';
  }
}

const normalize = (name: string): string => name.replace(/_/g, '').toLowerCase();

/** The schema property a provider field name stands for: same name, or its plural (`container` -> `containers`, `policy` -> `policies`). */
function propertyFor(field: string, properties: Readonly<Record<string, SchemaNode>>): string | undefined {
  const names = Object.keys(properties);
  const n = normalize(field);
  const candidates = [n, `${n}s`, `${n}es`, n.endsWith('y') ? `${n.slice(0, -1)}ies` : undefined].filter((c): c is string => c !== undefined);
  for (const c of candidates) {
    const match = names.find((p) => p.toLowerCase() === c);
    if (match !== undefined) return match;
  }
  return undefined;
}

const WHOLE_REFERENCE = /^\$\{(kubernetes_[a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([^}]+)\}$/;

export class ManifestRenderer {
  constructor(private readonly schema: KubernetesSchema) {}

  /** Renders every Kubernetes object of one stack, in a stable order; `skipped` lists patch resources. */
  public renderStack(stack: string, tf: StackJson): { objects: RenderedObject[]; skipped: string[] } {
    const objects: RenderedObject[] = [];
    const skipped: string[] = [];
    const resources = tf.resource ?? {};
    for (const type of Object.keys(resources).sort()) {
      if (!type.startsWith('kubernetes_')) continue;
      for (const name of Object.keys(resources[type]).sort()) {
        const address = `${type}.${name}`;
        const block = resources[type][name];
        const constructPath = (block['//'] as { metadata?: { path?: string } } | undefined)?.metadata?.path;
        if (PATCH_RESOURCES.has(type)) {
          skipped.push(address);
          continue;
        }
        const resolved = this.resolveReferences(stack, address, block, resources);
        const object = type === 'kubernetes_manifest' ? this.fromManifest(stack, address, resolved) : this.fromTyped(stack, address, type, resolved);
        objects.push({ stack, address, constructPath, object });
      }
    }
    return { objects, skipped };
  }

  /** `kubernetes_manifest`: its `manifest` is already an object in the API's own field names. */
  private fromManifest(stack: string, address: string, block: Record<string, unknown>): RenderedObject['object'] {
    const manifest = block.manifest as RenderedObject['object'] | undefined;
    if (!manifest || typeof manifest.apiVersion !== 'string' || typeof manifest.kind !== 'string') {
      throw new ManifestRenderError(stack, address, 'manifest has no apiVersion/kind');
    }
    return manifest;
  }

  private fromTyped(stack: string, address: string, type: string, block: Record<string, unknown>): RenderedObject['object'] {
    const gvk = KUBERNETES_RESOURCE_KINDS[type];
    if (!gvk) throw new ManifestRenderError(stack, address, `no Kubernetes kind known for resource type ${type} (add it to KUBERNETES_RESOURCE_KINDS)`);
    const definition = this.schema.definitionOf(gvk.apiVersion, gvk.kind);
    if (!definition) throw new ManifestRenderError(stack, address, `the Kubernetes ${this.schema.version} schema has no ${gvk.apiVersion} ${gvk.kind}`);
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(block)) if (!NOT_OBJECT_FIELDS.has(k)) fields[k] = v;
    const body = this.convert(stack, address, fields, definition, '') as Record<string, unknown>;
    return { apiVersion: gvk.apiVersion, kind: gvk.kind, ...body };
  }

  /** Converts a provider value onto a schema node (see the file comment). */
  private convert(stack: string, address: string, value: unknown, node: SchemaNode, path: string): unknown {
    const schema = this.schema.resolve(node);
    const fail = (problem: string): never => {
      throw new ManifestRenderError(stack, address, `${path || '/'}: ${problem}`);
    };
    if (value === null || value === undefined) return undefined;
    if (schema.format === 'int-or-string') return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    switch (schema.type) {
      case 'integer':
      case 'number':
        if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
        return value;
      case 'boolean':
        if (value === 'true' || value === 'false') return value === 'true';
        return value;
      case 'array': {
        const list = Array.isArray(value) ? value : [value];
        return list.map((item, i) => this.convert(stack, address, item, schema.items ?? {}, `${path}/${i}`));
      }
      case 'object': {
        let obj = value;
        // The provider writes a nested object as a block list of at most one.
        if (Array.isArray(obj)) {
          if (obj.length === 0) return undefined;
          if (obj.length > 1) fail(`${obj.length} blocks where the schema has one object`);
          obj = obj[0];
        }
        if (typeof obj !== 'object' || obj === null) return obj;
        if (schema.properties) {
          const out: Record<string, unknown> = {};
          for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
            const prop = propertyFor(k, schema.properties);
            if (prop === undefined) fail(`field "${k}" has no counterpart in the Kubernetes ${this.schema.version} schema`);
            const converted = this.convert(stack, address, v, schema.properties[prop!], `${path}/${prop}`);
            if (converted !== undefined) out[prop!] = converted;
          }
          return out;
        }
        if (typeof schema.additionalProperties === 'object') {
          const mapSchema = schema.additionalProperties;
          return Object.fromEntries(Object.entries(obj as Record<string, unknown>).map(([k, v]) => [k, this.convert(stack, address, v, mapSchema, `${path}/${k}`)]));
        }
        return obj;
      }
      default:
        return value;
    }
  }

  /**
   * Replaces whole-string references to another Kubernetes resource of the same stack
   * (`${kubernetes_namespace_v1.ns.metadata[0].name}`) by the referenced value, so namespaces and
   * names read as they will be applied. Anything else Terraform computes at apply time (ARNs,
   * endpoints, hashes of them) stays a `${…}` expression.
   */
  private resolveReferences(stack: string, address: string, block: Record<string, unknown>, resources: StackJson['resource'] & object): Record<string, unknown> {
    const lookup = (type: string, name: string, attribute: string): unknown => {
      let current: unknown = resources[type]?.[name];
      if (current === undefined) throw new ManifestRenderError(stack, address, `references ${type}.${name}, which is not in the stack`);
      for (const step of attribute.replace(/\[(\d+)\]/g, '.$1').split('.')) {
        if (current === undefined || current === null) return undefined;
        if (Array.isArray(current)) current = current[Number(step)];
        else if (typeof current === 'object') current = /^\d+$/.test(step) && step === '0' && !Array.isArray(current) ? current : (current as Record<string, unknown>)[step];
      }
      return current;
    };
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') {
        const m = WHOLE_REFERENCE.exec(v);
        if (!m) return v;
        const target = lookup(m[1], m[2], m[3]);
        return typeof target === 'string' ? walk(target) : v;
      }
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === '//' ? x : walk(x)]));
      return v;
    };
    return walk(block) as Record<string, unknown>;
  }
}
