import { LocalBackend, S3Backend, TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { EnvironmentConfig } from '../envs/types';

/** Where local state files go, relative to the synthesized stack directory (`cdktf.out/stacks/<stack>`). */
export const DEFAULT_LOCAL_STATE_DIRECTORY = '../../../terraform-state';

const DIRECTIONS: Readonly<Record<string, string>> = {
  north: 'n', south: 's', east: 'e', west: 'w', central: 'c',
  northeast: 'ne', northwest: 'nw', southeast: 'se', southwest: 'sw',
};

/** `us-east-1` -> `use1`, `ap-southeast-1` -> `apse1`: short enough for ELB and target group names. */
export function shortRegion(region: string): string {
  const m = /^([a-z]{2})-([a-z]+)-(\d+)$/.exec(region);
  if (!m || DIRECTIONS[m[2]] === undefined) throw new Error(`shortRegion: cannot abbreviate region "${region}"`);
  return `${m[1]}${DIRECTIONS[m[2]]}${m[3]}`;
}

/** Stack names of an environment, in one place so stacks, tests and docs agree. */
export const stackNames = {
  dns: (env: string) => `${env}-dns`,
  platform: (env: string, region: string) => `${env}-${region}`,
  addons: (env: string, region: string) => `${env}-${region}-addons`,
  workloads: (env: string, region: string) => `${env}-${region}-workloads`,
  global: (env: string) => `${env}-global`,
};

/** The DNS name of one region's own entry (`<region>.<domain>`): on its certificate, and where peers forward job requests. */
export function regionalDomainName(region: string, domain: string): string {
  return `${region}.${domain}`;
}

/**
 * Name of the environment's cross-region key in Secrets Manager, the same in every region (the
 * primary in the first region, a replica in each other): the workloads name it in their
 * SecretProviderClass, and the CSI driver reads the copy of the pod's region.
 */
export function crossRegionKeySecretName(env: string): string {
  return `surgeguard/${env}/cross-region-key`;
}

/** Tags every resource of the environment carries (through the provider's `default_tags`). */
export function defaultTags(env: EnvironmentConfig, region: string): Record<string, string> {
  return {
    ...env.tags,
    project: 'surgeguard',
    environment: env.name,
    region,
    'managed-by': 'cdktf',
  };
}

/** Adds the AWS provider for `region` with the environment's default tags. */
export function addAwsProvider(stack: TerraformStack, env: EnvironmentConfig, region: string, alias?: string): AwsProvider {
  return new AwsProvider(stack, alias ? `aws-${alias}` : 'aws', {
    region,
    alias,
    defaultTags: [{ tags: defaultTags(env, region) }],
  });
}

/** S3 key of a stack's state (`<keyPrefix>/<stack>.tfstate`); undefined for a local backend. */
export function stateKey(env: EnvironmentConfig, stackName: string): string | undefined {
  return env.backend.type === 's3' ? `${stateKeyPrefix(env)}/${stackName}.tfstate` : undefined;
}

/** Prefix of the environment's state keys in its S3 bucket. */
export function stateKeyPrefix(env: EnvironmentConfig): string {
  return (env.backend.type === 's3' ? env.backend.keyPrefix : undefined) ?? `surgeguard/${env.name}`;
}

/** S3 key (in the state bucket) of the zip of synthesized stacks the region's deploy runner applies. */
export function deployBundleKey(env: EnvironmentConfig, region: string): string {
  return `${stateKeyPrefix(env)}/deploy-bundles/${env.name}-${region}.zip`;
}

/**
 * Sets the state backend of `stack` from the environment, explicitly, so synth output never holds an
 * absolute path (cdktf's default local backend would write `<cwd>/terraform.<stack>.tfstate`).
 * S3 gets Terraform's native lock file (`use_lockfile`), which cdktf 0.21's S3Backend has no prop for.
 */
export function addBackend(stack: TerraformStack, env: EnvironmentConfig, stackName: string): void {
  const backend = env.backend;
  if (backend.type === 'local') {
    const directory = backend.directory ?? DEFAULT_LOCAL_STATE_DIRECTORY;
    new LocalBackend(stack, { path: `${directory}/${stackName}.tfstate` });
    return;
  }
  new S3Backend(stack, {
    bucket: backend.bucket,
    region: backend.region,
    key: stateKey(env, stackName)!,
    encrypt: true,
    kmsKeyId: backend.kmsKeyId,
  });
  stack.addOverride('terraform.backend.s3.use_lockfile', true);
}
