import { isPriorityClass, PRIORITY_CLASSES } from '../contract/priority';
import { parseCidr } from '../constructs/private/cidr';
import { SECRET_NAME } from '../constructs/data/existing-secret';
import { LOG_RETENTION_DAYS } from '../constructs/private/validation';
import { checkServingPlan } from './serving-plan';
import { CROSS_REGION_KEY_NAME } from '../contract/secrets';
import { EnvironmentConfig, NodeGroupConfig } from './types';

export { parseCidr };

/** Regions surgeguard knows: commercial AWS regions with EKS and GPU instances. */
export const KNOWN_REGIONS: readonly string[] = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
  'ca-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
  'ap-south-1', 'ap-south-2', 'ap-east-1', 'me-central-1', 'me-south-1', 'af-south-1', 'il-central-1',
];

/** Retention values CloudWatch Logs accepts (one list, shared with the constructs). */
export { LOG_RETENTION_DAYS };

/** Thrown when an environment config is invalid; the message names environment and field. */
export class EnvironmentConfigError extends Error {
  constructor(
    readonly environment: string,
    readonly field: string,
    problem: string,
  ) {
    super(`environment "${environment}": ${field}: ${problem}`);
    this.name = 'EnvironmentConfigError';
  }
}

// Short enough that `<env>-<short region>` fits ELB name limits (32 with suffixes).
const NAME = /^[a-z][a-z0-9-]{0,15}$/;
// RFC 1035 labels, at least two labels, a TLD of letters.
const DOMAIN = /^(?=.{1,253}$)(?!-)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;


function checkGroup(env: string, field: string, group: NodeGroupConfig, allowZeroMax = false): void {
  const baseNote = field.endsWith('onDemand') ? ': the on-demand base is above the maximum' : '';
  const fail = (f: string, p: string) => {
    throw new EnvironmentConfigError(env, `${field}.${f}`, p);
  };
  if (group.instanceTypes.length === 0) fail('instanceTypes', 'must list at least one instance type');
  const seen = new Set<string>();
  for (const t of group.instanceTypes) {
    if (!INSTANCE_TYPE.test(t)) fail('instanceTypes', `"${t}" is not an EC2 instance type`);
    if (seen.has(t)) fail('instanceTypes', `"${t}" is listed twice`);
    seen.add(t);
  }
  for (const k of ['min', 'max', 'desired'] as const) {
    if (!Number.isInteger(group[k]) || group[k] < 0) fail(k, `must be a whole number >= 0, got ${group[k]}`);
  }
  if (!allowZeroMax && group.max < 1) fail('max', 'must be at least 1');
  if (group.min > group.max) fail('min', `min (${group.min}) is greater than max (${group.max})${baseNote}`);
  if (group.desired < group.min || group.desired > group.max) {
    fail('desired', `desired (${group.desired}) is outside [min, max] = [${group.min}, ${group.max}]`);
  }
}

/**
 * Checks an environment before synth. Throws `EnvironmentConfigError` naming the
 * environment and the offending field; returns the config unchanged when valid.
 */
export function validateEnvironment(config: EnvironmentConfig): EnvironmentConfig {
  const env = config.name;
  const fail = (field: string, problem: string): never => {
    throw new EnvironmentConfigError(env, field, problem);
  };
  if (!NAME.test(env)) fail('name', 'must be 1-16 lower-case letters, digits or dashes, starting with a letter');
  if (!DOMAIN.test(config.domain)) fail('domain', `"${config.domain}" is not a domain name`);
  if (config.hostedZoneId !== undefined && !/^Z[A-Z0-9]{1,31}$/.test(config.hostedZoneId)) {
    fail('hostedZoneId', `"${config.hostedZoneId}" is not a Route 53 zone id`);
  }
  if (!/^1\.\d{2}$/.test(config.kubernetesVersion)) fail('kubernetesVersion', `"${config.kubernetesVersion}" is not an EKS version like 1.32`);
  if (!LOG_RETENTION_DAYS.includes(config.logRetentionDays)) {
    fail('logRetentionDays', `${config.logRetentionDays} is not a CloudWatch Logs retention (${LOG_RETENTION_DAYS.join(', ')})`);
  }
  for (const cidr of config.clusterPublicAccessCidrs ?? []) {
    const parsed = parseCidr(cidr);
    if (!parsed) fail('clusterPublicAccessCidrs', `"${cidr}" is not a CIDR block`);
    if (parsed!.prefix === 0) fail('clusterPublicAccessCidrs', `"${cidr}" opens the cluster API to the whole internet`);
  }
  for (const arn of config.clusterAdminPrincipalArns ?? []) {
    if (!/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/.test(arn)) {
      fail('clusterAdminPrincipalArns', `"${arn}" is not an IAM role or user ARN`);
    }
  }
  if (config.backend.type === 'local' && config.backend.directory !== undefined) {
    const dir = config.backend.directory;
    if (dir === '' || dir.startsWith('/') || /^[A-Za-z]:[\\/]/.test(dir)) {
      fail('backend.directory', `"${dir}" must be a non-empty relative path (synth output must not depend on the checkout path)`);
    }
  }
  if (config.backend.type === 's3') {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(config.backend.bucket)) fail('backend.bucket', `"${config.backend.bucket}" is not an S3 bucket name`);
    if (!KNOWN_REGIONS.includes(config.backend.region)) fail('backend.region', `unknown region "${config.backend.region}"`);
  }
  if (config.model.maxConcurrentSequences < 1) fail('model.maxConcurrentSequences', 'must be at least 1');
  // Images by digest: a mutable tag can change what runs without a synth diff.
  const pinned = (image: string) => /^[a-z0-9][a-z0-9._\-/:]*(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$/.test(image);
  if (!pinned(config.model.image)) fail('model.image', `"${config.model.image}" must be pinned by digest (image[:tag]@sha256:<64 hex>), not a mutable tag`);
  if (config.model.revision !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/.test(config.model.revision)) {
    fail('model.revision', `"${config.model.revision}" must be a hub commit sha or branch name`);
  }
  const { maxModelLength, weightsGB, kvCacheBytesPerToken } = config.model;
  if (maxModelLength !== undefined && (!Number.isInteger(maxModelLength) || maxModelLength < 1)) fail('model.maxModelLength', `must be a whole number of tokens >= 1, got ${maxModelLength}`);
  if (weightsGB !== undefined && !(weightsGB > 0)) fail('model.weightsGB', `must be a positive number of GB, got ${weightsGB}`);
  if (kvCacheBytesPerToken !== undefined && (!Number.isInteger(kvCacheBytesPerToken) || kvCacheBytesPerToken < 1)) {
    fail('model.kvCacheBytesPerToken', `must be a whole number of bytes >= 1, got ${kvCacheBytesPerToken}`);
  }

  if (config.regions.length === 0) fail('regions', 'must list at least one region');
  const seenRegions = new Set<string>();
  const ranges: { region: string; first: number; last: number; cidr: string }[] = [];
  config.regions.forEach((r, i) => {
    const at = `regions[${i}]`;
    if (!KNOWN_REGIONS.includes(r.region)) fail(`${at}.region`, `unknown region "${r.region}"`);
    if (seenRegions.has(r.region)) fail(`${at}.region`, `duplicate region "${r.region}"`);
    seenRegions.add(r.region);
    const range = parseCidr(r.vpcCidr);
    if (!range) fail(`${at}.vpcCidr`, `"${r.vpcCidr}" is not a CIDR block`);
    if (range!.prefix < 16 || range!.prefix > 20) fail(`${at}.vpcCidr`, `prefix /${range!.prefix} must be between /16 and /20`);
    for (const other of ranges) {
      // Stryker disable next-line EqualityOperator: blocks of /16 to /20 start at a multiple of 4 096 and end one address before one, so a first address never equals a last one and < answers as <=
      if (range!.first <= other.last && other.first <= range!.last) {
        fail(`${at}.vpcCidr`, `${r.vpcCidr} (${r.region}) overlaps ${other.cidr} (${other.region})`);
      }
    }
    ranges.push({ region: r.region, cidr: r.vpcCidr, ...range! });
    if (r.azCount !== 3 && !(r.azCount === 2 && env === 'dev')) fail(`${at}.azCount`, 'must be 3 (2 is allowed for dev only)');
    checkGroup(env, `${at}.cpuNodes`, r.cpuNodes);
    checkGroup(env, `${at}.gpu.onDemand`, r.gpu.onDemand, true);
    checkGroup(env, `${at}.gpu.spot`, r.gpu.spot, true);
    if (r.gpu.onDemand.max + r.gpu.spot.max < 1) fail(`${at}.gpu`, 'on-demand and spot max are both 0: no GPU capacity');
    if (!Number.isInteger(r.gpu.gpusPerReplica) || r.gpu.gpusPerReplica < 1) fail(`${at}.gpu.gpusPerReplica`, 'must be a whole number >= 1');
    // The serving plan: the model must fit every GPU type a pool may launch (envs/serving-plan.ts).
    const planProblems = checkServingPlan(r.region, config.model, {
      gpusPerReplica: r.gpu.gpusPerReplica,
      pools: [
        { field: `${at}.gpu.onDemand`, instanceTypes: r.gpu.onDemand.instanceTypes, max: r.gpu.onDemand.max },
        { field: `${at}.gpu.spot`, instanceTypes: r.gpu.spot.instanceTypes, max: r.gpu.spot.max },
      ],
    });
    if (planProblems.length > 0) fail(planProblems[0].field, planProblems.map((p) => p.problem).join('; '));
    if (r.redis.shards < 1 || r.redis.shards > 500) fail(`${at}.redis.shards`, 'must be between 1 and 500');
    if (r.redis.replicasPerShard < 0 || r.redis.replicasPerShard > 5) fail(`${at}.redis.replicasPerShard`, 'must be between 0 and 5');
    if (env !== 'dev' && r.redis.replicasPerShard < 1) fail(`${at}.redis.replicasPerShard`, 'must be at least 1 outside dev (automatic failover needs a replica)');
    if (r.redis.snapshotRetentionDays < 0 || r.redis.snapshotRetentionDays > 35) fail(`${at}.redis.snapshotRetentionDays`, 'must be between 0 and 35');
    if (r.messageQueue.deploymentMode === 'SINGLE_INSTANCE' && env !== 'dev') {
      fail(`${at}.messageQueue.deploymentMode`, 'SINGLE_INSTANCE is allowed for dev only');
    }
    if (r.certificateArn !== undefined && !/^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/.test(r.certificateArn)) {
      fail(`${at}.certificateArn`, `"${r.certificateArn}" is not an ACM certificate ARN`);
    }
  });
  (config.geolocationOverrides ?? []).forEach((g, i) => {
    const at = `geolocationOverrides[${i}]`;
    if ((g.continent === undefined) === (g.country === undefined)) fail(at, 'set exactly one of continent or country');
    if (!seenRegions.has(g.region)) fail(`${at}.region`, `"${g.region}" is not one of the environment's regions`);
  });
  const apiKeys = config.apiKeys ?? [];
  // Security by default: only a developer's sandbox may run the proxy without authentication.
  if (apiKeys.length === 0 && env !== 'dev') fail('apiKeys', 'must list at least one API key outside dev (the proxy would accept anonymous traffic)');
  // The regions call each other with a key of their own: a spilled request must be told from a client's.
  if (apiKeys.length === 0 && config.regions.length > 1) fail('apiKeys', 'must list at least one API key when there is more than one region (without authentication a request spilled to another region would be spilled again)');
  const keyNames = new Set<string>();
  apiKeys.forEach((k, i) => {
    const at = `apiKeys[${i}]`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(k.name)) fail(`${at}.name`, `"${k.name}" must be 1-64 letters, digits, dots, dashes or underscores`);
    if (keyNames.has(k.name)) fail(`${at}.name`, `duplicate key name "${k.name}"`);
    if (k.name === CROSS_REGION_KEY_NAME && config.regions.length > 1) fail(`${at}.name`, `"${CROSS_REGION_KEY_NAME}" is the name of the key the regions call each other with`);
    keyNames.add(k.name);
    if (!/^[0-9a-f]{64}$/.test(k.sha256)) fail(`${at}.sha256`, 'must be the lower-case hex SHA-256 of the key (64 characters), never the key itself');
    if (!isPriorityClass(k.tier)) fail(`${at}.tier`, `"${k.tier}" is not one of ${PRIORITY_CLASSES.join(', ')}`);
    if (k.rateLimit !== undefined) {
      if (!(Number.isFinite(k.rateLimit.requestsPerSecond) && k.rateLimit.requestsPerSecond > 0)) fail(`${at}.rateLimit.requestsPerSecond`, `must be a positive number (got ${k.rateLimit.requestsPerSecond})`);
      if (!(Number.isFinite(k.rateLimit.burst) && k.rateLimit.burst >= 1)) fail(`${at}.rateLimit.burst`, `must be at least 1 request (got ${k.rateLimit.burst})`);
    }
  });
  if (config.externalProvider !== undefined) checkExternalProvider(config.externalProvider, fail);
  return config;
}

/** The external provider: an https origin, a secret by name (never a key), classes, a positive limit. */
function checkExternalProvider(p: NonNullable<EnvironmentConfig['externalProvider']>, fail: (field: string, problem: string) => never): void {
  const at = 'externalProvider';
  let url: URL | undefined;
  try {
    url = new URL(p.baseUrl);
  } catch {
    fail(`${at}.baseUrl`, `"${p.baseUrl}" is not a URL`);
  }
  if (url!.protocol !== 'https:') fail(`${at}.baseUrl`, `"${p.baseUrl}" must be https: the API key travels with every request`);
  if (url!.username !== '' || url!.password !== '') fail(`${at}.baseUrl`, 'must not hold credentials: the key comes from apiKeySecretName');
  if (url!.pathname !== '/' || url!.search !== '' || url!.hash !== '') {
    fail(`${at}.baseUrl`, `"${p.baseUrl}" must be an origin (https://host[:port]) without a path: requests keep theirs (/v1/chat/completions)`);
  }
  if (p.model !== undefined && !/^\S{1,256}$/.test(p.model)) fail(`${at}.model`, `"${p.model}" is not a model name`);
  if (!SECRET_NAME.test(p.apiKeySecretName)) {
    fail(`${at}.apiKeySecretName`, `"${p.apiKeySecretName.slice(0, 12)}…" is not a Secrets Manager secret name (letters, digits and /_+=.@-): give the secret's name, never the key`);
  }
  if (p.classes !== undefined) {
    if (p.classes.length === 0) fail(`${at}.classes`, 'must list at least one class (leave it out for critical, high and medium)');
    const seen = new Set<string>();
    for (const c of p.classes) {
      if (!isPriorityClass(c)) fail(`${at}.classes`, `"${String(c)}" is not one of ${PRIORITY_CLASSES.join(', ')}`);
      if (seen.has(c)) fail(`${at}.classes`, `"${c}" is listed twice`);
      seen.add(c);
    }
  }
  if (!Number.isInteger(p.maxConcurrency) || p.maxConcurrency < 1) fail(`${at}.maxConcurrency`, `must be a whole number of requests >= 1, got ${p.maxConcurrency}`);
}
