import { z } from 'zod';
import { LoggingSchema } from '../common/config/logging';
import { RedisConnectionSchema } from '../common/config/redis';
import { PoolSchema, RetrySchema } from '../common/config/upstream';
import { PRIORITY_CLASSES, priorityRank } from '../../contract/priority';
import { PROXY_CONTRACT } from '../../contract/service';
import { OverloadConfigShape } from './overload/config';
import { BucketLimitSchema } from './ratelimit/config';
import { ProxyJobsSchema } from '../jobs/config';
import { readinessPools, RegionsSchema } from './regions';

/**
 * The proxy's configuration: one schema that validates the file, types the code, carries the
 * defaults and is exported as JSON Schema (`npm run schema`). Sub-schemas shared with the worker
 * live in runtime/common/config.
 */

export const ServerSchema = z
  .object({
    host: z.string().min(1).default('0.0.0.0').describe('Listen address.'),
    port: z.number().int().min(0).max(65535).default(PROXY_CONTRACT.port).describe('Listen port (0 picks a free one).'),
    maxBodyBytes: z.number().int().positive().default(1_048_576).describe('Largest request body; larger ones get 413.'),
    maxJsonDepth: z
      .number()
      .int()
      .min(2)
      .max(1_000)
      .default(64)
      .describe('Deepest nesting of arrays/objects accepted in a request body; deeper ones get 400 before parsing.'),
    headersTimeoutMs: z.number().int().positive().default(10_000).describe('Time a client has to send the request headers.'),
    bodyTimeoutMs: z.number().int().positive().default(30_000).describe('Time a client has to send the whole request body.'),
    keepAliveTimeoutMs: z.number().int().positive().default(65_000).describe('Idle keep-alive time of client connections (above the ALB idle timeout of 60 s).'),
    maxConnections: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('Client connections serving the API at most; a connection above it may only ask for /healthz, /readyz or /metrics (503 otherwise).'),
    healthReserveConnections: z
      .number()
      .int()
      .min(1)
      .default(64)
      .describe('Connections accepted above maxConnections for health probes and metrics, so a full listener still answers them; beyond it connections are refused.'),
    firstRequestTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('A new connection that has not sent a complete request within this time is closed (idle sockets cannot hold the listener).'),
    requestTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(600_000)
      .describe('Default deadline of a request, streaming included; pool totalMs may shorten it.'),
    drainTimeoutMs: z.number().int().min(0).default(30_000).describe('On SIGTERM, how long in-flight requests may finish before exit.'),
  })
  .strict();

export const ApiKeySchema = z
  .object({
    name: z.string().min(1).describe('Key owner, used in logs, metrics and as the default user key.'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be the lowercase hex SHA-256 of the key')
      .optional()
      .describe('SHA-256 of the key (`printf %s "$KEY" | sha256sum`); the key itself is never stored. Set this or `key`.'),
    key: z
      .strictObject({ fromEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').describe('Variable holding the key.') })
      .optional()
      .describe('The key itself, from an environment variable, hashed when the proxy starts: for a key the deployment generates and hands to the proxies (the cross-region key). Set this or `sha256`.'),
    firstPoolOnly: z
      .boolean()
      .optional()
      .describe('Serve this key\'s requests from the first pool of their route only: for the key other regions spill with, so a spilled request never spills again (no ping-pong between regions). Default: false.'),
    tier: z.enum(PRIORITY_CLASSES).default('medium').describe('Priority class of requests without X-Priority / X-Realtime.'),
    maxClass: z
      .enum(PRIORITY_CLASSES)
      .optional()
      .describe('Highest class this key may ask for with X-Priority / X-Realtime (a higher one is lowered to it). Default: the tier, so a key can lower its class but never raise it.'),
    rateLimit: z
      .union([z.literal('none'), BucketLimitSchema])
      .optional()
      .describe(
        'Request rate limit of this key over all its classes (requests/s and burst), shared by the replicas through Redis; `none`: not rate limited (a service key whose traffic admission bounds by capacity and class). Default: `rateLimit.requests` of each request\'s class.',
      ),
  })
  .strict()
  .superRefine((key, ctx) => {
    if ((key.sha256 === undefined) === (key.key === undefined)) ctx.addIssue({ code: 'custom', path: ['sha256'], message: 'set exactly one of sha256 and key' });
    if (key.maxClass !== undefined && priorityRank(key.tier) < priorityRank(key.maxClass)) {
      ctx.addIssue({ code: 'custom', path: ['tier'], message: `tier ${key.tier} is above maxClass ${key.maxClass}` });
    }
  });

export const AuthSchema = z
  .union([
    z.literal('none').describe('No authentication (local use only). Requests get the `anonymousTier` class.'),
    z
      .object({
        keys: z.array(ApiKeySchema).min(1).describe('Accepted API keys.'),
      })
      .strict(),
  ])
  .describe('`none`, or the accepted API keys. Required: there is no implicit open mode.');

export const RouteSchema = z
  .object({
    model: z.string().min(1).describe('Model name clients send in `model`.'),
    pools: z
      .array(
        z.union([
          z.string().min(1),
          z
            .object({
              pool: z.string().min(1).describe('Pool name.'),
              model: z.string().min(1).optional().describe('Model name this pool knows the model by (e.g. an external provider\'s name).'),
              classes: z
                .array(z.enum(PRIORITY_CLASSES))
                .min(1)
                .optional()
                .describe('Classes whose requests may use this pool (e.g. an external provider kept for critical, high and medium). Default: every class.'),
            })
            .strict(),
        ]),
      )
      .min(1)
      .describe('Fallback chain in preference order: a pool name or { pool, model, classes }.'),
  })
  .strict()
  .superRefine((route, ctx) => {
    // every class must have a pool to go to
    for (const cls of PRIORITY_CLASSES) {
      if (!route.pools.some((e) => typeof e === 'string' || e.classes === undefined || e.classes.includes(cls))) {
        ctx.addIssue({ code: 'custom', path: ['pools'], message: `no pool of the route takes ${cls} requests (every entry's classes leave it out)` });
      }
    }
  });

export const ProxyConfigSchema = z
  .object({
    server: ServerSchema.prefault({}),
    auth: AuthSchema,
    anonymousTier: z.enum(PRIORITY_CLASSES).default('medium').describe('Class of requests when auth is none and no header sets one.'),
    anonymousMaxClass: z
      .enum(PRIORITY_CLASSES)
      .default('critical')
      .describe('With auth none (local use, one anonymous caller): highest class X-Priority / X-Realtime may ask for.'),
    pools: z.record(z.string().regex(/^[a-z0-9][a-z0-9-_]*$/, 'pool names are lowercase letters, digits, - and _'), PoolSchema).describe('Upstream pools by name.'),
    routes: z.array(RouteSchema).min(1).describe('Models served and the pools that serve them.'),
    retry: RetrySchema.prefault({}),
    redis: RedisConnectionSchema.optional().describe('Shared state (rate limits, response cache, jobs). Omit to run without Redis.'),
    logging: LoggingSchema.prefault({}),
    // Overload control: rateLimit, cache, admission, canary (schemas in runtime/proxy/overload/config.ts).
    ...OverloadConfigShape,
    jobs: ProxyJobsSchema.optional(),
    regions: RegionsSchema.optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.regions && readinessPools(cfg.pools, cfg.regions).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['regions', 'self'], message: `no pool has an upstream of region "${cfg.regions.self}": the proxy could never be ready` });
    }
    if (cfg.jobs && !cfg.redis) ctx.addIssue({ code: 'custom', path: ['jobs'], message: 'jobs needs redis (job records live there); set redis or remove jobs' });
    const seen = new Set<string>();
    const poolNames = Object.keys(cfg.pools);
    const known = `known: ${poolNames.join(', ') || 'none'}`;
    for (const name of Object.keys(cfg.admission.pools)) {
      if (!(name in cfg.pools)) ctx.addIssue({ code: 'custom', path: ['admission', 'pools', name], message: `unknown pool "${name}" (${known})` });
    }
    const routed = new Set(cfg.routes.map((r) => r.model));
    for (const [model, targets] of Object.entries(cfg.canary.models)) {
      if (!routed.has(model)) ctx.addIssue({ code: 'custom', path: ['canary', 'models', model], message: `model "${model}" has no route (routed: ${[...routed].join(', ')})` });
      targets.forEach((t, i) => {
        if (!(t.pool in cfg.pools)) ctx.addIssue({ code: 'custom', path: ['canary', 'models', model, i, 'pool'], message: `unknown pool "${t.pool}" (${known})` });
      });
    }
    cfg.routes.forEach((route, i) => {
      if (seen.has(route.model)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'model'], message: `model ${route.model} is routed twice` });
      seen.add(route.model);
      route.pools.forEach((entry, j) => {
        const name = typeof entry === 'string' ? entry : entry.pool;
        if (!(name in cfg.pools)) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'pools', j], message: `unknown pool "${name}" (known: ${Object.keys(cfg.pools).join(', ') || 'none'})` });
        }
      });
    });
  });

export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;
export type ProxyConfigInput = z.input<typeof ProxyConfigSchema>;
export type ServerConfig = z.infer<typeof ServerSchema>;
export type AuthConfig = z.infer<typeof AuthSchema>;
export type ApiKeyConfig = z.infer<typeof ApiKeySchema>;
export type RouteConfig = z.infer<typeof RouteSchema>;

/** The JSON Schema of the config file (what a user writes, defaults shown). */
export function proxyConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ProxyConfigSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
