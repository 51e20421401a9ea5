import { TerraformResource } from 'cdktf';

/** A synthesized resource as the policy rules see it: resolved, snake_case arguments. */
export interface PolicyResource {
  /** Terraform type, e.g. `aws_lb`. */
  readonly type: string;
  /** Terraform name (cdktf's friendly unique id). */
  readonly name: string;
  /** Construct path, e.g. `prod-us-east-1/entry/nlb`. */
  readonly path: string;
  /** Arguments as they will be synthesized (`${...}` references for values known after apply). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The construct, to annotate. */
  readonly construct: TerraformResource;
}

/** What a rule may look up besides the resource it checks. */
export interface PolicyContext {
  /** Every resource of the stack. */
  readonly resources: readonly PolicyResource[];
  /** The resources of the stack a value refers to (`${aws_kms_key.x.arn}` -> that key). */
  referencedBy(value: unknown): PolicyResource[];
  /** Resources of `type` that refer to `target` in `attribute` (or anywhere when omitted). */
  referencing(target: PolicyResource, type: string, attribute?: string): PolicyResource[];
  /** Stateful resources must be protected (deletion protection, final snapshots): production environments. */
  readonly protectStatefulResources: boolean;
}

/** One policy rule: an id, what it requires, and a check returning what to change (nothing when it passes). */
export interface PolicyRule {
  /** Stable id used in messages and suppressions, e.g. `SG-ENC-1`. */
  readonly id: string;
  /** What the rule requires, one line. */
  readonly title: string;
  /** The resource types it checks. */
  readonly types: readonly string[];
  /** Returns what to change, one string per violation, or nothing. */
  check(resource: PolicyResource, context: PolicyContext): string | readonly string[] | undefined;
}

/** A block that cdktf writes either as an object or as a list of one. */
export function block(value: unknown): Record<string, unknown> | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
}

/** A repeated block (list), or a single block as a list of one. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is Record<string, unknown> => v !== null && typeof v === 'object');
}

/** A value that is set: a literal or a reference. */
export function isSet(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0);
}

/** True for a `${...}` reference (a value Terraform knows only at apply). */
export function isReference(value: unknown): boolean {
  return typeof value === 'string' && /\$\{/.test(value);
}
