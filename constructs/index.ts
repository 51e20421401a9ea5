/**
 * surgeguard's construct library. Compose these in your own stacks (see examples/ and the README).
 * Import providers deeply in your code too (`@cdktf/provider-aws/lib/<resource>`), never the barrel.
 */
export * from './network';
export * from './inference-cluster';
export * from './regional-load-balancer';
export * from './global-traffic-manager';
export * from './node-termination-handler';
export * from './generated-secret';
export * from './redis-cluster';
export * from './message-queue';
export * from './monitoring';
export * from './cluster-monitoring';
export * from './inference-workloads';
export * from './runtime-configs';
