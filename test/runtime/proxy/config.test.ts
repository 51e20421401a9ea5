import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, parseConfigText, validateConfig } from '../../../runtime/common/config/load';
import { SecretResolutionError } from '../../../runtime/common/config/secrets';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { PROXY_SCHEMA_PATH, renderProxySchema } from '../../../runtime/proxy/export-schema';
import { createProxy } from '../../../runtime/proxy/server';
import { silentLogger } from '../../support/proxy-harness';

const minimal = {
  auth: 'none',
  pools: { gpu: { upstreams: [{ url: 'http://127.0.0.1:8000' }] } },
  routes: [{ model: 'm', pools: ['gpu'] }],
};

function problems(raw: unknown): string[] {
  try {
    validateConfig(ProxyConfigSchema, raw, 'test.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('proxy config', () => {
  it('fills every default from the schema, the brief\'s values included', () => {
    const cfg = ProxyConfigSchema.parse(minimal);
    const pool = cfg.pools.gpu;
    expect(cfg.server.port).toBe(8080);
    expect(pool.timeouts.connectMs).toBe(5_000);
    expect(pool.health).toMatchObject({ intervalMs: 3_000, unhealthyThreshold: 3 });
    expect(pool.outlierDetection).toMatchObject({ consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50 });
    expect(pool.circuitBreaker).toMatchObject({ minRequests: 20, errorRatio: 0.5, openMs: 5_000 });
    expect(cfg.retry).toMatchObject({ maxAttempts: 5, baseBackoffMs: 1_000, maxBackoffMs: 30_000 });
    expect(cfg.retry.budget).toMatchObject({ ratio: 0.2, minConcurrent: 3 });
    expect(pool.balancer.type).toBe('least-outstanding');
    expect(pool.upstreams[0].weight).toBe(1);
  });

  it('names the field path and the problem of every invalid field', () => {
    const found = problems({
      ...minimal,
      server: { port: 70_000 },
      pools: { gpu: { upstreams: [{ url: 'not a url', weight: 0 }], balancer: { type: 'random' } } },
      routes: [{ model: 'm', pools: ['gpu', 'missing'] }],
    });
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^server\.port: /),
        expect.stringMatching(/^pools\.gpu\.upstreams\[0\]\.url: /),
        expect.stringMatching(/^pools\.gpu\.upstreams\[0\]\.weight: /),
        expect.stringMatching(/^pools\.gpu\.balancer\.type: /),
      ]),
    );
  });

  it('rejects routes to unknown pools and models routed twice', () => {
    expect(problems({ ...minimal, routes: [{ model: 'm', pools: ['gpu', 'missing'] }] })).toEqual(['routes[0].pools[1]: unknown pool "missing" (known: gpu)']);
    expect(problems({ ...minimal, routes: [{ model: 'm', pools: ['gpu'] }, { model: 'm', pools: ['gpu'] }] })).toEqual(['routes[1].model: model m is routed twice']);
  });

  it('requires auth to be explicit and rejects unknown fields', () => {
    expect(problems({ pools: minimal.pools, routes: minimal.routes })[0]).toMatch(/^auth: /);
    expect(problems({ ...minimal, sever: {} })[0]).toMatch(/sever/);
  });

  it('rejects a key hash that is not a SHA-256 hex digest', () => {
    expect(problems({ ...minimal, auth: { keys: [{ name: 'k', sha256: 'abc' }] } })[0]).toMatch(/^auth/);
  });

  it('reads YAML and JSON, and reports unparsable text', () => {
    expect(parseConfigText('auth: none\n', 'a.yaml')).toEqual({ auth: 'none' });
    expect(parseConfigText('{"auth":"none"}', 'a.json')).toEqual({ auth: 'none' });
    expect(() => parseConfigText('{', 'a.json')).toThrow(ConfigError);
  });

  it('resolves upstream secrets from the environment and names the field when one is missing', () => {
    const cfg = ProxyConfigSchema.parse({
      ...minimal,
      pools: { gpu: { upstreams: [{ url: 'http://127.0.0.1:8000', apiKey: { fromEnv: 'SG_TEST_KEY' } }] } },
    });
    expect(() => createProxy(cfg, { env: {}, logger: silentLogger() })).toThrow(SecretResolutionError);
    expect(() => createProxy(cfg, { env: {}, logger: silentLogger() })).toThrow('pools.gpu.upstreams[0].apiKey: environment variable SG_TEST_KEY is not set');
    const proxy = createProxy(cfg, { env: { SG_TEST_KEY: 'sk-x' }, logger: silentLogger() });
    expect(proxy.pools.get('gpu')!.members[0].headers.authorization).toBe('Bearer sk-x');
  });

  it('has its committed JSON Schema up to date (run `npm run schema` after changing the config)', () => {
    const committed = readFileSync(join(__dirname, '../../..', PROXY_SCHEMA_PATH), 'utf8');
    expect(committed).toBe(renderProxySchema());
  });
});

describe('docs proxy config example (docs/proxy.md)', () => {
  it('is a complete, valid config', () => {
    const page = readFileSync(join(__dirname, '../../../docs/proxy.md'), 'utf8');
    const block = /## Config file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(page);
    expect(block).not.toBeNull();
    const cfg = validateConfig(ProxyConfigSchema, parseConfigText(block![1], 'proxy.yaml'), 'docs/proxy.md');
    expect(Object.keys(cfg.pools)).toEqual(['gpu-local', 'gpu-other-region', 'deepseek']);
    expect(cfg.routes[0].pools).toHaveLength(3);
  });
});
