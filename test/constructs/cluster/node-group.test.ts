import { Construct } from 'constructs';
import { CAPACITY_LABEL, GPU_ACCELERATOR_LABEL, GPU_TAINT, NODE_POOL_LABEL, NodeGroup, NodeGroupProps } from '../../../constructs/cluster/node-group';
import { synthConstruct } from '../../support/synth';

type Resources = Record<string, Record<string, Record<string, any>>>;

function synth(build: (scope: Construct) => void): Resources {
  return synthConstruct(build).resource as Resources;
}

const gpu: NodeGroupProps = {
  clusterName: 'c1',
  namePrefix: 'c1',
  nodeRoleArn: 'arn:aws:iam::123456789012:role/c1-node',
  subnetIds: ['subnet-a', 'subnet-b'],
  size: { instanceTypes: ['g5.12xlarge', 'g6.12xlarge'], min: 0, max: 4, desired: 0 },
  capacityType: 'SPOT',
  amiType: 'AL2023_x86_64_NVIDIA',
  volumeGiB: 500,
  gpu: true,
  tags: { team: 'ml' },
};

describe('NodeGroup', () => {
  it('creates a launch template `<id>-lt` and a node group `<id>` in the given scope, named `<prefix>-<id>`', () => {
    const r = synth((s) => new NodeGroup(s, 'gpu-spot', gpu));
    expect(Object.keys(r.aws_launch_template)).toEqual(['gpu-spot-lt']);
    expect(Object.keys(r.aws_eks_node_group)).toEqual(['gpu-spot']);
    expect(r.aws_eks_node_group['gpu-spot']).toMatchObject({ node_group_name: 'c1-gpu-spot', capacity_type: 'SPOT', tags: { team: 'ml', Name: 'c1-gpu-spot' } });
  });

  it('requires IMDSv2 with a hop limit of 1 and encrypts the root volume', () => {
    const lt = synth((s) => new NodeGroup(s, 'gpu-spot', gpu)).aws_launch_template['gpu-spot-lt'];
    expect(lt.metadata_options).toMatchObject({ http_tokens: 'required', http_put_response_hop_limit: 1 });
    expect(lt.block_device_mappings[0].ebs).toMatchObject({ encrypted: 'true', volume_type: 'gp3', volume_size: 500 });
  });

  it('labels and taints GPU nodes, labels CPU nodes, and leaves the node count to the autoscaler', () => {
    const g = synth((s) => new NodeGroup(s, 'gpu-spot', gpu)).aws_eks_node_group['gpu-spot'];
    // The accelerator label tells the Cluster Autoscaler to wait for the device plugin on a new GPU node.
    expect(g.labels).toEqual({ [NODE_POOL_LABEL]: 'gpu', [CAPACITY_LABEL]: 'spot', [GPU_ACCELERATOR_LABEL]: 'nvidia' });
    expect(g.taint).toEqual([GPU_TAINT]);
    expect(g.lifecycle.ignore_changes).toEqual(['scaling_config[0].desired_size']);
    const c = synth((s) => new NodeGroup(s, 'cpu', { ...gpu, capacityType: 'ON_DEMAND', gpu: false })).aws_eks_node_group.cpu;
    expect(c.labels).toEqual({ [NODE_POOL_LABEL]: 'cpu', [CAPACITY_LABEL]: 'on-demand' });
    expect(c.taint).toBeUndefined();
  });
});
