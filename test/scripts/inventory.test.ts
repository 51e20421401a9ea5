import { compareInventory, hashBlock, inventoryOf, parseInventory, renderInventory } from '../../scripts/inventory';

const meta = (path: string) => ({ '//': { metadata: { path, uniqueId: 'x' } } });
const stack = () => ({
  provider: { aws: [{ region: 'us-east-1' }] },
  resource: {
    aws_sqs_queue: { q_ABC: { ...meta('s/q'), name: 'jobs', message_retention_seconds: 60 } },
    aws_vpc: { vpc: { ...meta('s/vpc'), cidr_block: '10.0.0.0/16' } },
  },
  data: { aws_caller_identity: { me: { ...meta('s/me') } } },
  output: { vpc_id: { value: '${aws_vpc.vpc.id}' } },
  terraform: { required_providers: { aws: { version: '5.100.0' } } },
});

describe('resource inventories', () => {
  it('lists every block of a stack by address, sorted, with the construct path of resources and data sources', () => {
    expect(inventoryOf(stack()).map((e) => [e.address, e.path])).toEqual([
      ['data aws_caller_identity.me', 's/me'],
      ['output vpc_id', undefined],
      ['provider aws', undefined],
      ['resource aws_sqs_queue.q_ABC', 's/q'],
      ['resource aws_vpc.vpc', 's/vpc'],
      ['terraform', undefined],
    ]);
  });

  it('hashes content independently of key order', () => {
    expect(hashBlock({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(hashBlock({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(hashBlock({ a: 1 })).not.toBe(hashBlock({ a: 2 }));
  });

  it('round-trips through the committed text and finds no difference against the same synth', () => {
    const text = renderInventory('s', stack());
    expect(parseInventory(text)).toHaveLength(6);
    expect(compareInventory('s', text, stack())).toEqual([]);
  });

  it('names a changed resource and shows its new content', () => {
    const text = renderInventory('s', stack());
    const changed = stack();
    changed.resource.aws_sqs_queue.q_ABC.message_retention_seconds = 120;
    const problems = compareInventory('s', text, changed);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^stack s: changed resource aws_sqs_queue\.q_ABC \(s\/q\), now:/);
    expect(problems[0]).toContain('"message_retention_seconds": 120');
  });

  it('names added and removed blocks (a moved construct shows as both)', () => {
    const text = renderInventory('s', stack());
    const moved = stack() as any;
    moved.resource.aws_vpc = { network_vpc_123: { ...meta('s/network/vpc'), cidr_block: '10.0.0.0/16' } };
    delete moved.output.vpc_id;
    const problems = compareInventory('s', text, moved);
    expect(problems).toEqual([
      expect.stringMatching(/^stack s: added resource aws_vpc\.network_vpc_123 \(s\/network\/vpc\)/),
      'stack s: removed output vpc_id',
      'stack s: removed resource aws_vpc.vpc (s/vpc)',
    ]);
  });

  it('reports a stack that has no committed inventory', () => {
    expect(compareInventory('new-stack', undefined, stack())).toEqual(['stack new-stack: no committed inventory']);
  });
});
