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
} as const;

export type RuntimeSecretEnv = (typeof RUNTIME_SECRET_ENV)[keyof typeof RUNTIME_SECRET_ENV];
