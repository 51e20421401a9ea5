import { randomBytes } from 'node:crypto';
import { hashApiKey } from '../../../runtime/proxy/auth';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { classifyRequest } from '../../../runtime/proxy/priority';
import { Harness, chat, get, metricValue, post, quietPool, startHarness } from '../../support/proxy-harness';

/** Issue 17 item 3: a key's config caps the class it may ask for, and its limit across classes. */
const run = randomBytes(4).toString('hex');
const LOW = 'sk-low-0123456789';
const HIGH = 'sk-high-0123456789';
const GOLD = 'sk-gold-0123456789';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const keys = [
  { name: `low-${run}`, sha256: hashApiKey(LOW), tier: 'low' as const },
  { name: `high-${run}`, sha256: hashApiKey(HIGH), tier: 'high' as const },
  { name: `gold-${run}`, sha256: hashApiKey(GOLD), tier: 'medium' as const, maxClass: 'critical' as const },
];

describe('classifyRequest with a cap', () => {
  it('lets a header lower the class, never raise it above maxClass (default: the tier)', () => {
    expect(classifyRequest({ 'x-priority': 'critical' }, 'low')).toEqual({ ok: true, priorityClass: 'low', lowered: 'critical' });
    expect(classifyRequest({ 'x-realtime': 'true' }, 'medium')).toEqual({ ok: true, priorityClass: 'medium', lowered: 'critical' });
    expect(classifyRequest({ 'x-priority': 'low' }, 'high')).toEqual({ ok: true, priorityClass: 'low' });
    expect(classifyRequest({ 'x-priority': 'high' }, 'medium', 'high')).toEqual({ ok: true, priorityClass: 'high' });
    expect(classifyRequest({ 'x-realtime': 'true' }, 'medium', 'high')).toEqual({ ok: true, priorityClass: 'high', lowered: 'critical' });
  });

  it('refuses a key whose tier is above its maxClass, naming the field', () => {
    const parsed = ProxyConfigSchema.safeParse({
      auth: { keys: [{ name: 'k', sha256: hashApiKey('k'), tier: 'critical', maxClass: 'high' }] },
      pools: { p: { upstreams: [{ url: 'http://127.0.0.1:1' }] } },
      routes: [{ model: 'm', pools: ['p'] }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]).toMatchObject({ path: ['auth', 'keys', 0, 'tier'], message: 'tier critical is above maxClass high' });
  });
});

describe('escalation attempts against the proxy', () => {
  let h: Harness;
  afterEach(() => h?.close());

  const served = async (key: string, headers: Record<string, string>) => {
    const res = await post(`${h.url}/v1/chat/completions`, chat(), { ...bearer(key), ...headers });
    expect(res.status).toBe(200);
    return res;
  };
  const requestsOf = async (cls: string) => metricValue((await get(`${h.url}/metrics`)).text, 'surgeguard_proxy_requests_total', { class: cls, status: '200' }) ?? 0;

  it('serves X-Priority: critical and X-Realtime: true from a low-tier key as low, and says so', async () => {
    h = await startHarness([{}], (urls) => ({ auth: { keys }, pools: { local: quietPool(urls) }, routes: [{ model: 'sim-model', pools: ['local'] }] }));
    const a = await served(LOW, { 'x-priority': 'critical' });
    const b = await served(LOW, { 'x-realtime': 'true' });
    const c = await served(LOW, { 'x-priority': 'high' });
    expect([a, b, c].map((r) => r.headers['x-surgeguard-priority-lowered'])).toEqual(['critical->low', 'critical->low', 'high->low']);
    expect(await requestsOf('low')).toBe(3);
    expect(await requestsOf('critical')).toBe(0);
    expect(await requestsOf('high')).toBe(0);
    // lowering is always allowed, and maxClass opens the classes up to it
    expect((await served(HIGH, { 'x-priority': 'low' })).headers['x-surgeguard-priority-lowered']).toBeUndefined();
    expect((await served(GOLD, { 'x-realtime': 'true' })).headers['x-surgeguard-priority-lowered']).toBeUndefined();
    expect(await requestsOf('critical')).toBe(1);
  });

  it('bounds a key to its own limit when it cycles through the four classes (shared Redis bucket)', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: { keys },
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      redis: { host: '127.0.0.1', port: 6379 },
      rateLimit: {
        requests: {
          critical: { ratePerSecond: 0.01, burst: 4 },
          high: { ratePerSecond: 0.01, burst: 4 },
          medium: { ratePerSecond: 0.01, burst: 4 },
          low: { ratePerSecond: 0.01, burst: 4 },
        },
        // a slow shared Redis on a busy test machine must not switch to local buckets mid-test
        redis: { keyPrefix: `test-escalation-${run}:`, timeoutMs: 2_000 },
      },
    }));
    const statuses: number[] = [];
    for (let i = 0; i < 16; i++) {
      const cls = ['critical', 'high', 'medium', 'low'][i % 4];
      statuses.push((await post(`${h.url}/v1/chat/completions`, chat(), { ...bearer(GOLD), 'x-priority': cls })).status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(4);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12);
  });

  it('does not let a low-tier key reach the critical fail-open while Redis is unavailable', async () => {
    h = await startHarness([{}], (urls) => ({
      auth: { keys },
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      // nothing listens on port 1: the limiter runs degraded, on local buckets
      redis: { host: '127.0.0.1', port: 1, connectTimeoutMs: 100 },
      rateLimit: { requests: { low: { ratePerSecond: 0.01, burst: 2 } }, redis: { keyPrefix: `test-escalation-${run}:` } },
    }));
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(`${h.url}/v1/chat/completions`, chat(), { ...bearer(LOW), 'x-priority': 'critical' })).status);
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
  });
});
