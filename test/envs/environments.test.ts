import { DEFAULT_ENVIRONMENT, ENVIRONMENTS, EnvironmentConfig, EnvironmentConfigError, selectEnvironments, validateEnvironment } from '../../envs';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
type Cfg = Mutable<EnvironmentConfig>;

/** A deep copy of a shipped environment to break in one place. */
const copy = (name: 'dev' | 'staging' | 'prod'): Cfg => structuredClone(ENVIRONMENTS[name]) as Cfg;

function expectConfigError(config: Cfg, field: string, message: RegExp): void {
  let error: unknown;
  try {
    validateEnvironment(config as EnvironmentConfig);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(EnvironmentConfigError);
  const err = error as EnvironmentConfigError;
  expect(err.environment).toBe(config.name);
  expect(err.field).toBe(field);
  expect(err.message).toMatch(message);
  expect(err.message.startsWith(`environment "${config.name}": ${field}: `)).toBe(true);
}

describe('shipped environments', () => {
  it.each(Object.keys(ENVIRONMENTS))('%s is valid', (name) => {
    expect(() => validateEnvironment(ENVIRONMENTS[name])).not.toThrow();
  });

  it('dev is one region, spot-heavy, on local state', () => {
    const dev = ENVIRONMENTS.dev;
    expect(dev.regions).toHaveLength(1);
    const gpu = dev.regions[0].gpu;
    expect(gpu.spot.max).toBeGreaterThan(gpu.onDemand.max);
    expect(dev.backend.type).toBe('local');
  });

  it('staging has two regions and prod three with an on-demand GPU base and S3 state', () => {
    expect(ENVIRONMENTS.staging.regions).toHaveLength(2);
    const prod = ENVIRONMENTS.prod;
    expect(prod.regions.map((r) => r.region)).toEqual(['us-east-1', 'eu-west-1', 'ap-southeast-1']);
    for (const r of prod.regions) expect(r.gpu.onDemand.min).toBeGreaterThan(0);
    expect(prod.backend.type).toBe('s3');
  });
});

describe('selectEnvironments (SURGEGUARD_ENV)', () => {
  it('defaults to dev', () => {
    expect(DEFAULT_ENVIRONMENT).toBe('dev');
    expect(selectEnvironments().map((e) => e.name)).toEqual(['dev']);
  });
  it('selects one environment by name', () => {
    expect(selectEnvironments('prod').map((e) => e.name)).toEqual(['prod']);
  });
  it('selects every environment with "all"', () => {
    expect(selectEnvironments('all').map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
  });
  it('rejects an unknown environment and lists the known ones', () => {
    expect(() => selectEnvironments('qa')).toThrow('SURGEGUARD_ENV: unknown environment "qa" (known: dev, staging, prod, all)');
  });
});

describe('validateEnvironment stops synth with the environment and field named', () => {
  const cases: [string, 'dev' | 'staging' | 'prod', (c: Cfg) => void, string, RegExp][] = [
    ['a name with capitals', 'prod', (c) => (c.name = 'Prod'), 'name', /lower-case/],
    ['a name too long for ELB names', 'prod', (c) => (c.name = 'a-very-long-environment'), 'name', /1-16/],
    ['a domain that is not a domain', 'prod', (c) => (c.domain = 'not a domain'), 'domain', /is not a domain name/],
    ['a single-label domain', 'prod', (c) => (c.domain = 'localhost'), 'domain', /is not a domain name/],
    ['a malformed hosted zone id', 'prod', (c) => (c.hostedZoneId = 'zone-1'), 'hostedZoneId', /not a Route 53 zone id/],
    ['a malformed Kubernetes version', 'prod', (c) => (c.kubernetesVersion = '1.3'), 'kubernetesVersion', /not an EKS version/],
    ['a log retention CloudWatch does not offer', 'prod', (c) => (c.logRetentionDays = 42), 'logRetentionDays', /not a CloudWatch Logs retention/],
    ['a public API CIDR that is not a CIDR', 'prod', (c) => (c.clusterPublicAccessCidrs = ['10.0.0.0']), 'clusterPublicAccessCidrs', /not a CIDR block/],
    ['a cluster admin that is not an IAM principal', 'prod', (c) => (c.clusterAdminPrincipalArns = ['ci-deployer']), 'clusterAdminPrincipalArns', /not an IAM role or user ARN/],
    ['a public API open to the internet', 'prod', (c) => (c.clusterPublicAccessCidrs = ['0.0.0.0/0']), 'clusterPublicAccessCidrs', /whole internet/],
    ['an absolute local state directory', 'dev', (c) => (c.backend = { type: 'local', directory: '/var/state' }), 'backend.directory', /relative path/],
    ['a bad state bucket name', 'prod', (c) => ((c.backend as { bucket: string }).bucket = 'Bad_Bucket'), 'backend.bucket', /not an S3 bucket name/],
    ['an unknown state bucket region', 'prod', (c) => ((c.backend as { region: string }).region = 'mars-1'), 'backend.region', /unknown region "mars-1"/],
    ['zero concurrent sequences', 'prod', (c) => (c.model.maxConcurrentSequences = 0), 'model.maxConcurrentSequences', /at least 1/],
    ['no regions', 'prod', (c) => (c.regions = []), 'regions', /at least one region/],
    ['an unknown region', 'prod', (c) => (c.regions[1].region = 'eu-middle-9'), 'regions[1].region', /unknown region "eu-middle-9"/],
    ['a duplicate region', 'prod', (c) => (c.regions[2].region = 'us-east-1'), 'regions[2].region', /duplicate region "us-east-1"/],
    ['a VPC CIDR that is not a CIDR', 'prod', (c) => (c.regions[0].vpcCidr = '10.30.0.1/16'), 'regions[0].vpcCidr', /not a CIDR block/],
    ['a VPC CIDR too small', 'prod', (c) => (c.regions[0].vpcCidr = '10.30.0.0/24'), 'regions[0].vpcCidr', /between \/16 and \/20/],
    ['overlapping VPC CIDRs across regions', 'prod', (c) => (c.regions[1].vpcCidr = '10.30.16.0/20'), 'regions[1].vpcCidr', /overlaps 10\.30\.0\.0\/16 \(us-east-1\)/],
    ['two zones outside dev', 'prod', (c) => (c.regions[0].azCount = 2), 'regions[0].azCount', /2 is allowed for dev only/],
    ['an empty GPU instance type list', 'prod', (c) => (c.regions[0].gpu.spot.instanceTypes = []), 'regions[0].gpu.spot.instanceTypes', /at least one instance type/],
    ['a malformed instance type', 'prod', (c) => (c.regions[0].cpuNodes.instanceTypes = ['m7i large']), 'regions[0].cpuNodes.instanceTypes', /not an EC2 instance type/],
    ['an instance type listed twice', 'prod', (c) => (c.regions[0].gpu.spot.instanceTypes = ['p5.48xlarge', 'p5.48xlarge']), 'regions[0].gpu.spot.instanceTypes', /listed twice/],
    ['a fractional node count', 'prod', (c) => (c.regions[0].cpuNodes.desired = 3.5), 'regions[0].cpuNodes.desired', /whole number/],
    ['a CPU group with max 0', 'prod', (c) => Object.assign(c.regions[0].cpuNodes, { min: 0, max: 0, desired: 0 }), 'regions[0].cpuNodes.max', /at least 1/],
    ['min above max', 'prod', (c) => Object.assign(c.regions[0].cpuNodes, { min: 5, max: 4, desired: 4 }), 'regions[0].cpuNodes.min', /min \(5\) is greater than max \(4\)/],
    ['the on-demand base above its max', 'prod', (c) => Object.assign(c.regions[0].gpu.onDemand, { min: 5, max: 4, desired: 4 }), 'regions[0].gpu.onDemand.min', /on-demand base is above the maximum/],
    ['desired below min', 'prod', (c) => Object.assign(c.regions[0].gpu.spot, { min: 2, max: 12, desired: 1 }), 'regions[0].gpu.spot.desired', /outside \[min, max\] = \[2, 12\]/],
    ['desired above max', 'staging', (c) => Object.assign(c.regions[1].cpuNodes, { desired: 7 }), 'regions[1].cpuNodes.desired', /outside \[min, max\] = \[3, 6\]/],
    ['no GPU capacity at all', 'prod', (c) => { Object.assign(c.regions[0].gpu.onDemand, { min: 0, max: 0, desired: 0 }); Object.assign(c.regions[0].gpu.spot, { min: 0, max: 0, desired: 0 }); }, 'regions[0].gpu', /no GPU capacity/],
    ['zero GPUs per replica', 'prod', (c) => (c.regions[0].gpu.gpusPerReplica = 0), 'regions[0].gpu.gpusPerReplica', /whole number >= 1/],
    ['zero Redis shards', 'prod', (c) => (c.regions[0].redis.shards = 0), 'regions[0].redis.shards', /between 1 and 500/],
    ['six Redis replicas', 'prod', (c) => (c.regions[0].redis.replicasPerShard = 6), 'regions[0].redis.replicasPerShard', /between 0 and 5/],
    ['no Redis replica outside dev', 'staging', (c) => (c.regions[0].redis.replicasPerShard = 0), 'regions[0].redis.replicasPerShard', /automatic failover needs a replica/],
    ['a snapshot retention above 35 days', 'prod', (c) => (c.regions[0].redis.snapshotRetentionDays = 36), 'regions[0].redis.snapshotRetentionDays', /between 0 and 35/],
    ['a single-instance broker outside dev', 'prod', (c) => (c.regions[0].messageQueue.deploymentMode = 'SINGLE_INSTANCE'), 'regions[0].messageQueue.deploymentMode', /dev only/],
    ['a certificate ARN that is not one', 'prod', (c) => (c.regions[0].certificateArn = 'arn:aws:iam::123456789012:role/x'), 'regions[0].certificateArn', /not an ACM certificate ARN/],
    ['a geolocation override with both continent and country', 'prod', (c) => (c.geolocationOverrides = [{ continent: 'EU', country: 'DE', region: 'eu-west-1' }]), 'geolocationOverrides[0]', /exactly one of continent or country/],
    ['a geolocation override to a region not in the environment', 'prod', (c) => (c.geolocationOverrides = [{ country: 'JP', region: 'ap-northeast-1' }]), 'geolocationOverrides[0].region', /not one of the environment's regions/],
    ['no API keys outside dev', 'prod', (c) => (c.apiKeys = []), 'apiKeys', /at least one API key outside dev/],
    ['an API key given in clear instead of its hash', 'staging', (c) => ((c.apiKeys![0] as { sha256: string }).sha256 = 'sk-live-123'), 'apiKeys[0].sha256', /never the key itself/],
    ['two API keys with one name', 'prod', (c) => (c.apiKeys = [c.apiKeys![0], c.apiKeys![0]]), 'apiKeys[1].name', /duplicate key name/],
    ['an API key tier that is not a class', 'prod', (c) => ((c.apiKeys![0] as { tier: string }).tier = 'urgent'), 'apiKeys[0].tier', /not one of critical, high, medium, low/],
    ['an API key quota of no requests', 'prod', (c) => (c.apiKeys = [{ ...c.apiKeys![0], rateLimit: { requestsPerSecond: 0, burst: 10 } }]), 'apiKeys[0].rateLimit.requestsPerSecond', /positive number/],
    ['an API key quota with a burst below one request', 'prod', (c) => (c.apiKeys = [{ ...c.apiKeys![0], rateLimit: { requestsPerSecond: 5, burst: 0.5 } }]), 'apiKeys[0].rateLimit.burst', /at least 1 request/],
  ];

  it.each(cases)('rejects %s', (_what, base, mutate, field, message) => {
    const config = copy(base);
    mutate(config);
    expectConfigError(config, field, message);
  });

  it('accepts two zones, a single NAT, no Redis replica and a single broker in dev', () => {
    const config = copy('dev');
    expect(config.regions[0].azCount).toBe(2);
    expect(config.regions[0].redis.replicasPerShard).toBe(0);
    expect(() => validateEnvironment(config as EnvironmentConfig)).not.toThrow();
  });

  it('accepts adjacent, non-overlapping VPC CIDRs', () => {
    const config = copy('prod');
    config.regions[1].vpcCidr = '10.29.0.0/16';
    expect(() => validateEnvironment(config as EnvironmentConfig)).not.toThrow();
  });
});
