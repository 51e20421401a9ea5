import { Annotations, DefaultTokenResolver, IAspect, StringConcat, TerraformResource, TerraformStack, Tokenization } from 'cdktf';
import { IConstruct } from 'constructs';
import { PolicyContext, PolicyResource } from './model';
import { POLICY_RULE_IDS, POLICY_RULES } from './rules';

/** Props of {@link PolicyChecks}. */
export interface PolicyChecksProps {
  /**
   * Require protection of stateful resources (final snapshots, deletion protection, no force-destroy).
   * @default false - set it for production environments (surgeguard: `EnvironmentConfig.deletionProtection`)
   */
  readonly protectStatefulResources?: boolean;
}

const SUPPRESSIONS = new WeakMap<TerraformResource, Map<string, string>>();
/** A reason must say why, not just "ok". */
const MIN_REASON_LENGTH = 20;

/**
 * Suppresses one policy rule on one resource, with the reason a reviewer reads. The suppression is
 * written into the synthesized resource (`"//": { "policy_suppressions": [...] }`), so it shows in
 * `npm run diff` and in the stack's JSON. Throws on an unknown rule id or a reason shorter than 20
 * characters.
 */
export function suppressPolicy(resource: TerraformResource, ruleId: string, reason: string): void {
  if (!POLICY_RULE_IDS.has(ruleId)) throw new Error(`suppressPolicy(${resource.node.path}): unknown rule "${ruleId}" (known: ${[...POLICY_RULE_IDS].join(', ')})`);
  if (reason.trim().length < MIN_REASON_LENGTH) throw new Error(`suppressPolicy(${resource.node.path}, ${ruleId}): give a reason a reviewer can judge (at least ${MIN_REASON_LENGTH} characters)`);
  const byRule = SUPPRESSIONS.get(resource) ?? new Map<string, string>();
  byRule.set(ruleId, reason.trim());
  SUPPRESSIONS.set(resource, byRule);
  resource.addOverride(
    '//.policy_suppressions',
    [...byRule.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([rule, why]) => ({ rule, reason: why })),
  );
}

/** The suppressions recorded on a resource (rule id -> reason). */
export function policySuppressions(resource: TerraformResource): ReadonlyMap<string, string> {
  return SUPPRESSIONS.get(resource) ?? new Map();
}

/** One finding: rule, resource path, what to change. */
export interface PolicyViolation {
  readonly rule: string;
  readonly path: string;
  readonly message: string;
}

/** What {@link evaluatePolicies} finds. */
export interface PolicyEvaluation {
  /** Violations without a suppression: each fails synth. */
  readonly violations: PolicyViolation[];
  /** Violations a suppression covers (shown, not failing). */
  readonly suppressed: PolicyViolation[];
  /** Suppressions whose rule passes on their resource: warnings, to be removed. */
  readonly unusedSuppressions: PolicyViolation[];
}

/**
 * Runs every policy rule over the resources of `stack` and returns the violations that are not
 * suppressed, in path order. Pure: annotating is the aspect's job.
 */
export function evaluatePolicies(stack: TerraformStack, props: PolicyChecksProps = {}): PolicyEvaluation {
  const resources: PolicyResource[] = stack.node
    .findAll()
    .filter((c): c is TerraformResource => c instanceof TerraformResource)
    .map((construct) => {
      const tf = Tokenization.resolve(construct.toTerraform(), { scope: stack, resolver: new DefaultTokenResolver(new StringConcat()), preparing: false }) as { resource?: Record<string, Record<string, Record<string, unknown>>> };
      const [type, byName] = Object.entries(tf.resource ?? {})[0] ?? [construct.terraformResourceType, {}];
      const [name, config] = Object.entries(byName)[0] ?? [construct.friendlyUniqueId, {}];
      const { ['//']: _meta, ...rest } = config;
      return { type, name, path: construct.node.path, config: rest, construct };
    });
  const byAddress = new Map(resources.map((r) => [`${r.type}.${r.name}`, r]));
  const refsOf = (value: unknown): string[] => {
    const text = JSON.stringify(value ?? null);
    return [...text.matchAll(/\$\{([a-z][a-z0-9]*_[a-z0-9_]+)\.([A-Za-z0-9_-]+)[.[]/g)].map((m) => `${m[1]}.${m[2]}`);
  };
  const context: PolicyContext = {
    resources,
    protectStatefulResources: props.protectStatefulResources ?? false,
    referencedBy: (value) => refsOf(value).map((a) => byAddress.get(a)).filter((r): r is PolicyResource => r !== undefined),
    referencing: (target, type, attribute) =>
      resources.filter((r) => r.type === type && refsOf(attribute === undefined ? r.config : r.config[attribute]).includes(`${target.type}.${target.name}`)),
  };

  const violations: PolicyViolation[] = [];
  const suppressedViolations: PolicyViolation[] = [];
  const unusedSuppressions: PolicyViolation[] = [];
  for (const r of resources) {
    const suppressed = policySuppressions(r.construct);
    const fired = new Set<string>();
    for (const rule of POLICY_RULES) {
      if (!rule.types.includes('*') && !rule.types.includes(r.type)) continue;
      const result = rule.check(r, context);
      const messages = result === undefined ? [] : typeof result === 'string' ? [result] : result;
      if (messages.length === 0) continue;
      fired.add(rule.id);
      for (const message of messages) (suppressed.has(rule.id) ? suppressedViolations : violations).push({ rule: rule.id, path: r.path, message });
    }
    for (const [rule, reason] of suppressed) {
      if (!fired.has(rule)) unusedSuppressions.push({ rule, path: r.path, message: `suppression no longer needed (the rule passes): remove it (${reason})` });
    }
  }
  const order = (a: PolicyViolation, b: PolicyViolation) => a.path.localeCompare(b.path) || a.rule.localeCompare(b.rule) || a.message.localeCompare(b.message);
  return { violations: violations.sort(order), suppressed: suppressedViolations.sort(order), unusedSuppressions: unusedSuppressions.sort(order) };
}

/**
 * The policy checks as a cdktf Aspect, in the spirit of cdk-nag: add it to a stack and every
 * `app.synth()` fails with one error per violation, `[<rule>] <resource path>: <what to change>`.
 * A rule that does not apply to one resource is suppressed there with {@link suppressPolicy} and a
 * reason; a suppression whose rule passes is reported as a warning so it gets removed.
 * (`Testing.synth` ignores error annotations; use {@link evaluatePolicies} in tests.)
 */
export class PolicyChecks implements IAspect {
  constructor(private readonly props: PolicyChecksProps = {}) {}

  visit(node: IConstruct): void {
    if (!(node instanceof TerraformStack)) return;
    const { violations, unusedSuppressions } = evaluatePolicies(node, this.props);
    const byPath = new Map(node.node.findAll().map((c) => [c.node.path, c]));
    for (const v of violations) Annotations.of(byPath.get(v.path) ?? node).addError(`[${v.rule}] ${v.path}: ${v.message}`);
    for (const v of unusedSuppressions) Annotations.of(byPath.get(v.path) ?? node).addWarning(`[${v.rule}] ${v.path}: ${v.message}`);
  }
}
