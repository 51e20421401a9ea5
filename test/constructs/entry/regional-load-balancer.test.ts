import { DEFAULT_SSL_POLICY, RegionalLoadBalancer, RegionalLoadBalancerProps } from '../../../constructs/entry/regional-load-balancer';
import { PROXY_CONTRACT } from '../../../contract/service';
import { onlyResource, resourceList, resources, synthConstruct, TfJson } from '../../support/synth';

const base: RegionalLoadBalancerProps = {
  name: 'prod-use1',
  vpcId: 'vpc-1',
  publicSubnetIds: ['pub-a', 'pub-b', 'pub-c'],
  privateSubnetIds: ['priv-a', 'priv-b', 'priv-c'],
  domainName: 'api.example.com',
  hostedZoneId: 'Z123EXAMPLE',
  regionalDomainName: 'us-east-1.api.example.com',
  targetSecurityGroupId: 'sg-nodes',
  targetAutoScalingGroupNames: ['asg-cpu'],
};
const synth = (props: Partial<RegionalLoadBalancerProps> = {}) => synthConstruct((s) => new RegionalLoadBalancer(s, 'lb', { ...base, ...props }));
const lbOfType = (tf: TfJson, type: string) => Object.entries(resources(tf, 'aws_lb')).find(([, lb]) => lb.load_balancer_type === type)!;
const ref = (type: string, id: string, attr: string) => `\${${type}.${id}.${attr}}`;

describe('RegionalLoadBalancer', () => {
  it('puts a public NLB with one Elastic IP per zone in front of an internal ALB', () => {
    const tf = synth();
    const [, nlb] = lbOfType(tf, 'network');
    expect(nlb).toMatchObject({ internal: false, enable_cross_zone_load_balancing: true, enable_deletion_protection: false });
    const eips = Object.keys(resources(tf, 'aws_eip'));
    expect(nlb.subnet_mapping).toEqual(
      ['pub-a', 'pub-b', 'pub-c'].map((subnet_id, i) => ({ subnet_id, allocation_id: ref('aws_eip', eips[i], 'allocation_id') })),
    );
    const [albId, alb] = lbOfType(tf, 'application');
    expect(alb).toMatchObject({ internal: true, subnets: ['priv-a', 'priv-b', 'priv-c'], drop_invalid_header_fields: true });
    const albTargets = resourceList(tf, 'aws_lb_target_group').filter((tg) => tg.target_type === 'alb');
    expect(albTargets.map((tg) => [tg.protocol, tg.port])).toEqual([['TCP', 443], ['TCP', 80]].sort((a, b) => Number(a[1]) - Number(b[1])).reverse());
    for (const a of resourceList(tf, 'aws_lb_target_group_attachment')) expect(a.target_id).toBe(ref('aws_lb', albId, 'arn'));
    const nlbListeners = resourceList(tf, 'aws_lb_listener').filter((l) => l.protocol === 'TCP');
    expect(nlbListeners.map((l) => l.port).sort()).toEqual([443, 80].sort());
  });

  it('terminates TLS on the ALB with a TLS 1.3 policy and a DNS-validated certificate', () => {
    const tf = synth();
    const https = resourceList(tf, 'aws_lb_listener').find((l) => l.protocol === 'HTTPS');
    expect(https.ssl_policy).toBe(DEFAULT_SSL_POLICY);
    expect(DEFAULT_SSL_POLICY).toBe('ELBSecurityPolicy-TLS13-1-2-2021-06');
    const validationId = Object.keys(resources(tf, 'aws_acm_certificate_validation'))[0];
    expect(https.certificate_arn).toBe(ref('aws_acm_certificate_validation', validationId, 'certificate_arn'));
    expect(onlyResource(tf, 'aws_acm_certificate')).toMatchObject({
      domain_name: 'api.example.com',
      subject_alternative_names: ['us-east-1.api.example.com'],
      validation_method: 'DNS',
    });
    const validationRecord = Object.values(resources(tf, 'aws_route53_record')).find((r) => r.for_each);
    expect(validationRecord).toMatchObject({ zone_id: 'Z123EXAMPLE', allow_overwrite: true });
  });

  it('uses a given certificate instead of requesting one', () => {
    const arn = 'arn:aws:acm:us-east-1:123456789012:certificate/0b3c0b6e-1111-2222-3333-444455556666';
    const tf = synth({ certificateArn: arn, hostedZoneId: undefined, regionalDomainName: undefined });
    expect(resources(tf, 'aws_acm_certificate')).toEqual({});
    expect(resourceList(tf, 'aws_lb_listener').find((l) => l.protocol === 'HTTPS').certificate_arn).toBe(arn);
  });

  it('redirects HTTP to HTTPS', () => {
    const http = resourceList(synth(), 'aws_lb_listener').find((l) => l.protocol === 'HTTP');
    expect(http.port).toBe(80);
    expect(http.default_action).toEqual([{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', status_code: 'HTTP_301' } }]);
  });

  it('routes the public API paths to the proxy NodePort and answers 404 for anything else', () => {
    const tf = synth();
    const [tgId, proxy] = Object.entries(resources(tf, 'aws_lb_target_group')).find(([, tg]) => tg.target_type === 'instance')!;
    expect(proxy).toMatchObject({ protocol: 'HTTP', port: PROXY_CONTRACT.nodePort, load_balancing_algorithm_type: 'least_outstanding_requests' });
    expect(proxy.health_check).toMatchObject({ path: PROXY_CONTRACT.readyPath, matcher: '200', protocol: 'HTTP' });
    expect(proxy.stickiness).toEqual({ type: 'lb_cookie', enabled: false });
    const rule = onlyResource(tf, 'aws_lb_listener_rule');
    expect(rule.condition).toEqual([{ path_pattern: { values: ['/v1/*', '/healthz', '/readyz'] } }]);
    expect(rule.action).toEqual([{ type: 'forward', target_group_arn: ref('aws_lb_target_group', tgId, 'arn') }]);
    const https = resourceList(tf, 'aws_lb_listener').find((l) => l.protocol === 'HTTPS');
    expect(https.default_action[0]).toMatchObject({ type: 'fixed-response', fixed_response: { status_code: '404' } });
    expect(onlyResource(tf, 'aws_autoscaling_attachment')).toEqual({
      autoscaling_group_name: 'asg-cpu',
      lb_target_group_arn: ref('aws_lb_target_group', tgId, 'arn'),
    });
  });

  it('turns on cookie stickiness and splits many paths into rules of five', () => {
    const paths = ['/a', '/b', '/c', '/d', '/e', '/f'];
    const tf = synth({ stickinessDurationSeconds: 3600, publicPathPatterns: paths });
    const proxy = resourceList(tf, 'aws_lb_target_group').find((tg) => tg.target_type === 'instance');
    expect(proxy.stickiness).toEqual({ type: 'lb_cookie', enabled: true, cookie_duration: 3600 });
    const rules = resourceList(tf, 'aws_lb_listener_rule');
    expect(rules.map((r) => r.condition[0].path_pattern.values)).toEqual([paths.slice(0, 5), paths.slice(5)]);
    expect(rules.map((r) => r.priority)).toEqual([100, 101]);
  });

  it('lets traffic flow internet -> NLB -> ALB -> proxy NodePort only', () => {
    const tf = synth();
    const sgs = resources(tf, 'aws_security_group');
    const albSg = Object.keys(sgs).find((k) => sgs[k].name === 'prod-use1-alb')!;
    const nlbSg = Object.keys(sgs).find((k) => sgs[k].name === 'prod-use1-nlb')!;
    const ingress = resourceList(tf, 'aws_vpc_security_group_ingress_rule');
    const toProxy = ingress.find((r) => r.security_group_id === 'sg-nodes');
    expect(toProxy).toMatchObject({ from_port: 30080, to_port: 30080, referenced_security_group_id: ref('aws_security_group', albSg, 'id') });
    const toAlb = ingress.filter((r) => r.security_group_id === ref('aws_security_group', albSg, 'id'));
    expect(toAlb.map((r) => r.referenced_security_group_id)).toEqual([ref('aws_security_group', nlbSg, 'id'), ref('aws_security_group', nlbSg, 'id')]);
    expect(toAlb.some((r) => r.cidr_ipv4)).toBe(false);
  });

  it('writes access logs to a private, encrypted, TLS-only bucket', () => {
    const tf = synth();
    const [, alb] = lbOfType(tf, 'application');
    const bucketId = Object.keys(resources(tf, 'aws_s3_bucket'))[0];
    expect(alb.access_logs).toEqual({ bucket: ref('aws_s3_bucket', bucketId, 'id'), prefix: 'alb', enabled: true });
    expect(onlyResource(tf, 'aws_s3_bucket_server_side_encryption_configuration').rule).toEqual([
      { apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' } },
    ]);
    expect(onlyResource(tf, 'aws_s3_bucket_public_access_block')).toMatchObject({ block_public_acls: true, block_public_policy: true, restrict_public_buckets: true });
    const policy = Object.values(tf.data!.aws_iam_policy_document)[0] as any;
    expect(policy.statement.find((s: any) => s.sid === 'DenyInsecureTransport').condition).toEqual([
      { test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] },
    ]);
  });

  it('protects both load balancers from deletion when asked (prod)', () => {
    const tf = synth({ deletionProtection: true });
    for (const lb of resourceList(tf, 'aws_lb')) expect(lb.enable_deletion_protection).toBe(true);
    expect(onlyResource(tf, 'aws_s3_bucket').force_destroy).toBe(false);
  });

  it.each([
    [{ certificateArn: undefined, hostedZoneId: undefined, regionalDomainName: undefined }, 'certificateArn or hostedZoneId must be set'],
    [{ hostedZoneId: undefined, certificateArn: 'arn:x' }, 'regionalDomainName needs hostedZoneId'],
    [{ sslPolicy: 'ELBSecurityPolicy-2016-08' }, 'sslPolicy "ELBSecurityPolicy-2016-08" must be a TLS 1.3 policy'],
    [{ name: 'a-name-that-is-far-too-long-for-elb' }, 'name "a-name-that-is-far-too-long-for-elb" must be 1-24 lower-case letters'],
    [{ stickinessDurationSeconds: 0 }, 'stickinessDurationSeconds 0 must be 1-604800'],
    [{ publicSubnetIds: ['pub-a'] }, 'publicSubnetIds must list at least two zones'],
    [{ publicPathPatterns: [] }, 'publicPathPatterns must list at least one pattern'],
  ])('rejects invalid props %j', (override, message) => {
    expect(() => synth(override)).toThrow(`RegionalLoadBalancer lb: ${message}`);
  });
});
