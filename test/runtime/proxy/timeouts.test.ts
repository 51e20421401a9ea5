import { request } from 'undici';
import { Harness, chat, post, quietPool, readAll, startHarness } from '../../support/proxy-harness';

const api = (h: Harness) => `${h.url}/v1/chat/completions`;
const route = [{ model: 'sim-model', pools: ['local'] }];

describe('proxy timeouts', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('gives up on an upstream that sends no headers within ttfbMs and retries another', async () => {
    h = await startHarness([{ latencyMs: 2_000 }, {}], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { balancer: { type: 'weighted-round-robin' }, timeouts: { ttfbMs: 150 } }) },
      routes: route,
      retry: { maxAttempts: 2, baseBackoffMs: 0 },
    }));
    const started = Date.now();
    const r = await post(api(h), chat());
    expect(r.status).toBe(200);
    expect(r.headers['x-sim-name']).toBe('sim1');
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('answers 502 naming the upstream failure when no upstream answers in time', async () => {
    h = await startHarness([{ latencyMs: 2_000 }], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { timeouts: { ttfbMs: 100 } }) },
      routes: route,
      retry: { maxAttempts: 1 },
    }));
    const r = await post(api(h), chat());
    expect(r.status).toBe(502);
    expect(r.json().error.code).toBe('upstream_unavailable');
    expect(r.headers['retry-after']).toBeDefined();
  });

  it('answers 504 when the request deadline passes first', async () => {
    h = await startHarness([{ latencyMs: 2_000 }], (urls) => ({
      server: { requestTimeoutMs: 150 },
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: route,
    }));
    const r = await post(api(h), chat());
    expect(r.status).toBe(504);
    expect(r.json().error.code).toBe('deadline_exceeded');
  });

  it('ends a stream that stays silent longer than idleMs with an SSE error event', async () => {
    h = await startHarness([{ tokensPerSecond: 0.4, outputTokens: 3 }], (urls) => ({
      auth: 'none',
      pools: { local: quietPool(urls, { timeouts: { idleMs: 1_000 } }) },
      routes: route,
    }));
    const res = await request(api(h), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat({ stream: true })) });
    expect(res.statusCode).toBe(200);
    const events = (await readAll(res.body)).split('\n\n').filter(Boolean);
    expect(JSON.parse(events[events.length - 1].replace(/^data: /, '')).error.type).toBe('server_error');
    await new Promise((r) => setTimeout(r, 50));
    expect(h.sims[0].stats().inFlight).toBe(0);
  });
});
