import { request } from 'undici';
import { Harness, chat, eventually, get, metricValue, quietPool, readAll, startHarness } from '../../support/proxy-harness';

const api = (h: Harness) => `${h.url}/v1/chat/completions`;
const route = [{ model: 'sim-model', pools: ['local'] }];

function streamRequest(h: Harness, extra: Record<string, unknown> = {}, signal?: AbortSignal) {
  return request(api(h), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat({ stream: true, ...extra })), signal });
}

describe('proxy streaming', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('passes an SSE stream through chunk by chunk, before the upstream finished', async () => {
    h = await startHarness([{ tokensPerSecond: 20, outputTokens: 10 }], (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: route }));
    const res = await streamRequest(h);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const iterator = res.body[Symbol.asyncIterator]();
    const first = String((await iterator.next()).value);
    expect(first).toContain('chat.completion.chunk');
    expect(h.sims[0].stats().served).toBe(0);
    let rest = '';
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest += String(r.value);
    const events = (first + rest).split('\n\n').filter(Boolean);
    expect(events).toHaveLength(12);
    expect(events[events.length - 1]).toBe('data: [DONE]');
  });

  it('aborts the upstream request and frees its slot when the client disconnects', async () => {
    h = await startHarness([{ slots: 1, tokensPerSecond: 10, outputTokens: 100 }], (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: route }));
    const sim = h.sims[0];
    const controller = new AbortController();
    const res = await streamRequest(h, {}, controller.signal);
    await res.body[Symbol.asyncIterator]().next();
    expect(sim.stats().inFlight).toBe(1);
    controller.abort();
    await eventually(() => sim.stats().inFlight === 0 && sim.stats().aborted === 1, 3_000, 'the upstream slot to be freed');
    const next = await streamRequest(h, { max_tokens: 1 });
    expect(next.statusCode).toBe(200);
    await readAll(next.body);
    await eventually(async () => metricValue((await get(`${h!.url}/metrics`)).text, 'surgeguard_proxy_client_aborts_total', { class: 'medium' }) === 1, 3_000, 'the abort metric');
  });

  it('ends a stream that fails mid-way with an OpenAI-style SSE error event', async () => {
    h = await startHarness([{ midStreamFailureRate: 1, outputTokens: 5 }], (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: route }));
    const res = await streamRequest(h);
    expect(res.statusCode).toBe(200);
    const text = await readAll(res.body);
    const events = text.split('\n\n').filter(Boolean);
    expect(events[0]).toContain('chat.completion.chunk');
    const last = JSON.parse(events[events.length - 1].replace(/^data: /, ''));
    expect(last.error.type).toBe('server_error');
    expect(last.error.code).toBe('upstream_error');
    const metrics = (await get(`${h.url}/metrics`)).text;
    expect(metricValue(metrics, 'surgeguard_proxy_stream_errors_total', { upstream: 'sim0' })).toBe(1);
  });

  it('applies backpressure: a client that stops reading stalls the upstream instead of buffering', async () => {
    h = await startHarness([{ tokensPerSecond: 0, outputTokens: 60_000, maxTokens: 60_000 }], (urls) => ({ auth: 'none', pools: { local: quietPool(urls) }, routes: route }));
    const sim = h.sims[0];
    const res = await streamRequest(h);
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next();
    // ~12 MB of events cannot fit in socket buffers: the simulator must be waiting for 'drain'
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.stats().served).toBe(0);
    expect(sim.stats().inFlight).toBe(1);
    let bytes = 0;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) bytes += (r.value as Buffer).length;
    expect(bytes).toBeGreaterThan(10_000_000);
    await eventually(() => sim.stats().served === 1, 3_000, 'the stream to complete');
  });
});
