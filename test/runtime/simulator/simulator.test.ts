import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { parseSimulatorArgs } from '../../../runtime/simulator/main';
import { Simulator, startSimulator } from '../../../runtime/simulator/simulator';
import { eventually, get, post, readAll } from '../../support/proxy-harness';

const body = (extra: Record<string, unknown> = {}) => ({ model: 'sim-model', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('simulator', () => {
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('answers chat, completions and embeddings in the OpenAI shapes', async () => {
    sim = await startSimulator({ tokensPerSecond: 0, outputTokens: 3 });
    const chat = (await post(`${sim.url}/v1/chat/completions`, body())).json();
    expect(chat).toMatchObject({ object: 'chat.completion', choices: [{ message: { role: 'assistant', content: 'tok tok tok ' } }], usage: { completion_tokens: 3 } });
    const completion = (await post(`${sim.url}/v1/completions`, { model: 'sim-model', prompt: 'x', max_tokens: 2 })).json();
    expect(completion.choices[0].text).toBe('tok tok ');
    const emb = (await post(`${sim.url}/v1/embeddings`, { model: 'sim-model', input: ['a', 'b'] })).json();
    expect(emb.data).toHaveLength(2);
    expect(emb.data[0].embedding).toHaveLength(8);
    expect((await post(`${sim.url}/v1/chat/completions`, body({ model: 'other' }))).status).toBe(404);
    expect(sim.stats()).toMatchObject({ received: 4, served: 3 });
  });

  it('streams SSE chunks ending with [DONE]', async () => {
    sim = await startSimulator({ tokensPerSecond: 0, outputTokens: 4 });
    const res = await request(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body({ stream: true })) });
    expect(res.headers['content-type']).toBe('text/event-stream');
    const events = (await readAll(res.body)).split('\n\n').filter(Boolean);
    expect(events).toHaveLength(6);
    expect(events[5]).toBe('data: [DONE]');
  });

  it('runs at most `slots` requests at once, queues the next ones and refuses beyond the queue with 503', async () => {
    sim = await startSimulator({ slots: 2, queueSize: 1, tokensPerSecond: 20, outputTokens: 4 });
    const s = sim;
    const first = [post(`${s.url}/v1/chat/completions`, body()), post(`${s.url}/v1/chat/completions`, body()), post(`${s.url}/v1/chat/completions`, body())];
    await eventually(() => s.stats().inFlight === 2 && s.stats().waiting === 1, 2_000, 'two running, one waiting');
    const metrics = (await get(`${s.url}/metrics`)).text;
    expect(metrics).toContain('vllm:num_requests_running{model_name="sim-model"} 2');
    expect(metrics).toContain('vllm:num_requests_waiting{model_name="sim-model"} 1');
    expect(metrics).toContain('vllm:gpu_cache_usage_perc{model_name="sim-model"} 1');
    const refused = await post(`${s.url}/v1/chat/completions`, body());
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200, 200]);
    expect(s.stats()).toMatchObject({ served: 3, rejected: 1, peakInFlight: 2 });
  });

  it('forces statuses with Retry-After and reports health as configured at run time', async () => {
    sim = await startSimulator({});
    await post(`${sim.url}/sim/config`, { forceStatus: { status: 429, retryAfterS: 3 }, healthy: false });
    const r = await post(`${sim.url}/v1/chat/completions`, body());
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('3');
    expect((await get(`${sim.url}/health`)).status).toBe(503);
    expect((await get(`${sim.url}/sim/stats`)).json()).toMatchObject({ failed: 1, healthChecks: 1 });
  });

  it('journals every completely served request carrying a job id (one JSON line each, written at once so a SIGKILL keeps them)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-journal-'));
    const journal = join(dir, 'served.jsonl');
    try {
      sim = await startSimulator({ tokensPerSecond: 0, outputTokens: 2, journalFile: journal });
      await post(`${sim.url}/v1/chat/completions`, body(), { 'x-surgeguard-job-id': 'eu-west-1.job-a' });
      await post(`${sim.url}/v1/chat/completions`, body(), { 'x-surgeguard-job-id': 'eu-west-1.job-a' });
      await post(`${sim.url}/v1/completions`, { model: 'sim-model', prompt: 'x' }, { 'x-surgeguard-job-id': 'job-b' });
      await post(`${sim.url}/v1/chat/completions`, body()); // no job id: not journalled
      await post(`${sim.url}/v1/chat/completions`, body({ model: 'other' }), { 'x-surgeguard-job-id': 'job-c' }); // not served: not journalled
      const lines = readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((l) => l.job)).toEqual(['eu-west-1.job-a', 'eu-west-1.job-a', 'job-b']);
      for (const l of lines) expect(typeof l.at).toBe('number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses its command line and rejects unknown or malformed options', () => {
    expect(parseSimulatorArgs(['--port', '0', '--slots=4', '--tps', '12.5', '--models', 'a,b'])).toMatchObject({ port: 0, slots: 4, tokensPerSecond: 12.5, models: ['a', 'b'] });
    expect(parseSimulatorArgs(['--journal', '/tmp/served.jsonl'])).toMatchObject({ journalFile: '/tmp/served.jsonl' });
    expect(() => parseSimulatorArgs(['--slotz', '4'])).toThrow(/unknown option --slotz/);
    expect(() => parseSimulatorArgs(['--slots', '1.5'])).toThrow(/integer/);
    expect(() => parseSimulatorArgs(['--slots'])).toThrow(/needs a value/);
  });
});

describe('simulator: what the official SDKs ask for', () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  beforeAll(async () => {
    sim = await startSimulator({ tokensPerSecond: 0, outputTokens: 3 });
  });
  afterAll(() => sim.close());

  const postJson = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return res.text();
  };

  it('sends a final usage chunk with empty choices before [DONE] when stream_options.include_usage is true', async () => {
    const text = await postJson('/v1/chat/completions', { model: 'sim-model', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const events = text.trim().split('\n\n').map((e) => e.slice('data: '.length));
    expect(events[events.length - 1]).toBe('[DONE]');
    const usage = JSON.parse(events[events.length - 2]!);
    expect(usage).toMatchObject({ object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 } });
    const without = await postJson('/v1/chat/completions', { model: 'sim-model', messages: [{ role: 'user', content: 'hi' }], stream: true });
    expect(without).not.toContain('"usage"');
  });

  it('returns base64 float32 embeddings for encoding_format: base64, equal to the float form', async () => {
    const floats = JSON.parse(await postJson('/v1/embeddings', { model: 'sim-model', input: 'hello' })).data[0].embedding as number[];
    const b64 = JSON.parse(await postJson('/v1/embeddings', { model: 'sim-model', input: 'hello', encoding_format: 'base64' })).data[0].embedding as string;
    expect(typeof b64).toBe('string');
    const bytes = Buffer.from(b64, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toHaveLength(floats.length);
    decoded.forEach((v, i) => expect(v).toBeCloseTo(floats[i]!, 6));
  });
});
