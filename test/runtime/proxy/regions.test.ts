import { homeRegionOf, isJobId, newJobId } from '../../../runtime/jobs/model';
import { validateConfig } from '../../../runtime/common/config/load';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { readinessPools, RegionsConfig, RegionsSchema, registrarRegion, routeJob } from '../../../runtime/proxy/regions';

const regions: RegionsConfig = RegionsSchema.parse({
  self: 'eu-west-1',
  peers: { 'us-east-1': { url: 'https://us-east-1.api.example.com' }, 'ap-southeast-1': { url: 'https://ap-southeast-1.api.example.com' } },
});

describe('region-aware job ids', () => {
  it('name their home region before an unchanged 128-bit random part', () => {
    const id = newJobId('eu-west-1');
    expect(id).toMatch(/^eu-west-1\.[A-Za-z0-9_-]{22}$/);
    expect(homeRegionOf(id)).toBe('eu-west-1');
    expect(isJobId(id)).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newJobId('eu-west-1'))).size).toBe(1000);
  });

  it('stay valid without a region (single-region deployments and jobs queued before the upgrade)', () => {
    const id = newJobId();
    expect(isJobId(id)).toBe(true);
    expect(homeRegionOf(id)).toBeUndefined();
  });

  it('refuse a home region that is not a region name', () => {
    expect(() => newJobId('EU west')).toThrow('not a region name');
    expect(isJobId('EU.AAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
    expect(isJobId('eu-west-1.short')).toBe(false);
  });
});

describe('where a job request is answered', () => {
  it('here for a job of this region or without a region', () => {
    expect(routeJob(newJobId('eu-west-1'), regions, false)).toEqual({ kind: 'local' });
    expect(routeJob(newJobId(), regions, false)).toEqual({ kind: 'local' });
  });

  it('at the home region endpoint for a job of a peer', () => {
    expect(routeJob(newJobId('us-east-1'), regions, false)).toEqual({ kind: 'forward', region: 'us-east-1', url: 'https://us-east-1.api.example.com' });
  });

  it('here when a peer already forwarded it (no loops)', () => {
    expect(routeJob(newJobId('us-east-1'), regions, true)).toEqual({ kind: 'local' });
  });

  it('nowhere for a region the environment does not have', () => {
    expect(routeJob(newJobId('sa-east-1'), regions, false)).toEqual({ kind: 'unknown-region', region: 'sa-east-1' });
  });
});

describe('the registrar region of an Idempotency-Key', () => {
  it('is the same whichever region computes it', () => {
    const fromUs = RegionsSchema.parse({ self: 'us-east-1', peers: { 'eu-west-1': { url: 'https://e' }, 'ap-southeast-1': { url: 'https://a' } } });
    for (let i = 0; i < 50; i++) expect(registrarRegion(fromUs, 'owner', `key-${i}`)).toBe(registrarRegion(regions, 'owner', `key-${i}`));
  });

  it('spreads keys over every region', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const r = registrarRegion(regions, 'owner', `key-${i}`);
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['ap-southeast-1', 'eu-west-1', 'us-east-1']);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800);
  });
});

describe('readiness pools', () => {
  const pools = {
    local: { upstreams: [{ url: 'http://m:8000', region: 'eu-west-1' }] },
    spill: { upstreams: [{ url: 'https://us-east-1.api.example.com', region: 'us-east-1' }] },
    external: { upstreams: [{ url: 'https://api.provider.example' }] },
  };
  const config = (r: unknown) =>
    validateConfig(ProxyConfigSchema, { auth: 'none', pools, routes: [{ model: 'm', pools: ['local', 'spill', 'external'] }], ...(r ? { regions: r } : {}) }, 'proxy.yaml');

  it('are the pools with an upstream of this region: spill and external pools do not keep a region ready', () => {
    const c = config({ self: 'eu-west-1' });
    expect(readinessPools(c.pools, c.regions)).toEqual(['local']);
  });

  it('are every pool in a single-region config', () => {
    const c = config(undefined);
    expect(readinessPools(c.pools, c.regions)).toEqual(['local', 'spill', 'external']);
  });

  it('must exist: a config whose region has no pool of its own is refused, naming the field', () => {
    expect(() => config({ self: 'ap-southeast-1' })).toThrow(/regions\.self.*no pool has an upstream of region "ap-southeast-1"/s);
  });

  it('exclude this region from its peers', () => {
    expect(() => config({ self: 'eu-west-1', peers: { 'eu-west-1': { url: 'https://x' } } })).toThrow(/regions\.peers\.eu-west-1/);
  });
});
