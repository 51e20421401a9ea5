import type { z } from 'zod';
import { FAILOVER_BUDGET } from '../../contract/failover-budget';
import { PRIORITY_CLASSES, PriorityClass } from '../../contract/priority';
import type { PoolSchema } from '../../runtime/common/config/upstream';
import { ProxyConfigSchema, type ProxyConfigInput } from '../../runtime/proxy/config';
import { WorkerConfigSchema } from '../../runtime/worker/config';
import { JOB_QUEUE_TOPOLOGY } from '../../contract/queue-topology';
import { RUNTIME_SECRET_ENV } from '../../contract/secrets';
import { WORKER_CONTRACT } from '../../contract/service';
import { REDIS_PORT } from '../data/redis-cluster';

/** What the runtime config files of one cell are made from. */
export interface RuntimeConfigInputs {
  /** Model name clients send. */
  readonly modelName: string;
  /** In-cluster URL of the model servers' headless Service: each address it resolves to is one pod, one pool member. */
  readonly modelServerUrl: string;
  /** Sequences one model-server pod serves at once (`--max-num-seqs`): each member's slots. */
  readonly modelServerSlots: number;
  /**
   * Regional endpoints of the environment's other regions (`https://<region>.<domain>`), in
   * preference order: where a saturated cell spills.
   * @default - none (a single-region environment)
   */
  readonly otherRegions?: readonly { readonly region: string; readonly url: string }[];
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
   * Accepted API keys (SHA-256 of each key, owner, tier, optional request quota). A key without
   * a `rateLimit` is rendered `rateLimit: none`: the proxy's built-in per-key default (10 req/s,
   * burst 20, meant for a hand-written config's tenants) would cap a whole application's key far
   * below the cell's capacity and answer 429 while the model servers sit idle.
   * @default - no authentication (development only)
   */
  readonly apiKeys?: readonly { readonly name: string; readonly sha256: string; readonly tier: string; readonly rateLimit?: { readonly requestsPerSecond: number; readonly burst: number } }[];
  /** Seconds between SIGTERM and the kill of a worker pod; the worker gives back jobs `WORKER_CONTRACT.drainMarginSeconds` earlier. */
  readonly workerDrainSeconds: number;
}

const POOL = 'model-servers';

function redis(i: RuntimeConfigInputs) {
  return { host: i.redisHost, port: REDIS_PORT, tls: true, cluster: true, password: { fromEnv: RUNTIME_SECRET_ENV.redisAuthToken } };
}

function amqp() {
  return { url: { fromEnv: RUNTIME_SECRET_ENV.amqpUrl }, topologyPrefix: JOB_QUEUE_TOPOLOGY.exchange.replace(/\.jobs$/, '') };
}

type PoolInput = z.input<typeof PoolSchema>;
/** What the worker's config file holds (runtime/worker/config.ts schema). */
export type WorkerConfigInput = z.input<typeof WorkerConfigSchema>;
export type { ProxyConfigInput };

/** The cell's model servers: one member per pod of the headless Service, each with its slots. */
function modelServers(i: RuntimeConfigInputs): PoolInput {
  const h = FAILOVER_BUDGET.proxyUpstream;
  return {
    discover: [{ url: i.modelServerUrl, region: i.region, slots: i.modelServerSlots, intervalMs: 5_000 }],
    // The proxy's readiness turns on these checks: part of the failover budget (contract/failover-budget.ts).
    health: { intervalMs: h.intervalSeconds * 1000, timeoutMs: h.timeoutSeconds * 1000, unhealthyThreshold: h.unhealthyThreshold, healthyThreshold: h.healthyThreshold },
  };
}

type ApiKeyInput = Exclude<ProxyConfigInput['auth'], 'none' | undefined>['keys'][number];

/** One API key of the proxy config: its quota when the environment sets one, else `none` (see `apiKeys`). */
function renderedKey(k: NonNullable<RuntimeConfigInputs['apiKeys']>[number]): ApiKeyInput {
  return {
    name: k.name,
    sha256: k.sha256,
    tier: k.tier as PriorityClass,
    rateLimit: k.rateLimit ? { ratePerSecond: k.rateLimit.requestsPerSecond, burst: k.rateLimit.burst } : 'none',
  };
}

/** Pool name of another region's regional endpoint. */
export function regionPoolName(region: string): string {
  return `region-${region}`;
}

/** Validates a rendered config with the runtime's own schema; synth stops naming the field. */
function validated<S extends z.ZodType>(schema: S, config: z.input<S>, what: string): z.input<S> {
  const r = schema.safeParse(config);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${what}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return config;
}

/**
 * The proxy's config file for one cell: the local model servers (one member per pod, slots from
 * `--max-num-seqs`), then the environment's other regions through their regional endpoints, as
 * one route; every pool guarded by admission, whose limit follows the members' slots and is
 * shared among the proxy replicas through Redis. Validated with the proxy's schema. Throws
 * naming a malformed API key.
 */
export function proxyRuntimeConfig(i: RuntimeConfigInputs): ProxyConfigInput {
  (i.apiKeys ?? []).forEach((k, n) => {
    // Checked at synth: the proxy would otherwise refuse its config at start, in every pod.
    if (!/^[0-9a-f]{64}$/.test(k.sha256)) throw new Error(`apiKeys[${n}].sha256: must be the lower-case hex SHA-256 of the key (64 characters), not the key`);
    if (!PRIORITY_CLASSES.includes(k.tier as PriorityClass)) throw new Error(`apiKeys[${n}].tier: "${k.tier}" is not one of ${PRIORITY_CLASSES.join(', ')}`);
  });
  const pools: Record<string, PoolInput> = { [POOL]: modelServers(i) };
  const admissionPools: NonNullable<NonNullable<ProxyConfigInput['admission']>['pools']> = {};
  for (const other of i.otherRegions ?? []) {
    const name = regionPoolName(other.region);
    // another region's proxies: one member behind its NLB; its own admission answers 503 when full
    pools[name] = { upstreams: [{ url: other.url, name: other.region, region: other.region }] };
    // its /metrics is not served on the public endpoint: nothing to learn from, nothing to scrape
    admissionPools[name] = { saturation: { enabled: false } };
  }
  const config: ProxyConfigInput = {
    auth: i.apiKeys && i.apiKeys.length > 0 ? { keys: i.apiKeys.map(renderedKey) } : 'none',
    pools,
    routes: [{ model: i.modelName, pools: Object.keys(pools) }],
    admission: { pools: admissionPools },
    redis: redis(i),
    jobs: { amqp: amqp() },
    // the same regional endpoints: job polls and keyed submissions of another region go there
    regions: { self: i.region, peers: Object.fromEntries((i.otherRegions ?? []).map((p) => [p.region, { url: p.url }])) },
  };
  return validated(ProxyConfigSchema, config, 'proxy runtime config');
}

/** The worker's config file for one cell, validated with the worker's schema. */
export function workerRuntimeConfig(i: RuntimeConfigInputs): WorkerConfigInput {
  const config: WorkerConfigInput = {
    amqp: amqp(),
    redis: redis(i),
    upstream: modelServers(i),
    drainTimeoutMs: Math.max(i.workerDrainSeconds - WORKER_CONTRACT.drainMarginSeconds, 5) * 1000,
    ...((i.redisReplicasPerShard ?? 0) > 0 ? { resultDurability: { replicas: 1, timeoutMs: 1_000 } } : {}),
  };
  return validated(WorkerConfigSchema, config, 'worker runtime config');
}
