import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { Simulator, startSimulator } from '../../../runtime/simulator/simulator';
import { Harness, chat, eventually, get, post, quietPool, startHarness } from '../../support/proxy-harness';

const MAIN = join(__dirname, '../../../dist/runtime/proxy/main.js');

// spawned processes on a shared, busy machine: every wait inside is bounded on its own
jest.setTimeout(30_000);

describe('graceful drain (in process)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{ tokensPerSecond: 20, outputTokens: 10 }], (urls) => ({
      server: { drainTimeoutMs: 5_000 },
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
  });
  afterAll(() => h.close());

  it('turns not ready, lets in-flight requests finish, then stops listening', async () => {
    expect((await get(`${h.url}/readyz`)).status).toBe(200);
    const inflight = post(`${h.url}/v1/chat/completions`, chat());
    await eventually(() => h.proxy.inFlight() === 1, 2_000, 'the request to be in flight');
    const drained = h.proxy.drain();
    expect(h.proxy.isReady()).toBe(false);
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.json().choices[0].finish_reason).toBe('length');
    await expect(drained).resolves.toBe(true);
    await expect(request(`${h.url}/healthz`)).rejects.toThrow();
  });
});

describe('drain timeout (in process)', () => {
  let h: Harness;
  beforeAll(async () => {
    // 200 tokens at 10/s: a stream that runs far past the drain timeout
    h = await startHarness([{ tokensPerSecond: 10, outputTokens: 200, maxTokens: 200 }], (urls) => ({
      server: { drainTimeoutMs: 300 },
      auth: 'none',
      pools: { local: quietPool(urls) },
      routes: [{ model: 'sim-model', pools: ['local'] }],
    }));
  });
  afterAll(() => h.close());

  it('ends a stream still running at drainTimeoutMs with an SSE error event, and reports the timeout', async () => {
    const res = await request(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat({ stream: true })),
    });
    expect(res.statusCode).toBe(200);
    let text = '';
    const done = (async () => {
      for await (const chunk of res.body) text += String(chunk);
    })();
    await eventually(() => text.includes('data: '), 3_000, 'the first event');
    await expect(h.proxy.drain()).resolves.toBe(false);
    await done;
    const events = text.trim().split('\n\n');
    const last = JSON.parse(events[events.length - 1]!.slice('data: '.length));
    expect(last.error).toMatchObject({ type: 'server_error', code: 'shutting_down' });
    expect(text).not.toContain('[DONE]');
  });
});

describe('proxy process (compiled entry point)', () => {
  let dir: string;
  let sim: Simulator;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
    dir = mkdtempSync(join(tmpdir(), 'sg-proxy-'));
    sim = await startSimulator({ tokensPerSecond: 20, outputTokens: 10 });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    child.stderr!.on('data', (d) => (err += String(d)));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, out: () => out, err: () => err, exit };
  }

  it('exits 2 before listening on an invalid config, naming the field and the problem', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'auth: none\npools:\n  gpu:\n    upstreams: [{ url: "ftp://x", weight: -1 }]\nroutes: [{ model: m, pools: [gpu] }]\n');
    const p = run(['--config', file]);
    expect(await p.exit).toBe(2);
    expect(p.err()).toContain('pools.gpu.upstreams[0].url');
    expect(p.err()).toContain('pools.gpu.upstreams[0].weight');
    expect(p.out()).not.toContain('proxy listening');
  });

  it('exits 2 when a secret named in the config is not in the environment', async () => {
    const file = join(dir, 'secret.json');
    writeFileSync(file, JSON.stringify({ auth: 'none', pools: { ext: { upstreams: [{ url: sim.url, apiKey: { fromEnv: 'SG_MISSING_KEY' } }] } }, routes: [{ model: 'sim-model', pools: ['ext'] }] }));
    const p = run([], { SURGEGUARD_CONFIG: file });
    expect(await p.exit).toBe(2);
    expect(p.err()).toContain('pools.ext.upstreams[0].apiKey: environment variable SG_MISSING_KEY is not set');
  });

  it('serves, and on SIGTERM finishes the in-flight request and exits 0', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 5000 }\nauth: none\npools:\n  local:\n    upstreams: [{ url: "${sim.url}" }]\nroutes: [{ model: sim-model, pools: [local] }]\n`);
    const p = run(['--config', file]);
    await eventually(() => p.out().includes('proxy listening'), 10_000, 'the proxy to listen');
    const port = JSON.parse(p.out().split('\n').find((l) => l.includes('proxy listening'))!).port as number;
    const inflight = post(`http://127.0.0.1:${port}/v1/chat/completions`, chat());
    await eventually(() => sim.stats().inFlight === 1, 3_000, 'the request to reach the simulator');
    p.child.kill('SIGTERM');
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(await p.exit).toBe(0);
    expect(p.out()).toContain('"msg":"drained"');
  });

  it('exits 3 (EXIT_CODE.drainTimedOut) when requests were still running at drainTimeoutMs', async () => {
    const slow = await startSimulator({ tokensPerSecond: 5, outputTokens: 100, maxTokens: 100 });
    try {
      const file = join(dir, 'short-drain.yaml');
      writeFileSync(file, `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 200 }\nauth: none\npools:\n  local:\n    upstreams: [{ url: "${slow.url}" }]\nroutes: [{ model: sim-model, pools: [local] }]\n`);
      const p = run(['--config', file]);
      await eventually(() => p.out().includes('proxy listening'), 10_000, 'the proxy to listen');
      const port = JSON.parse(p.out().split('\n').find((l) => l.includes('proxy listening'))!).port as number;
      const inflight = post(`http://127.0.0.1:${port}/v1/chat/completions`, chat()).catch(() => undefined);
      await eventually(() => slow.stats().inFlight === 1, 3_000, 'the request to reach the simulator');
      p.child.kill('SIGTERM');
      expect(await p.exit).toBe(3);
      expect(p.out()).toContain('drain timeout: remaining requests cut');
      await inflight;
    } finally {
      await slow.close();
    }
  });
});
