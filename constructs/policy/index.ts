export { PolicyChecks, type PolicyChecksProps, suppressPolicy, policySuppressions, evaluatePolicies, type PolicyViolation, type PolicyEvaluation } from './policy-checks';
export { POLICY_RULES, POLICY_RULE_IDS } from './rules';
export type { PolicyRule, PolicyResource, PolicyContext } from './model';
