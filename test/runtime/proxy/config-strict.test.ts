import { z } from 'zod';
import { resolveUrlSecret } from '../../../runtime/common/config/secrets';
import { AMQP_PROTOCOLS } from '../../../runtime/jobs/config';
import { ProxyConfigSchema, proxyConfigJsonSchema } from '../../../runtime/proxy/config';
import { WorkerConfigSchema } from '../../../runtime/worker/config';

/** Paths of JSON Schema objects that accept unknown properties (a typo there would be ignored). */
function openObjects(schema: unknown, path = '$', out: string[] = []): string[] {
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => openObjects(s, `${path}[${i}]`, out));
    return out;
  }
  if (typeof schema !== 'object' || schema === null) return out;
  const s = schema as Record<string, unknown>;
  if (s.type === 'object' && s.properties !== undefined && s.additionalProperties !== false) out.push(path);
  for (const [k, v] of Object.entries(s)) openObjects(v, `${path}.${k}`, out);
  return out;
}

describe('strict config schemas', () => {
  it('every object of the proxy config rejects unknown keys', () => {
    expect(openObjects(proxyConfigJsonSchema())).toEqual([]);
  });

  it('every object of the worker config rejects unknown keys', () => {
    expect(openObjects(z.toJSONSchema(WorkerConfigSchema, { io: 'input', target: 'draft-2020-12' }))).toEqual([]);
  });
});

describe('config mistakes stop start-up naming the field', () => {
  const base = {
    auth: 'none' as const,
    pools: { gpu: { upstreams: [{ url: 'http://127.0.0.1:8000' }] } },
    routes: [{ model: 'm', pools: ['gpu'] }],
  };
  const issues = (extra: Record<string, unknown>) => {
    const parsed = ProxyConfigSchema.safeParse({ ...base, ...extra });
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it.each([
    ['rateLimit', { rateLimit: { requets: {} } }, 'rateLimit: Unrecognized key: "requets"'],
    ['rateLimit bucket', { rateLimit: { requests: { low: { ratePerSecond: 1, burst: 2, brust: 3 } } } }, 'rateLimit.requests.low: Unrecognized key: "brust"'],
    ['admission', { admission: { defualts: {} } }, 'admission: Unrecognized key: "defualts"'],
    ['cache', { cache: { ttlMs: 5 } }, 'cache: Unrecognized key: "ttlMs"'],
    ['canary', { canary: { model: {} } }, 'canary: Unrecognized key: "model"'],
    ['canary target', { canary: { models: { m: [{ pool: 'gpu', weight: 1, wieght: 2 }] } } }, 'canary.models.m.0: Unrecognized key: "wieght"'],
  ])('rejects an unknown key in %s', (_where, extra, expected) => {
    expect(issues(extra)).toContain(expected);
  });

  it('rejects admission settings and canary targets for pools that do not exist, and canaries of unrouted models', () => {
    expect(issues({ admission: { pools: { gpu2: {} } } })).toEqual(['admission.pools.gpu2: unknown pool "gpu2" (known: gpu)']);
    expect(issues({ canary: { models: { m: [{ pool: 'nope', weight: 1 }] } } })).toEqual(['canary.models.m.0.pool: unknown pool "nope" (known: gpu)']);
    expect(issues({ canary: { models: { other: [{ pool: 'gpu', weight: 1 }] } } })).toEqual(['canary.models.other: model "other" has no route (routed: m)']);
  });

  it('rejects a broker URL that is not an amqp(s) URL, literal or from the environment', () => {
    expect(issues({ redis: {}, jobs: { amqp: { url: 'not a url' } } })).toEqual(['jobs.amqp.url: Invalid URL']);
    expect(issues({ redis: {}, jobs: { amqp: { url: 'http://broker:5672' } } })).toEqual(['jobs.amqp.url: must be a amqp:// or amqps:// URL; got http://']);
    expect(() => resolveUrlSecret({ fromEnv: 'AMQP' }, { AMQP: 'nope' }, 'jobs.amqp.url', AMQP_PROTOCOLS)).toThrow('jobs.amqp.url: Invalid URL (from AMQP)');
  });

  it('the worker config is as strict: unknown keys, bad broker URL', () => {
    const worker = (extra: Record<string, unknown>) => {
      const parsed = WorkerConfigSchema.safeParse({ upstream: { upstreams: [{ url: 'http://127.0.0.1:8000' }] }, ...extra });
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(worker({ batching: { enabled: true, maxBatch: 3 } })).toEqual(['batching: Unrecognized key: "maxBatch"']);
    expect(worker({ upstream: { upstreams: [{ url: 'http://127.0.0.1:8000', wieght: 2 }] } })).toEqual(['upstream.upstreams.0: Unrecognized key: "wieght"']);
    expect(worker({ amqp: { url: 'not a url' } })).toEqual(['amqp.url: Invalid URL']);
  });
});
