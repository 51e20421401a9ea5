import { ENVIRONMENTS, EnvironmentConfig, EnvironmentConfigError, validateEnvironment } from '../../envs';
import { KNOWN_REGIONS, LOG_RETENTION_DAYS } from '../../envs/validate';

/**
 * The other half of the validation rules (environments.test.ts has one rejection per rule): every
 * rule accepts the values a user legitimately writes, up to its edges, and rejects just past them.
 * A rule that rejected every public-access CIDR, IAM ARN or local state directory would fail here.
 */
type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
type Cfg = Mutable<EnvironmentConfig>;
type Base = 'dev' | 'staging' | 'prod';

const copy = (name: Base): Cfg => structuredClone(ENVIRONMENTS[name]) as Cfg;
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

function accepted(base: Base, change: (c: Cfg) => void): void {
  const config = copy(base);
  change(config);
  expect(validateEnvironment(config as EnvironmentConfig)).toBe(config);
}

function rejectedAt(base: Base, change: (c: Cfg) => void): string | undefined {
  const config = copy(base);
  change(config);
  try {
    validateEnvironment(config as EnvironmentConfig);
  } catch (e) {
    expect(e).toBeInstanceOf(EnvironmentConfigError);
    const err = e as EnvironmentConfigError;
    expect(err.name).toBe('EnvironmentConfigError');
    // names where and says what is wrong: never an empty problem after the field
    const prefix = `environment "${config.name}": ${err.field}: `;
    expect(err.message.startsWith(prefix)).toBe(true);
    expect(err.message.length - prefix.length).toBeGreaterThan(10);
    return err.field;
  }
  return undefined;
}

describe('validateEnvironment accepts what a user legitimately writes', () => {
  it('accepts every shipped environment unchanged', () => {
    for (const name of ['dev', 'staging', 'prod'] as const) accepted(name, () => undefined);
  });

  const cases: [string, Base, (c: Cfg) => void][] = [
    ['a one-letter name', 'prod', (c) => (c.name = 'p')],
    ['a 16-character name with digits and dashes', 'prod', (c) => (c.name = 'eu-prod-2-abcdef')],
    ['a domain of three labels with dashes', 'prod', (c) => (c.domain = 'llm-gw.corp-example.co.uk')],
    ['a domain with one-character labels', 'prod', (c) => (c.domain = 'a.b.example.com')],
    ['a Route 53 zone id', 'prod', (c) => (c.hostedZoneId = 'Z0123456789ABCDEFGHIJ')],
    ['a two-digit EKS minor version', 'prod', (c) => (c.kubernetesVersion = '1.33')],
    ['a public API open to an office range and a single address', 'prod', (c) => (c.clusterPublicAccessCidrs = ['203.0.113.0/24', '198.51.100.7/32'])],
    ['a public API open to half the address space (only /0 is "everyone")', 'prod', (c) => (c.clusterPublicAccessCidrs = ['128.0.0.0/1'])],
    ['no public API access at all', 'prod', (c) => (c.clusterPublicAccessCidrs = [])],
    [
      'cluster admins that are IAM roles (with a path) and users, in every partition',
      'prod',
      (c) =>
        (c.clusterAdminPrincipalArns = [
          'arn:aws:iam::123456789012:role/ci-deployer',
          'arn:aws:iam::123456789012:role/platform/admins/on-call',
          'arn:aws:iam::123456789012:user/alice+ops@example.com',
          'arn:aws-us-gov:iam::123456789012:role/deployer',
          'arn:aws-cn:iam::123456789012:user/bob_1',
        ]),
    ],
    ['a relative local state directory', 'dev', (c) => (c.backend = { type: 'local', directory: 'state/dev' })],
    ['a local state directory above the checkout', 'dev', (c) => (c.backend = { type: 'local', directory: '../terraform-state' })],
    // a local copy of an S3 state bucket keeps the S3 backend's workspace prefix `env:/`: only a drive at the start is absolute
    ['a relative state directory with a colon and slash after a letter later in it', 'dev', (c) => (c.backend = { type: 'local', directory: 'state-copy/env:/dev' })],
    ['local state in the default place', 'dev', (c) => (c.backend = { type: 'local' })],
    ['a three-character state bucket with dots and dashes elsewhere', 'prod', (c) => ((c.backend as { bucket: string }).bucket = 'a.b')],
    ['a 63-character state bucket', 'prod', (c) => ((c.backend as { bucket: string }).bucket = `s${'x'.repeat(61)}1`)],
    ['a state bucket in another known region', 'prod', (c) => ((c.backend as { region: string }).region = 'eu-central-2')],
    ['one concurrent sequence', 'prod', (c) => (c.model.maxConcurrentSequences = 1)],
    ['a model image from a private registry, pinned with a tag and a digest', 'prod', (c) => (c.model.image = `123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm/vllm-openai:v0.8.5@${DIGEST}`)],
    ['a model image with a tag of upper-case letters and underscores, pinned by digest', 'prod', (c) => (c.model.image = `vllm/vllm-openai:v0.8.5_CUDA-12.4@${DIGEST}`)],
    ['a model image pinned by digest only', 'prod', (c) => (c.model.image = `vllm/vllm-openai@${DIGEST}`)],
    ['a model revision pinned to a hub commit', 'prod', (c) => (c.model.revision = '0cf17482555fbf7bc49273e499647cc71c2bd7a7')],
    ['the smallest model length, weights and KV-cache figures', 'prod', (c) => Object.assign(c.model, { maxModelLength: 1, weightsGB: 0.5, kvCacheBytesPerToken: 1 })],
    ['a /16 and a /20 VPC', 'prod', (c) => ((c.regions[0].vpcCidr = '10.30.0.0/16'), (c.regions[1].vpcCidr = '10.64.16.0/20'))],
    ['three zones in dev', 'dev', (c) => (c.regions[0].azCount = 3)],
    ['a CPU group of fixed size 1', 'prod', (c) => Object.assign(c.regions[0].cpuNodes, { min: 1, max: 1, desired: 1 })],
    ['a CPU group from zero, desired at its max', 'prod', (c) => Object.assign(c.regions[0].cpuNodes, { min: 0, max: 3, desired: 3 })],
    ['a single GPU node in all (on-demand max 1, spot max 0)', 'prod', (c) => (Object.assign(c.regions[0].gpu.onDemand, { min: 0, max: 1, desired: 0 }), Object.assign(c.regions[0].gpu.spot, { min: 0, max: 0, desired: 0 }))],
    ['no on-demand GPUs while spot has capacity', 'prod', (c) => Object.assign(c.regions[0].gpu.onDemand, { min: 0, max: 0, desired: 0 })],
    ['no spot GPUs while on-demand has capacity', 'prod', (c) => Object.assign(c.regions[0].gpu.spot, { min: 0, max: 0, desired: 0 })],
    ['one Redis shard and 500', 'prod', (c) => ((c.regions[0].redis.shards = 1), (c.regions[1].redis.shards = 500))],
    ['five Redis replicas, one outside dev', 'prod', (c) => ((c.regions[0].redis.replicasPerShard = 5), (c.regions[1].redis.replicasPerShard = 1))],
    ['snapshot retention of 0 and 35 days', 'prod', (c) => ((c.regions[0].redis.snapshotRetentionDays = 0), (c.regions[1].redis.snapshotRetentionDays = 35))],
    ['a single-instance broker in dev', 'dev', (c) => (c.regions[0].messageQueue.deploymentMode = 'SINGLE_INSTANCE')],
    ['a clustered broker outside dev', 'prod', (c) => (c.regions[0].messageQueue.deploymentMode = 'CLUSTER_MULTI_AZ')],
    ['an ACM certificate ARN', 'prod', (c) => (c.regions[0].certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789')],
    ['geolocation overrides by continent and by country to its regions', 'prod', (c) => (c.geolocationOverrides = [{ continent: 'EU', region: c.regions[1].region }, { country: 'US', region: c.regions[0].region }])],
    ['no API keys in dev', 'dev', (c) => (c.apiKeys = [])],
    [
      'API keys of every tier with names of 1 and 64 characters',
      'prod',
      (c) =>
        (c.apiKeys = (['critical', 'high', 'medium', 'low'] as const).map((tier, i) => ({
          name: i === 0 ? 'k' : i === 1 ? `K${'a'.repeat(62)}9` : `team.${tier}_key-${i}`,
          sha256: 'ab'.repeat(32),
          tier,
        }))),
    ],
    ['a key quota of half a request per second with a burst of exactly one', 'prod', (c) => (c.apiKeys = [{ ...c.apiKeys![0], rateLimit: { requestsPerSecond: 0.5, burst: 1 } }])],
    // the name is reserved only where the regions call each other
    ['an API key named like the cross-region key in a single-region environment', 'dev', (c) => (c.apiKeys = [{ name: 'cross-region', sha256: 'ab'.repeat(32), tier: 'high' }])],
  ];

  it.each(cases)('accepts %s', (_what, base, change) => accepted(base, change));

  it('accepts every retention CloudWatch Logs offers', () => {
    expect(LOG_RETENTION_DAYS.length).toBeGreaterThan(10);
    for (const days of LOG_RETENTION_DAYS) accepted('prod', (c) => (c.logRetentionDays = days));
  });

  const provider = { baseUrl: 'https://api.deepseek.com', apiKeySecretName: 'surgeguard/prod/deepseek-api-key', maxConcurrency: 32 };

  it('accepts an external provider by origin (with a port, too), its secret by name, with or without classes and a model name', () => {
    accepted('prod', (c) => (c.externalProvider = { ...provider }));
    accepted('prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://llm.internal.example.com:8443/', model: 'deepseek-chat', classes: ['critical'], maxConcurrency: 1 }));
    accepted('dev', (c) => (c.externalProvider = { ...provider, apiKeySecretName: 'provider_key+v2=x.y@z-1', classes: ['critical', 'high', 'medium', 'low'] }));
    accepted('prod', (c) => (c.externalProvider = { ...provider, model: 'meta-llama/Llama-3.1-8B-Instruct' }));
    accepted('prod', (c) => (c.externalProvider = { ...provider, model: 'm'.repeat(256) }));
  });

  it('accepts a multi-region environment with API keys, and a single-region dev one without', () => {
    accepted('staging', () => undefined);
    accepted('dev', (c) => (c.apiKeys = []));
  });

  it('accepts a state bucket and a deployment in every commercial region with EKS and GPU instances', () => {
    // written out, not read from KNOWN_REGIONS: a region dropped or misspelt there must fail here
    const regions = [
      'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'sa-east-1',
      'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-central-2', 'eu-north-1', 'eu-south-1', 'eu-south-2',
      'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3',
      'ap-south-1', 'ap-south-2', 'ap-east-1', 'me-central-1', 'me-south-1', 'af-south-1', 'il-central-1',
    ];
    expect([...KNOWN_REGIONS].sort()).toEqual([...regions].sort());
    for (const region of regions) {
      accepted('prod', (c) => ((c.backend as { region: string }).region = region));
      accepted('dev', (c) => (c.regions[0].region = region));
    }
  });
});

describe('validateEnvironment rejects just past each edge', () => {
  const cases: [string, Base, (c: Cfg) => void, string][] = [
    ['a 17-character name', 'prod', (c) => (c.name = 'eu-prod-2-abcdefg'), 'name'],
    ['a name starting with a digit', 'prod', (c) => (c.name = '1prod'), 'name'],
    ['a domain label starting with a dash', 'prod', (c) => (c.domain = '-api.example.com'), 'domain'],
    ['a domain with something after its top-level label', 'prod', (c) => (c.domain = 'api.example.com/v1'), 'domain'],
    ['a domain of 254 characters', 'prod', (c) => (c.domain = `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example.com`), 'domain'],
    ['an instance type with an upper-case family', 'prod', (c) => (c.regions[0].cpuNodes.instanceTypes = ['M7i.2xlarge']), 'regions[0].cpuNodes.instanceTypes'],
    ['an instance type with trailing text', 'prod', (c) => (c.regions[0].cpuNodes.instanceTypes = ['m7i.2xlarge spot']), 'regions[0].cpuNodes.instanceTypes'],
    ['a zone id not starting with Z', 'prod', (c) => (c.hostedZoneId = 'A0123456789'), 'hostedZoneId'],
    ['a zone id with a prefix before the Z', 'prod', (c) => (c.hostedZoneId = '/hostedzone/Z0123456789'), 'hostedZoneId'],
    ['a zone id with lower-case letters after it', 'prod', (c) => (c.hostedZoneId = 'Z0123456789abc'), 'hostedZoneId'],
    ['an EKS version 2.x', 'prod', (c) => (c.kubernetesVersion = '2.10'), 'kubernetesVersion'],
    ['an EKS version with a v prefix', 'prod', (c) => (c.kubernetesVersion = 'v1.32'), 'kubernetesVersion'],
    ['an EKS version with a patch number', 'prod', (c) => (c.kubernetesVersion = '1.32.1'), 'kubernetesVersion'],
    ['a public CIDR with host bits set', 'prod', (c) => (c.clusterPublicAccessCidrs = ['203.0.113.7/24']), 'clusterPublicAccessCidrs'],
    ['an IAM ARN with an 11-digit account', 'prod', (c) => (c.clusterAdminPrincipalArns = ['arn:aws:iam::12345678901:role/x']), 'clusterAdminPrincipalArns'],
    ['an IAM group, which cannot be a cluster admin', 'prod', (c) => (c.clusterAdminPrincipalArns = ['arn:aws:iam::123456789012:group/admins']), 'clusterAdminPrincipalArns'],
    ['an IAM ARN with a prefix', 'prod', (c) => (c.clusterAdminPrincipalArns = ['role=arn:aws:iam::123456789012:role/x']), 'clusterAdminPrincipalArns'],
    ['an IAM ARN followed by a space and more', 'prod', (c) => (c.clusterAdminPrincipalArns = ['arn:aws:iam::123456789012:role/x y']), 'clusterAdminPrincipalArns'],
    ['an STS session ARN', 'prod', (c) => (c.clusterAdminPrincipalArns = ['arn:aws:sts::123456789012:assumed-role/r/s']), 'clusterAdminPrincipalArns'],
    ['one bad ARN among good ones', 'prod', (c) => (c.clusterAdminPrincipalArns = ['arn:aws:iam::123456789012:role/ok', 'role/bad']), 'clusterAdminPrincipalArns'],
    ['an empty local state directory', 'dev', (c) => (c.backend = { type: 'local', directory: '' }), 'backend.directory'],
    ['a Windows drive state directory', 'dev', (c) => (c.backend = { type: 'local', directory: 'C:\\state' }), 'backend.directory'],
    ['a Windows drive state directory with a slash', 'dev', (c) => (c.backend = { type: 'local', directory: 'd:/state' }), 'backend.directory'],
    ['a 2-character state bucket', 'prod', (c) => ((c.backend as { bucket: string }).bucket = 'ab'), 'backend.bucket'],
    ['a 64-character state bucket', 'prod', (c) => ((c.backend as { bucket: string }).bucket = `s${'x'.repeat(62)}1`), 'backend.bucket'],
    ['a model image by tag only', 'prod', (c) => (c.model.image = 'vllm/vllm-openai:v0.8.5'), 'model.image'],
    ['a model image with a short digest', 'prod', (c) => (c.model.image = `vllm/vllm-openai@${DIGEST.slice(0, -1)}`), 'model.image'],
    ['a model image with a long digest', 'prod', (c) => (c.model.image = `vllm/vllm-openai@${DIGEST}0`), 'model.image'],
    ['a model image with text before it', 'prod', (c) => (c.model.image = `docker pull vllm/vllm-openai@${DIGEST}`), 'model.image'],
    ['a model revision starting with a dash (read as an option)', 'prod', (c) => (c.model.revision = '--upload-pack=touch'), 'model.revision'],
    ['an ACM certificate ARN with text before it', 'prod', (c) => (c.regions[0].certificateArn = 'cert=arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789'), 'regions[0].certificateArn'],
    ['an ACM certificate ARN with text after it', 'prod', (c) => (c.regions[0].certificateArn = 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789 (old)'), 'regions[0].certificateArn'],
    ['a model revision that is no git ref', 'prod', (c) => (c.model.revision = 'main; rm -rf /'), 'model.revision'],
    ['a model length of 0', 'prod', (c) => (c.model.maxModelLength = 0), 'model.maxModelLength'],
    ['a fractional model length', 'prod', (c) => (c.model.maxModelLength = 1024.5), 'model.maxModelLength'],
    ['weights of 0 GB', 'prod', (c) => (c.model.weightsGB = 0), 'model.weightsGB'],
    ['weights of NaN GB', 'prod', (c) => (c.model.weightsGB = NaN), 'model.weightsGB'],
    ['a KV cache of 0 bytes per token', 'prod', (c) => (c.model.kvCacheBytesPerToken = 0), 'model.kvCacheBytesPerToken'],
    ['a fractional KV cache per token', 'prod', (c) => (c.model.kvCacheBytesPerToken = 1.5), 'model.kvCacheBytesPerToken'],
    ['a /15 VPC', 'prod', (c) => (c.regions[0].vpcCidr = '10.30.0.0/15'), 'regions[0].vpcCidr'],
    ['a /21 VPC', 'prod', (c) => (c.regions[0].vpcCidr = '10.30.0.0/21'), 'regions[0].vpcCidr'],
    ['a VPC that contains another region\'s', 'prod', (c) => ((c.regions[1].vpcCidr = '10.30.0.0/20'), (c.regions[0].vpcCidr = '10.29.0.0/16'), (c.regions[2].vpcCidr = '10.30.0.0/16')), 'regions[2].vpcCidr'],
    ['four zones, even in dev (a config written without the types)', 'dev', (c) => (c.regions[0].azCount = 4 as 3), 'regions[0].azCount'],
    ['a negative node count', 'prod', (c) => (c.regions[0].cpuNodes.min = -1), 'regions[0].cpuNodes.min'],
    ['a fractional GPU replica size', 'prod', (c) => (c.regions[0].gpu.gpusPerReplica = 1.5), 'regions[0].gpu.gpusPerReplica'],
    ['501 Redis shards', 'prod', (c) => (c.regions[0].redis.shards = 501), 'regions[0].redis.shards'],
    ['a negative Redis replica count', 'dev', (c) => (c.regions[0].redis.replicasPerShard = -1), 'regions[0].redis.replicasPerShard'],
    ['a negative snapshot retention', 'prod', (c) => (c.regions[0].redis.snapshotRetentionDays = -1), 'regions[0].redis.snapshotRetentionDays'],
    ['a geolocation override with neither continent nor country', 'prod', (c) => (c.geolocationOverrides = [{ region: c.regions[0].region }]), 'geolocationOverrides[0]'],
    ['an API key name of 65 characters', 'prod', (c) => ((c.apiKeys![0] as { name: string }).name = `K${'a'.repeat(63)}9`), 'apiKeys[0].name'],
    ['an API key name starting with a dot', 'prod', (c) => ((c.apiKeys![0] as { name: string }).name = '.hidden'), 'apiKeys[0].name'],
    ['an upper-case hex hash', 'prod', (c) => ((c.apiKeys![0] as { sha256: string }).sha256 = 'AB'.repeat(32)), 'apiKeys[0].sha256'],
    ['a hash of 65 hex digits', 'prod', (c) => ((c.apiKeys![0] as { sha256: string }).sha256 = `a${'ab'.repeat(32)}`), 'apiKeys[0].sha256'],
    ['a hash of 64 hex digits after a prefix', 'prod', (c) => ((c.apiKeys![0] as { sha256: string }).sha256 = `sha256:${'ab'.repeat(32)}`), 'apiKeys[0].sha256'],
    ['a model that does not fit the on-demand GPUs', 'prod', (c) => (c.regions[0].gpu.gpusPerReplica = 1), 'regions[0].gpu.onDemand.instanceTypes'],
    ['a model that does not fit the spot GPUs', 'prod', (c) => (Object.assign(c.regions[0].gpu.onDemand, { min: 0, max: 0, desired: 0 }), (c.regions[0].gpu.spot.instanceTypes = ['g6e.xlarge']), (c.regions[0].gpu.gpusPerReplica = 1)), 'regions[0].gpu.spot.instanceTypes'],
  ];

  const provider = { baseUrl: 'https://api.deepseek.com', apiKeySecretName: 'surgeguard/prod/deepseek-api-key', maxConcurrency: 32 };
  cases.push(
    ['a dev environment of two regions without API keys (a spill would be spilled back)', 'dev', (c) => (c.regions.push({ ...structuredClone(c.regions[0]), region: 'eu-west-1', vpcCidr: '10.99.0.0/16' })), 'apiKeys'],
    ['an API key named like the cross-region key', 'prod', (c) => (c.apiKeys = [{ ...c.apiKeys![0], name: 'cross-region' }]), 'apiKeys[0].name'],
    ['an external provider over http', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'http://api.deepseek.com' }), 'externalProvider.baseUrl'],
    ['an external provider URL with a path', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://api.openai.com/v1' }), 'externalProvider.baseUrl'],
    ['an external provider URL with credentials', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://user:sk-123@api.deepseek.com' }), 'externalProvider.baseUrl'],
    ['an external provider URL that is no URL', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'api.deepseek.com' }), 'externalProvider.baseUrl'],
    ['an external provider\'s secret given by ARN', 'prod', (c) => (c.externalProvider = { ...provider, apiKeySecretName: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf' }), 'externalProvider.apiKeySecretName'],
    ['an external provider\'s key instead of its secret\'s name', 'prod', (c) => (c.externalProvider = { ...provider, apiKeySecretName: 'sk-live 0123456789abcdef' }), 'externalProvider.apiKeySecretName'],
    ['an external provider with no class', 'prod', (c) => (c.externalProvider = { ...provider, classes: [] }), 'externalProvider.classes'],
    ['an external provider with an unknown class', 'prod', (c) => (c.externalProvider = { ...provider, classes: ['urgent' as 'low'] }), 'externalProvider.classes'],
    ['an external provider with a class twice', 'prod', (c) => (c.externalProvider = { ...provider, classes: ['high', 'high'] }), 'externalProvider.classes'],
    ['an API key quota of infinite requests per second', 'prod', (c) => (c.apiKeys = [{ ...c.apiKeys![0], rateLimit: { requestsPerSecond: Infinity, burst: 10 } }]), 'apiKeys[0].rateLimit.requestsPerSecond'],
    ['an API key quota with an infinite burst', 'prod', (c) => (c.apiKeys = [{ ...c.apiKeys![0], rateLimit: { requestsPerSecond: 5, burst: Infinity } }]), 'apiKeys[0].rateLimit.burst'],
    ['an external provider URL with the key as its user name', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://sk-123@api.deepseek.com' }), 'externalProvider.baseUrl'],
    ['an external provider URL with the key as its password alone', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://:sk-123@api.deepseek.com' }), 'externalProvider.baseUrl'],
    ['an external provider URL with the key in its query', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://api.deepseek.com/?api_key=sk-123' }), 'externalProvider.baseUrl'],
    ['an external provider URL with a fragment', 'prod', (c) => (c.externalProvider = { ...provider, baseUrl: 'https://api.deepseek.com/#models' }), 'externalProvider.baseUrl'],
    ['an external provider with an empty model name', 'prod', (c) => (c.externalProvider = { ...provider, model: '' }), 'externalProvider.model'],
    ['an external provider with a model name of two words', 'prod', (c) => (c.externalProvider = { ...provider, model: 'deepseek chat' }), 'externalProvider.model'],
    ['an external provider with a model name of 257 characters', 'prod', (c) => (c.externalProvider = { ...provider, model: 'm'.repeat(257) }), 'externalProvider.model'],
    ['an external provider with 0 requests in flight', 'prod', (c) => (c.externalProvider = { ...provider, maxConcurrency: 0 }), 'externalProvider.maxConcurrency'],
    ['an external provider with a fractional limit', 'prod', (c) => (c.externalProvider = { ...provider, maxConcurrency: 2.5 }), 'externalProvider.maxConcurrency'],
  );

  it.each(cases)('rejects %s', (_what, base, change, field) => {
    expect(rejectedAt(base, change)).toBe(field);
  });
});

describe('validateEnvironment explains what to change', () => {
  const messageOf = (base: Base, change: (c: Cfg) => void): string => {
    const config = copy(base);
    change(config);
    try {
      validateEnvironment(config as EnvironmentConfig);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('the config was accepted');
  };

  it('reports every GPU type the model does not fit, each with its numbers', () => {
    const message = messageOf('prod', (c) => (c.regions[0].gpu.gpusPerReplica = 1));
    expect(message).toMatch(/does not fit p5en\.48xlarge: .*; .*does not fit p5e\.48xlarge: /);
  });

  it('never repeats a key given where the external provider\'s secret name belongs', () => {
    const key = 'sk-live 0123456789abcdef0123456789abcdef';
    const message = messageOf('prod', (c) => (c.externalProvider = { baseUrl: 'https://api.deepseek.com', apiKeySecretName: key, maxConcurrency: 8 }));
    expect(message).toContain('"sk-live 0123…" is not a Secrets Manager secret name');
    expect(message).not.toContain('0123456789abcdef');
  });

  it('lists the classes an external provider may serve', () => {
    const message = messageOf('prod', (c) => (c.externalProvider = { baseUrl: 'https://api.deepseek.com', apiKeySecretName: 'k', maxConcurrency: 8, classes: ['urgent' as 'low'] }));
    expect(message).toContain('"urgent" is not one of critical, high, medium, low');
  });

  it('lists the retentions CloudWatch Logs accepts', () => {
    expect(messageOf('prod', (c) => (c.logRetentionDays = 2))).toContain(`(${LOG_RETENTION_DAYS.join(', ')})`);
  });

  it('says when min above max comes from the on-demand base, and only there', () => {
    expect(messageOf('prod', (c) => Object.assign(c.regions[0].gpu.onDemand, { min: 5, max: 4, desired: 4 }))).toMatch(/min \(5\) is greater than max \(4\): the on-demand base is above the maximum$/);
    expect(messageOf('prod', (c) => Object.assign(c.regions[0].cpuNodes, { min: 5, max: 4, desired: 4 }))).toMatch(/min \(5\) is greater than max \(4\)$/);
  });
});
