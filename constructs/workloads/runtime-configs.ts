import type { z } from 'zod';
import { FAILOVER_BUDGET } from '../../contract/failover-budget';
import { PRIORITY_CLASSES, PriorityClass } from '../../contract/priority';
import type { PoolSchema } from '../../runtime/common/config/upstream';
import { ProxyConfigSchema, type ProxyConfigInput } from '../../runtime/proxy/config';
import { WorkerConfigSchema } from '../../runtime/worker/config';
import { JOB_QUEUE_TOPOLOGY } from '../../contract/queue-topology';
import { CROSS_REGION_KEY_NAME, RUNTIME_SECRET_ENV } from '../../contract/secrets';
import { PROXY_CONTRACT, WORKER_CONTRACT } from '../../contract/service';
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
  /**
   * An external OpenAI-compatible provider: the last pool of the route, after the other regions,
   * its key from `RUNTIME_SECRET_ENV.externalProviderKey` (never in the config).
   * @default - none
   */
  readonly externalProvider?: ExternalProviderInputs;
}

/** The external provider pool of a cell's route. */
export interface ExternalProviderInputs {
  /** HTTPS origin of the provider's API (paths are forwarded as received: `/v1/chat/completions`). */
  readonly url: string;
  /** The provider's name for the model. @default - the cell's `modelName` */
  readonly model?: string;
  /** Classes whose requests may go to the provider. @default ['critical', 'high', 'medium'] */
  readonly classes?: readonly PriorityClass[];
  /** Requests in flight to the provider from the whole region (the proxy replicas divide it): its admission limit. */
  readonly maxConcurrency: number;
}

/** Name of the external provider's pool in the proxy config. */
export const EXTERNAL_PROVIDER_POOL = 'external-provider';
/** Classes that may use the external provider unless the environment says otherwise: not low. */
export const EXTERNAL_PROVIDER_DEFAULT_CLASSES: readonly PriorityClass[] = ['critical', 'high', 'medium'];

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
    // re-resolved every second: a pod Ready since the cluster DNS's answer was cached (the
    // records' TTL, 5 s with CoreDNS's kubernetes plugin default) is used within about a second
    // of that answer, not up to 5 s later (docs/cell-capacity.md, "How soon a new pod is used");
    // one cached lookup per second and replica costs CoreDNS nothing
    discover: [{ url: i.modelServerUrl, region: i.region, slots: i.modelServerSlots, intervalMs: 1_000 }],
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

/**
 * The other regions' proxies call this cell with the cross-region key (from the environment,
 * never in the file): accepted at the class the spilled request carries (`X-Priority`, up to
 * critical; `low` never spills), served by this cell's model servers only (`firstPoolOnly`: a
 * spilled request never spills again), and not rate limited (admission bounds it by capacity).
 */
function crossRegionKey(): ApiKeyInput {
  return { name: CROSS_REGION_KEY_NAME, key: { fromEnv: RUNTIME_SECRET_ENV.crossRegionKey }, tier: 'critical', rateLimit: 'none', firstPoolOnly: true };
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
 * `--max-num-seqs`), then the environment's other regions through their regional endpoints (with
 * the cross-region key, which this cell accepts from them too), then the external provider when
 * there is one, as one route; every pool guarded by admission, whose limit follows the members'
 * slots and is shared among the proxy replicas through Redis. Validated with the proxy's schema.
 * Throws naming a malformed API key.
 */
export function proxyRuntimeConfig(i: RuntimeConfigInputs): ProxyConfigInput {
  const apiKeys = i.apiKeys ?? [];
  const otherRegions = i.otherRegions ?? [];
  apiKeys.forEach((k, n) => {
    // Checked at synth: the proxy would otherwise refuse its config at start, in every pod.
    if (!/^[0-9a-f]{64}$/.test(k.sha256)) throw new Error(`apiKeys[${n}].sha256: must be the lower-case hex SHA-256 of the key (64 characters), not the key`);
    if (!PRIORITY_CLASSES.includes(k.tier as PriorityClass)) throw new Error(`apiKeys[${n}].tier: "${k.tier}" is not one of ${PRIORITY_CLASSES.join(', ')}`);
    if (otherRegions.length > 0 && k.name === CROSS_REGION_KEY_NAME) throw new Error(`apiKeys[${n}].name: "${CROSS_REGION_KEY_NAME}" is the other regions' key`);
  });
  // Without authentication a spilled request could not be told from a client's: it would spill back.
  if (otherRegions.length > 0 && apiKeys.length === 0) throw new Error('apiKeys: a cell with other regions needs API keys (the cross-region key is one: without authentication a spilled request would be spilled again)');
  const pools: Record<string, PoolInput> = { [POOL]: modelServers(i) };
  const admissionPools: NonNullable<NonNullable<ProxyConfigInput['admission']>['pools']> = {};
  for (const other of otherRegions) {
    const name = regionPoolName(other.region);
    // another region's proxies: one member behind its NLB, called with the cross-region key; its
    // own admission answers 503 when full or when nothing serves there
    pools[name] = {
      upstreams: [{ url: other.url, name: other.region, region: other.region, apiKey: { fromEnv: RUNTIME_SECRET_ENV.crossRegionKey } }],
      // its proxies' readiness: ready while a model server serves there; a region that cannot serve is not spilled to
      health: { path: PROXY_CONTRACT.readyPath },
    };
    // its /metrics is not served on the public endpoint: nothing to learn from, nothing to scrape
    admissionPools[name] = { saturation: { enabled: false } };
  }
  const route: NonNullable<ProxyConfigInput['routes']>[number]['pools'] = Object.keys(pools);
  const provider = i.externalProvider;
  if (provider) {
    pools[EXTERNAL_PROVIDER_POOL] = {
      // its slots: the region's cap on requests in flight to it, divided among the proxy replicas
      upstreams: [{ url: provider.url, name: EXTERNAL_PROVIDER_POOL, apiKey: { fromEnv: RUNTIME_SECRET_ENV.externalProviderKey }, slots: provider.maxConcurrency }],
      // a hosted API has no /health: passive checks only (breaker, outlier detection, Retry-After)
      health: { enabled: false },
    };
    // nor vLLM's /metrics: the limit is its slots, lowered by its 429/503
    admissionPools[EXTERNAL_PROVIDER_POOL] = { saturation: { enabled: false } };
    route.push({
      pool: EXTERNAL_PROVIDER_POOL,
      ...(provider.model !== undefined && provider.model !== i.modelName ? { model: provider.model } : {}),
      classes: [...(provider.classes ?? EXTERNAL_PROVIDER_DEFAULT_CLASSES)],
    });
  }
  const config: ProxyConfigInput = {
    auth: apiKeys.length > 0 ? { keys: [...apiKeys.map(renderedKey), ...(otherRegions.length > 0 ? [crossRegionKey()] : [])] } : 'none',
    pools,
    routes: [{ model: i.modelName, pools: route }],
    admission: { pools: admissionPools },
    redis: redis(i),
    jobs: { amqp: amqp() },
    // the same regional endpoints: job polls and keyed submissions of another region go there
    regions: { self: i.region, peers: Object.fromEntries(otherRegions.map((p) => [p.region, { url: p.url }])) },
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
