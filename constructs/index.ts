/**
 * surgeguard's construct library: the package entry `surgeguard/constructs` (docs/library.md).
 * Compose these in your own stacks (see examples/). Everything a consumer may use is exported here;
 * nothing else of the package is reachable (package.json `exports`).
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
export * from './data/existing-secret';
export * from './data/redis-cluster';
export * from './data/message-queue';
export * from './monitoring/monitoring';
export * from './monitoring/cluster-monitoring';
export * from './monitoring/container-logs';
export * from './workloads/names';
export * from './workloads/cell-policies';
export * from './workloads/model-server';
export * from './workloads/runtime-workload';
export * from './workloads/inference-workloads';
export * from './workloads/weights-staging';
export * from './workloads/runtime-configs';
export * from './addons';
export * from './data/model-weights-bucket';
export * from './artifacts/artifact-store';
export * from './artifacts/runtime-artifact-objects';
export * from './artifacts/runtime-artifacts';
// What the constructs and the runtimes agree on, for consumers wiring roles, secrets and names.
export { PROXY_CONTRACT, WORKER_CONTRACT, MODEL_SERVER_CONTRACT, NAMESPACES, WORKLOAD_NAMES } from '../contract/service';
export { CROSS_REGION_KEY_NAME, RUNTIME_SECRET_ENV, type RuntimeSecretEnv } from '../contract/secrets';
export { PRIORITY_CLASSES, type PriorityClass } from '../contract/priority';
