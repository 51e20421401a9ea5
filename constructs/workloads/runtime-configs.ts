import { FAILOVER_BUDGET } from '../../contract/failover-budget';
import { PRIORITY_CLASSES, PriorityClass } from '../../contract/priority';
import { JOB_QUEUE_TOPOLOGY } from '../../contract/queue-topology';
import { RUNTIME_SECRET_ENV } from '../../contract/secrets';
import { REDIS_PORT } from '../data/redis-cluster';

/** What the runtime config files of one cell are made from. */
export interface RuntimeConfigInputs {
  /** Model name clients send. */
  readonly modelName: string;
  /** In-cluster URL of the model servers (headless Service). */
  readonly modelServerUrl: string;
  /** Redis cluster-mode configuration endpoint. */
  readonly redisHost: string;
  /**
   * Replicas per Redis shard: with any, the worker acks a job only once a replica has its result
   * (WAIT 1), so a failover right after the ack cannot lose it.
   * @default 0
   */
  readonly redisReplicasPerShard?: number;
  /** Region label of the cell's upstreams, and the home region its job ids name. */
  readonly region: string;
  /**
   * The environment's other regions and their regional endpoints (https://<region>.<domain>):
   * rendered as the proxy's `regions.peers` (forwarded job polls, cross-region Idempotency-Key).
   * @default [] (one region)
   */
  readonly peerRegions?: readonly { readonly region: string; readonly url: string }[];
  /**
   * Accepted API keys (SHA-256 of each key, owner, tier).
   * @default - no authentication (development only)
   */
  readonly apiKeys?: readonly { readonly name: string; readonly sha256: string; readonly tier: string }[];
  /** Seconds between SIGTERM and the kill of a worker pod; the worker gives back jobs 15 s earlier. */
  readonly workerDrainSeconds: number;
}

const POOL = 'model-servers';

function redis(i: RuntimeConfigInputs) {
  return { host: i.redisHost, port: REDIS_PORT, tls: true, cluster: true, password: { fromEnv: RUNTIME_SECRET_ENV.redisAuthToken } };
}

function amqp() {
  return { url: { fromEnv: RUNTIME_SECRET_ENV.amqpUrl }, topologyPrefix: JOB_QUEUE_TOPOLOGY.exchange.replace(/\.jobs$/, '') };
}

function pool(i: RuntimeConfigInputs) {
  const h = FAILOVER_BUDGET.proxyUpstream;
  // The proxy's readiness turns on these checks: part of the failover budget (contract/failover-budget.ts).
  return {
    upstreams: [{ url: i.modelServerUrl, name: 'model-server', region: i.region }],
    health: { intervalMs: h.intervalSeconds * 1000, timeoutMs: h.timeoutSeconds * 1000, unhealthyThreshold: h.unhealthyThreshold, healthyThreshold: h.healthyThreshold },
  };
}

/** The proxy's config file (runtime/proxy/config.ts schema) for one cell. Throws naming a malformed API key. */
export function proxyRuntimeConfig(i: RuntimeConfigInputs): Record<string, unknown> {
  (i.apiKeys ?? []).forEach((k, n) => {
    // Checked at synth: the proxy would otherwise refuse its config at start, in every pod.
    if (!/^[0-9a-f]{64}$/.test(k.sha256)) throw new Error(`apiKeys[${n}].sha256: must be the lower-case hex SHA-256 of the key (64 characters), not the key`);
    if (!PRIORITY_CLASSES.includes(k.tier as PriorityClass)) throw new Error(`apiKeys[${n}].tier: "${k.tier}" is not one of ${PRIORITY_CLASSES.join(', ')}`);
  });
  return {
    auth: i.apiKeys && i.apiKeys.length > 0 ? { keys: i.apiKeys.map((k) => ({ ...k })) } : 'none',
    pools: { [POOL]: pool(i) },
    routes: [{ model: i.modelName, pools: [POOL] }],
    redis: redis(i),
    jobs: { amqp: amqp() },
    regions: { self: i.region, peers: Object.fromEntries((i.peerRegions ?? []).map((p) => [p.region, { url: p.url }])) },
  };
}

/** The worker's config file (runtime/worker/config.ts schema) for one cell. */
export function workerRuntimeConfig(i: RuntimeConfigInputs): Record<string, unknown> {
  return {
    amqp: amqp(),
    redis: redis(i),
    upstream: pool(i),
    drainTimeoutMs: Math.max(i.workerDrainSeconds - 15, 5) * 1000,
    ...((i.redisReplicasPerShard ?? 0) > 0 ? { resultDurability: { replicas: 1, timeoutMs: 1_000 } } : {}),
  };
}
