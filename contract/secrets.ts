/**
 * Environment variables the runtimes read their secrets from. The runtime config files the
 * synth renders reference them as `{ fromEnv: … }`; the workloads put the secret values into
 * these variables (Secrets Manager -> CSI driver -> Kubernetes Secret -> env). Only the names are
 * shared: no value ever passes through Terraform.
 */
export const RUNTIME_SECRET_ENV = {
  /** The ElastiCache AUTH token. */
  redisAuthToken: 'SURGEGUARD_REDIS_AUTH_TOKEN',
  /** The AMQPS URL with credentials. */
  amqpUrl: 'SURGEGUARD_AMQP_URL',
  /**
   * The key the regions of an environment call each other with (a spill to another region): the
   * proxies send it to the other regions' proxies and accept it from them. One generated value
   * per environment, replicated to every region (proxy only).
   */
  crossRegionKey: 'SURGEGUARD_CROSS_REGION_KEY',
  /** The external provider's API key, from the secret the environment config names (proxy only). */
  externalProviderKey: 'SURGEGUARD_EXTERNAL_PROVIDER_KEY',
} as const;

export type RuntimeSecretEnv = (typeof RUNTIME_SECRET_ENV)[keyof typeof RUNTIME_SECRET_ENV];

/** Name of the cross-region key among a proxy's `auth.keys` (reserved: no environment key may take it). */
export const CROSS_REGION_KEY_NAME = 'cross-region';
