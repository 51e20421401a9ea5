import { jsonNestingDepth } from '../../../runtime/proxy/request-validation';
import { connect } from 'node:net';
import { Harness, chat, get, post, startHarness } from '../../support/proxy-harness';

/**
 * Client input must never hurt healthy upstreams (issue 17, items 1, 4 and 7): whatever a client
 * sends is answered 4xx by the proxy and never counted against a model server.
 */
const deep = (levels: number) => `{"model":"chat","temperature":0,"messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;

/** A pool with tight breaker/outlier thresholds: a handful of counted failures opens/ejects. */
const touchyPool = (urls: string[]) => ({
  upstreams: urls.map((url, i) => ({ url, name: `sim${i}` })),
  health: { enabled: false },
  circuitBreaker: { consecutiveFailures: 2, minRequests: 2 },
  outlierDetection: { consecutiveFailures: 2, maxEjectionPercent: 100 },
});

describe('client input never counts against upstreams', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{ models: ['provider-chat'] }, { models: ['provider-chat'] }], (urls) => ({
      auth: 'none',
      pools: { provider: touchyPool(urls) },
      // the README's external-fallback shape: the pool knows the model by another name
      routes: [{ model: 'chat', pools: [{ pool: 'provider', model: 'provider-chat' }] }],
      redis: undefined,
    }));
  });
  afterAll(() => h.close());

  const everyBreakerClosed = () => [...h.proxy.pools.get('provider')!.members].every((u) => u.breaker.state === 'closed' && u.consecutiveFailures === 0 && u.ejectedUntil === 0);
  const received = () => h.sims.reduce((n, s) => n + s.stats().received, 0);

  it('answers a 100k-deep body on an aliased route 400 json_too_deep, six times, with every breaker closed and nothing sent', async () => {
    for (let i = 0; i < 6; i++) {
      const res = await post(`${h.url}/v1/chat/completions`, deep(100_000));
      expect(res.status).toBe(400);
      expect(res.json().error).toMatchObject({ type: 'invalid_request_error', code: 'json_too_deep' });
    }
    expect(everyBreakerClosed()).toBe(true);
    expect(received()).toBe(0);
  });

  it('a body that cannot be built for the upstream fails the dispatch as request-error: no attempt, no retry, no breaker or outlier count', async () => {
    const pool = h.proxy.pools.get('provider')!;
    for (let i = 0; i < 6; i++) {
      const result = await h.proxy.dispatcher.dispatch({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json' },
        body: () => {
          throw new RangeError('Maximum call stack size exceeded');
        },
        chain: [pool],
        deadline: Date.now() + 5_000,
      });
      expect(result).toMatchObject({ ok: false, reason: 'request-error', attempts: 0 });
    }
    expect(everyBreakerClosed()).toBe(true);
    expect(received()).toBe(0);
    // the pool still serves a normal request
    const ok = await post(`${h.url}/v1/chat/completions`, chat({ model: 'chat' }));
    expect(ok.status).toBe(200);
  });

  it('an argument the HTTP client refuses before sending (an invalid header value) is not the upstream\'s fault either', async () => {
    const pool = h.proxy.pools.get('provider')!;
    const before = received();
    const result = await h.proxy.dispatcher.dispatch({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', 'x-bad': 'a\r\nb' },
      body: '{}',
      chain: [pool],
      deadline: Date.now() + 5_000,
    });
    expect(result).toMatchObject({ ok: false, reason: 'request-error' });
    expect(everyBreakerClosed()).toBe(true);
    expect(received()).toBe(before);
  });
});

describe('request validation at parse time', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{}], (urls) => ({
      auth: 'none',
      pools: { local: { upstreams: urls.map((url) => ({ url })), health: { enabled: false } } },
      routes: [{ model: 'sim-model', pools: ['local'] }],
      cache: { enabled: true },
    }));
  });
  afterAll(() => h.close());
  const api = () => `${h.url}/v1/chat/completions`;

  it('a deep body with temperature 0 (cacheable) is a 400, not a 500 from the cache key', async () => {
    const res = await post(api(), deep(100_000).replace('"chat"', '"sim-model"'));
    expect(res.status).toBe(400);
    expect(res.json().error.code).toBe('json_too_deep');
  });

  it('accepts nesting up to server.maxJsonDepth (64 by default) and counts only brackets outside strings', async () => {
    const body = JSON.stringify(chat({ temperature: 0, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'object' } } } } }] }));
    expect((await post(api(), body)).status).toBe(200);
    expect(jsonNestingDepth(Buffer.from('{"a":"[[[[[[[[[[\\"[[[["}'), 3)).toBe(1);
    expect(jsonNestingDepth(Buffer.from(`${'['.repeat(65)}${']'.repeat(65)}`), 64)).toBe(Infinity);
  });

  it.each([
    ['messages as a string', { messages: 'hi' }, 'messages'],
    ['an empty messages array', { messages: [] }, 'messages'],
    ['a message without a role', { messages: [{ content: 'hi' }] }, 'messages[0].role'],
    ['max_tokens: -1', { max_tokens: -1 }, 'max_tokens'],
    ['max_tokens: 1.5', { max_tokens: 1.5 }, 'max_tokens'],
    ['n: 0', { n: 0 }, 'n'],
    ['n: 1000', { n: 1000 }, 'n'],
    ['stream: "yes"', { stream: 'yes' }, 'stream'],
  ])('refuses %s with 400 naming the parameter', async (_what, extra, param) => {
    const res = await post(api(), chat(extra));
    expect(res.status).toBe(400);
    expect(res.json().error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('refuses an empty prompt or input on completions and embeddings', async () => {
    expect((await post(`${h.url}/v1/completions`, { model: 'sim-model' })).json().error.param).toBe('prompt');
    expect((await post(`${h.url}/v1/embeddings`, { model: 'sim-model', input: [] })).json().error.param).toBe('input');
  });

  it.each(['abc', '-1', '0', '0ms', '5m'])('refuses X-Request-Timeout: %s with 400 like an unknown X-Priority', async (value) => {
    const res = await post(api(), chat(), { 'x-request-timeout': value });
    expect(res.status).toBe(400);
    expect(res.json().error.code).toBe('invalid_request_timeout');
  });

  it('accepts X-Request-Timeout in seconds or milliseconds', async () => {
    expect((await post(api(), chat(), { 'x-request-timeout': '2.5' })).status).toBe(200);
    expect((await post(api(), chat(), { 'x-request-timeout': '2500ms' })).status).toBe(200);
  });
});


describe('OpenAI-compatible answers outside the model endpoints', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{}], (urls) => ({
      server: { headersTimeoutMs: 300 },
      auth: 'none',
      pools: { local: { upstreams: urls.map((url) => ({ url })), health: { enabled: false } } },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
  });
  afterAll(() => h.close());

  it('GET /v1/models/{id} returns the model object, 404 model_not_found for an unknown one', async () => {
    const found = await get(`${h.url}/v1/models/sim-model`);
    expect(found.status).toBe(200);
    expect(found.json()).toEqual({ id: 'sim-model', object: 'model', created: 0, owned_by: 'surgeguard' });
    const missing = await get(`${h.url}/v1/models/gpt-nothing`);
    expect(missing.status).toBe(404);
    expect(missing.json().error).toMatchObject({ type: 'not_found_error', code: 'model_not_found' });
  });

  /** Raw bytes to the proxy, everything until it closes. */
  const raw = (data: string, wait = 5_000) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(h.url).port), '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no close within ${wait} ms: ${text}`)), wait);
      socket.on('data', (d) => (text += String(d)));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(text);
      });
      socket.on('error', () => undefined);
      if (data) socket.write(data);
    });
  const bodyOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

  it.each([
    ['malformed HTTP', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
    ['headers too large', `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['headers too slow', 'GET /healthz HTTP/1.1\r\nhost: x\r\n', 408, 'request_timeout'],
  ])('answers %s with an OpenAI-style error body', async (_what, data, status, code) => {
    const text = await raw(data);
    expect(text.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
    expect(text).toContain('content-type: application/json');
    expect(bodyOf(text).error).toMatchObject({ type: 'invalid_request_error', code });
  });
});
