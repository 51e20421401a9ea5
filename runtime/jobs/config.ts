import { isIP } from 'node:net';
import { z } from 'zod';
import { isNonPublicAddress } from '../common/net-guard';
import { buildTopology, JobQueueTopology } from '../../contract/queue-topology';
import { urlSecretSchema } from '../common/config/secrets';

/** Schemes of a broker URL. */
export const AMQP_PROTOCOLS = ['amqp:', 'amqps:'] as const;

/**
 * Configuration shared by the proxy (which submits jobs) and the worker (which runs them):
 * where the broker is, which topology prefix, how long job records live. Defaults live here.
 */
export const AmqpConnectionSchema = z
  .strictObject({
    url: urlSecretSchema(AMQP_PROTOCOLS).default('amqp://guest:guest@127.0.0.1:5672').describe(
      'Broker URL (amqps:// for Amazon MQ); use `{ fromEnv: NAME }` to keep credentials out of files.',
    ),
    topologyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .default('surgeguard')
      .describe('Prefix of the exchanges and queues (contract/queue-topology.ts); the same value the infrastructure declares.'),
    heartbeatSeconds: z.number().int().min(0).default(15).describe('AMQP heartbeat; a silent broker is noticed after two intervals.'),
    reconnectBaseMs: z.number().int().positive().default(200).describe('First reconnect backoff ceiling.'),
    reconnectMaxMs: z.number().int().positive().default(10_000).describe('Longest reconnect backoff.'),
    confirmTimeoutMs: z.number().int().positive().default(5_000).describe('Longest wait for a publisher confirm before a publish fails.'),
  })
  .strict();

export type AmqpConnectionConfig = z.infer<typeof AmqpConnectionSchema>;

export const JobRecordsSchema = z
  .strictObject({
    ttlSeconds: z
      .number()
      .int()
      .positive()
      .default(86_400)
      .describe('Lifetime of a job record and its result in Redis, counted again from when the job finishes.'),
  })
  .strict();

export type JobRecordsConfig = z.infer<typeof JobRecordsSchema>;

/** Prefix of job keys under a runtime's Redis key prefix; the proxy and the worker must agree. */
export function jobKeyPrefix(redisKeyPrefix: string): string {
  return `${redisKeyPrefix}jobs:`;
}

/** The topology of a config: the shared data under the configured prefix. */
export function topologyOf(config: AmqpConnectionConfig): JobQueueTopology {
  return buildTopology(config.topologyPrefix);
}

/** Hosts a job's callback URL may point at: exact names, or `*.example.com` for subdomains. */
export const CallbackSchema = z
  .strictObject({
    allowedHosts: z
      .array(z.string().regex(/^(\*\.)?[A-Za-z0-9.-]+(:\d+)?$/, 'a host name, optionally *.-prefixed and with :port'))
      .default([])
      .describe('host[:port] callbacks may be sent to (port 443 when left out); empty refuses every callback URL (no SSRF by default).'),
    allowHttp: z.boolean().default(false).describe('Accept http:// callback URLs (local use); https only otherwise.'),
    allowPrivateAddresses: z
      .boolean()
      .default(false)
      .describe('Let callbacks connect to loopback, private and link-local addresses (local use). Off: checked on the resolved address at connect time.'),
    maxAttempts: z.number().int().min(1).max(20).default(5).describe('Delivery attempts of one callback (exponential backoff between them).'),
    timeoutMs: z.number().int().positive().default(5_000).describe('Timeout of one delivery attempt.'),
  })
  .strict();

export type CallbackConfig = z.infer<typeof CallbackSchema>;

/** The `jobs` section of the proxy config: asynchronous mode is on when present. */
export const ProxyJobsSchema = z
  .strictObject({
    amqp: AmqpConnectionSchema.prefault({}),
    records: JobRecordsSchema.prefault({}),
    callbacks: CallbackSchema.prefault({}),
  })
  .strict()
  .describe('Asynchronous jobs (POST /v1/jobs, Prefer: respond-async). Requires `redis`.');

export type ProxyJobsConfig = z.infer<typeof ProxyJobsSchema>;

/**
 * Checks a callback URL against the allow-list. Returns an error message, or undefined when the
 * URL may be called.
 */
export function callbackUrlProblem(raw: string, config: CallbackConfig): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'callback URL is not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && !(config.allowHttp && url.protocol === 'http:')) {
    return config.allowHttp ? 'callback URL must use http or https' : 'callback URL must use https';
  }
  if (url.username || url.password) return 'callback URL must not carry credentials';
  const hostname = url.hostname.toLowerCase();
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  const host = `${hostname}:${port}`;
  const allowed = config.allowedHosts.some((pattern) => {
    const p = pattern.toLowerCase();
    const colon = p.lastIndexOf(':');
    // an entry allows one port: the one it names, else 443
    const [patternHost, patternPort] = colon === -1 ? [p, 443] : [p.slice(0, colon), Number(p.slice(colon + 1))];
    if (patternPort !== port) return false;
    return patternHost.startsWith('*.') ? hostname.endsWith(patternHost.slice(1)) : patternHost === hostname;
  });
  if (!allowed) return `callback host ${host} is not in the allow-list`;
  // a name is checked again on its resolved address when the worker connects (DNS rebinding)
  const literal = hostname.replace(/^\[|\]$/g, '');
  if (!config.allowPrivateAddresses && isIP(literal) !== 0 && isNonPublicAddress(literal)) return `callback address ${literal} is not public`;
  return undefined;
}
