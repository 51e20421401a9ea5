import { ENVIRONMENTS, validateEnvironment } from '../../envs';
import { devApiCidrs } from '../../envs/dev';

describe("dev's Kubernetes API allow-list (dev has local state, hence no in-VPC deploy runner)", () => {
  it('reads comma-separated CIDRs from SURGEGUARD_DEV_API_CIDRS and keeps the endpoint private when unset', () => {
    expect(devApiCidrs(undefined)).toEqual([]);
    expect(devApiCidrs('')).toEqual([]);
    expect(devApiCidrs(' 203.0.113.7/32, 198.51.100.0/28 ,')).toEqual(['203.0.113.7/32', '198.51.100.0/28']);
  });

  it('stops synth naming the field when an allow-listed entry is not a CIDR or opens the API to everyone', () => {
    const dev = ENVIRONMENTS.dev;
    expect(() => validateEnvironment({ ...dev, clusterPublicAccessCidrs: devApiCidrs('203.0.113.7') })).toThrow(/clusterPublicAccessCidrs.*"203.0.113.7" is not a CIDR block/);
    expect(() => validateEnvironment({ ...dev, clusterPublicAccessCidrs: devApiCidrs('0.0.0.0/0') })).toThrow(/clusterPublicAccessCidrs.*whole internet/);
    expect(() => validateEnvironment({ ...dev, clusterPublicAccessCidrs: devApiCidrs('203.0.113.7/32') })).not.toThrow();
  });
});
