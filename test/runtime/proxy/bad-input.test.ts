import { spawnSync } from 'node:child_process';
import { connect, Socket } from 'node:net';
import { hashApiKey } from '../../../runtime/proxy/auth';
import { Harness, chat, get, metricValue, post, quietPool, startHarness } from '../../support/proxy-harness';

const api = (h: Harness) => `${h.url}/v1/chat/completions`;
const route = [{ model: 'sim-model', pools: ['local'] }];

/** Opens a raw TCP connection to the proxy, sends `data`, and resolves with what comes back until close. */
function raw(h: Harness, data: string, timeoutMs = 5_000): Promise<{ text: string; socket: Socket }> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(text)}`)), timeoutMs);
    socket.on('data', (d) => (text += String(d)));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, socket });
    });
    socket.on('error', () => undefined);
    if (data) socket.write(data);
  });
}

describe('proxy input validation and limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{}], (urls) => ({
      server: { maxBodyBytes: 1_024, headersTimeoutMs: 300, bodyTimeoutMs: 300 },
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: route,
    }));
  });
  afterAll(() => h.close());

  it('refuses a body over the limit with 413, whether declared or streamed', async () => {
    const big = await post(api(h), chat({ pad: 'x'.repeat(2_000) }));
    expect(big.status).toBe(413);
    expect(big.json().error.code).toBe('request_too_large');
    const chunked = await raw(h, `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${(2_000).toString(16)}\r\n${'x'.repeat(2_000)}\r\n0\r\n\r\n`);
    expect(chunked.text).toMatch(/^HTTP\/1.1 413/);
  });

  it('answers malformed JSON with 400 naming the parse error', async () => {
    const r = await post(api(h), '{"model": "sim-model",');
    expect(r.status).toBe(400);
    expect(r.json().error.code).toBe('invalid_json');
    expect(r.json().error.message).toMatch(/not valid JSON: .+/);
  });

  it('answers a body that is not an object with 400', async () => {
    expect((await post(api(h), '[1,2]')).status).toBe(400);
  });

  it('answers a missing model with 400 and an unknown one with 404', async () => {
    const missing = await post(api(h), { messages: [] });
    expect(missing.status).toBe(400);
    expect(missing.json().error).toMatchObject({ code: 'missing_model', param: 'model' });
    const unknown = await post(api(h), chat({ model: 'nope' }));
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.code).toBe('model_not_found');
  });

  it('answers a wrong method with 405 and Allow, and an unknown path with 404', async () => {
    const wrong = await get(api(h));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect((await post(`${h.url}/v1/models`, {})).status).toBe(405);
    expect((await get(`${h.url}/v2/anything`)).status).toBe(404);
  });

  it('rejects an unknown X-Priority value with 400', async () => {
    const r = await post(api(h), chat(), { 'x-priority': 'urgent' });
    expect(r.status).toBe(400);
    expect(r.json().error.code).toBe('invalid_priority');
  });

  it('closes a connection whose headers do not arrive in time', async () => {
    const started = Date.now();
    const { text } = await raw(h, 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n');
    expect(text === '' || /^HTTP\/1.1 408/.test(text)).toBe(true);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('answers 408 when the body does not arrive in time', async () => {
    const { text } = await raw(h, 'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"model"');
    expect(text).toMatch(/^HTTP\/1.1 408/);
  });

  it('labels requests with their priority class in metrics', async () => {
    await post(api(h), chat(), { 'x-priority': 'low' });
    await post(api(h), chat(), { 'x-realtime': 'true' });
    const text = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(text, 'surgeguard_proxy_requests_total', { class: 'low', status: '200' })).toBe(1);
    expect(metricValue(text, 'surgeguard_proxy_requests_total', { class: 'critical', status: '200' })).toBe(1);
  });

  it('serves /metrics that promtool parses, request and first-byte histograms included', async () => {
    await post(api(h), chat(), { 'x-priority': 'high' });
    const text = (await get(`${h.url}/metrics`)).text;
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    if (check.error) throw new Error(`promtool could not run (install the Debian package "prometheus"): ${check.error.message}`);
    // exit 1 is a parse error, 3 lint findings: the only ones allowed are about the names of
    // prom-client's default Node.js metrics (gauges ending in _total)
    expect([0, 3]).toContain(check.status);
    const findings = `${check.stdout}${check.stderr}`.split('\n').filter((line) => line.trim() !== '');
    expect(findings.filter((line) => !line.startsWith('surgeguard_proxy_nodejs_'))).toEqual([]);
    expect(metricValue(text, 'surgeguard_proxy_request_duration_seconds_count', { class: 'high', status: '200' })).toBe(1);
    expect(metricValue(text, 'surgeguard_proxy_time_to_first_byte_seconds_bucket', { class: 'high', le: '+Inf' })).toBe(1);
  });
});

describe('proxy authentication', () => {
  let h: Harness;
  const logLines: string[] = [];
  beforeAll(async () => {
    h = await startHarness(
      [{}],
      (urls) => ({
        auth: { keys: [{ name: 'batch-team', sha256: hashApiKey('sk-batch'), tier: 'low' }, { name: 'app', sha256: hashApiKey('sk-app'), tier: 'high' }] },
        pools: { local: quietPool(urls) },
        routes: route,
      }),
      { logLines },
    );
  });
  afterAll(() => h.close());

  it('refuses a missing or unknown key with an OpenAI-style 401', async () => {
    const missing = await post(api(h), chat());
    expect(missing.status).toBe(401);
    expect(missing.json().error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect((await post(api(h), chat(), { authorization: 'Bearer sk-wrong' })).status).toBe(401);
    expect((await post(api(h), chat(), { authorization: 'Basic abc' })).status).toBe(401);
    expect((await get(`${h.url}/v1/models`)).status).toBe(401);
  });

  it('accepts a configured key and classifies by its tier; a header may lower the class, never raise it', async () => {
    expect((await post(api(h), chat(), { authorization: 'Bearer sk-batch' })).status).toBe(200);
    expect((await post(api(h), chat(), { authorization: 'Bearer sk-app' })).status).toBe(200);
    expect((await post(api(h), chat(), { authorization: 'Bearer sk-batch', 'x-priority': 'critical' })).status).toBe(200);
    expect((await post(api(h), chat(), { authorization: 'Bearer sk-app', 'x-priority': 'medium' })).status).toBe(200);
    const text = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(text, 'surgeguard_proxy_requests_total', { class: 'low', status: '200' })).toBe(2);
    expect(metricValue(text, 'surgeguard_proxy_requests_total', { class: 'high', status: '200' })).toBe(1);
    expect(metricValue(text, 'surgeguard_proxy_requests_total', { class: 'medium', status: '200' })).toBe(1);
    expect(metricValue(text, 'surgeguard_proxy_requests_total', { class: 'critical', status: '200' })).toBeUndefined();
  });

  it('never writes keys or bodies to the log', async () => {
    await post(api(h), chat({ messages: [{ role: 'user', content: 'secret-prompt-text' }] }), { authorization: 'Bearer sk-app' });
    h.proxy.accessLog!.flush();
    const all = logLines.join('');
    expect(all).toContain('"key":"app"');
    expect(all).not.toContain('sk-app');
    expect(all).not.toContain('sk-batch');
    expect(all).not.toContain('secret-prompt-text');
  });
});

describe('proxy client connection limit', () => {
  it('refuses connections beyond maxConnections + healthReserveConnections', async () => {
    const h = await startHarness([{}], (urls) => ({ server: { maxConnections: 1, healthReserveConnections: 1 }, auth: 'none', pools: { local: quietPool(urls) }, routes: route }));
    try {
      const { port } = new URL(h.url);
      const open = () =>
        new Promise<Socket>((resolve) => {
          const s = connect(Number(port), '127.0.0.1', () => resolve(s));
          s.on('error', () => undefined);
        });
      const a = await open();
      const b = await open();
      const c = await open();
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 2_000);
        c.once('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      expect(closed).toBe(true);
      expect(a.destroyed).toBe(false);
      a.destroy();
      b.destroy();
    } finally {
      await h.close();
    }
  });
});
