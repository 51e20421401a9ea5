/**
 * surgeguard's construct library. Compose these in your own stacks (see examples/ and the README).
 * Import providers deeply in your code too (`@cdktf/provider-aws/lib/<resource>`), never the barrel.
 */
export * from './network/network';
export * from './cluster/inference-cluster';
export * from './cluster/node-group';
export * from './cluster/spot-interruption-queue';
export * from './entry/regional-load-balancer';
export * from './gslb/global-traffic-manager';
export * from './cluster/node-termination-handler';
export * from './data/generated-secret';
export * from './data/redis-cluster';
export * from './data/message-queue';
export * from './monitoring/monitoring';
export * from './monitoring/cluster-monitoring';
export * from './workloads/names';
export * from './workloads/cell-policies';
export * from './workloads/model-server';
export * from './workloads/runtime-workload';
export * from './workloads/inference-workloads';
export * from './workloads/weights-staging';
export * from './workloads/runtime-configs';
export * from './addons';
