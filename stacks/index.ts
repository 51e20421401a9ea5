import { Construct } from 'constructs';
import { EnvironmentConfig } from '../envs/types';
import { validateEnvironment } from '../envs/validate';
import { AddonsStack } from './addons-stack';
import { DnsStack } from './dns-stack';
import { GlobalStack } from './global-stack';
import { PlatformStack } from './platform-stack';
import { WorkloadsStack } from './workloads-stack';
import { addPolicyChecks } from './policy-suppressions';

export * from './common';
export { AddonsStack, type AddonsStackProps, HPA_ADAPTER_METRICS, NODE_GROUP_PRIORITY } from './addons-stack';
export { eksExecAuth } from './cluster-access';
export { DnsStack, type DnsStackProps } from './dns-stack';
export { GlobalStack, type GlobalStackProps, GLOBAL_ACCELERATOR_API_REGION } from './global-stack';
export { PlatformStack, type PlatformStackProps } from './platform-stack';
export { WorkloadsStack, type WorkloadsStackProps } from './workloads-stack';
export { POLICY_SUPPRESSIONS, addPolicyChecks, type PolicySuppression } from './policy-suppressions';

/** The stacks of one environment. */
export interface EnvironmentStacks {
  /** The zone stack, unless the environment names an existing `hostedZoneId`. */
  readonly dns?: DnsStack;
  /** One platform stack per region, in config order. */
  readonly platforms: readonly PlatformStack[];
  /** One add-ons stack per region (after its platform stack, before its workloads stack), in config order. */
  readonly addons: readonly AddonsStack[];
  /** One workloads stack per region, in config order. */
  readonly workloads: readonly WorkloadsStack[];
  /** The global (GSLB) stack. */
  readonly global: GlobalStack;
}

/**
 * Lays out every stack of an environment in `scope` (the cdktf App): `<env>-dns` (when no zone id is
 * given), `<env>-<region>`, `<env>-<region>-addons` and `<env>-<region>-workloads` per region, and `<env>-global`.
 * Validates the environment first; an invalid one throws before any stack is created.
 */
export function buildEnvironment(scope: Construct, config: EnvironmentConfig): EnvironmentStacks {
  const env = validateEnvironment(config);
  const dns = env.hostedZoneId === undefined ? new DnsStack(scope, { environment: env }) : undefined;
  const hostedZoneId = dns?.zoneId ?? env.hostedZoneId!;
  const platforms = env.regions.map((region) => new PlatformStack(scope, { environment: env, region, hostedZoneId }));
  // Regions spill to each other with one key: the first cell holds it, replicated to the others.
  const keyHolder = platforms.length > 1 ? platforms[0] : undefined;
  keyHolder?.holdCrossRegionKey(platforms);
  const addons = platforms.map((platform) => new AddonsStack(scope, { environment: env, platform }));
  const workloads = platforms.map((platform, i) => new WorkloadsStack(scope, { environment: env, platform, addons: addons[i], crossRegionKeyHolder: keyHolder }));
  const global = new GlobalStack(scope, { environment: env, platforms, hostedZoneId });
  // Policy checks on every stack: app.synth() fails on a violation that has no reasoned suppression.
  for (const stack of [...(dns ? [dns] : []), ...platforms, ...addons, ...workloads, global]) addPolicyChecks(stack, env);
  return { dns, platforms, addons, workloads, global };
}
