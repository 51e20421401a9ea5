import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle, loadRuntimeArtifacts } from '../../../constructs/artifacts/runtime-artifacts';
import { buildTopology } from '../../../contract/queue-topology';
import { deleteTopology } from '../../../runtime/jobs/topology';
import { AMQP_URL, connectAmqp, connectRedis, deleteKeys, freePort, uniqueName, waitFor } from '../../support/services';

/**
 * End to end against the bundles, with real failures: a proxy replica SIGKILLed in the middle of
 * streaming traffic behind a local L4 balancer (haproxy), a model server dying mid-stream, and a
 * worker SIGKILLed mid-job.
 */
jest.setTimeout(180_000);

const bundles = loadRuntimeArtifacts();
const simulator = loadBundle('simulator');

class Proc {
  readonly child: ChildProcess;
  out = '';
  readonly exited: Promise<void>;
  constructor(args: string[], command = process.execPath) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => (this.out += d.toString('utf8')));
    this.child.stderr!.on('data', (d: Buffer) => (this.out += d.toString('utf8')));
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

async function ready(url: string, p: Proc): Promise<void> {
  await waitFor(`${url} (output: ${p.out.slice(-500)})`, 30_000, async () => {
    if (p.child.exitCode !== null) throw new Error(`exited: ${p.out.slice(-1000)}`);
    return fetch(url, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok || undefined, () => undefined);
  }, 100);
}

/** One request on its own connection (no keep-alive: each goes through the balancer afresh). */
function post(port: number, path: string, body: unknown, onChunk?: (text: string) => void): Promise<{ status: number; text: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString('utf8');
        onChunk?.(text);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, text, error: err.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, text, error: 'aborted' }));
    });
    req.on('error', (err) => resolve({ status: 0, text: '', error: err.message }));
    req.end(JSON.stringify(body));
  });
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'e2e-model', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('a proxy replica killed mid-stream behind an L4 balancer', () => {
  const procs: Proc[] = [];
  const work = mkdtempSync(join(tmpdir(), 'sg-e2e-failover-'));
  let lbPort: number;
  let proxies: { proc: Proc; port: number }[];
  let sims: { proc: Proc; url: string }[];

  beforeAll(async () => {
    sims = [];
    for (const name of ['sim-a', 'sim-b']) {
      const port = await freePort();
      const proc = new Proc([simulator.path, '--port', String(port), '--host', '127.0.0.1', '--slots', '16', '--queue', '32', '--tps', '10', '--tokens', '8', '--models', 'e2e-model', '--name', name]);
      procs.push(proc);
      await ready(`http://127.0.0.1:${port}/health`, proc);
      sims.push({ proc, url: `http://127.0.0.1:${port}` });
    }
    proxies = [];
    for (const name of ['a', 'b']) {
      const port = await freePort();
      const file = join(work, `proxy-${name}.json`);
      writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port }, auth: 'none', pools: { sims: { upstreams: sims.map((s, i) => ({ url: s.url, name: `sim-${i}` })) } }, routes: [{ model: 'e2e-model', pools: ['sims'] }], logging: { level: 'warn' } }));
      const proc = new Proc([bundles.proxy.path, '--config', file]);
      procs.push(proc);
      await ready(`http://127.0.0.1:${port}/readyz`, proc);
      proxies.push({ proc, port });
    }
    lbPort = await freePort();
    const cfg = join(work, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        '  maxconn 1000',
        'defaults',
        '  mode tcp',
        '  timeout connect 1s',
        '  timeout client 30s',
        '  timeout server 30s',
        '  retries 3',
        '  option redispatch 1',
        'frontend fe',
        `  bind 127.0.0.1:${lbPort}`,
        '  default_backend proxies',
        'backend proxies',
        '  balance roundrobin',
        ...proxies.map((p, i) => `  server p${i} 127.0.0.1:${p.port} check inter 500 fall 2 rise 2`),
        '',
      ].join('\n'),
    );
    const lb = new Proc(['-f', cfg, '-db'], 'haproxy');
    procs.push(lb);
    await waitFor('haproxy to forward', 15_000, async () => post(lbPort, '/v1/chat/completions', chat({ max_tokens: 1 })).then((r) => r.status === 200 || undefined), 100);
  });

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    rmSync(work, { recursive: true, force: true });
  });

  it('ends the killed replica\'s streams at once (no hang), finishes the other replica\'s, and loses no request sent after the kill', async () => {
    // Eight streams of 8 tokens at 10 tokens/s (~0.8 s each), spread over both replicas.
    const started: boolean[] = [];
    const streams = Array.from({ length: 8 }, (_, i) =>
      post(lbPort, '/v1/chat/completions', chat({ stream: true, max_tokens: 8 }), () => (started[i] = true)),
    );
    await waitFor('every stream to have its first event', 20_000, async () => (started.filter(Boolean).length === 8 ? true : undefined), 20);
    const killedAt = Date.now();
    proxies[0].proc.kill('SIGKILL');
    await proxies[0].proc.exited;
    // Requests accepted by the balancer once the replica is gone: every one answered (haproxy
    // retries a refused connection on the surviving replica until its health check marks the dead
    // one down). A connection the dying process had already accepted is the client's to retry: L4
    // cannot know whether the request was processed.
    const after = await Promise.all(Array.from({ length: 20 }, () => post(lbPort, '/v1/chat/completions', chat({ max_tokens: 1 }))));
    expect(after.map((r) => r.status)).toEqual(Array(20).fill(200));
    const results = await Promise.all(streams);
    // No stream hangs: each ends well within its timeout, completed or cut.
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    const completed = results.filter((r) => r.text.trimEnd().endsWith('data: [DONE]'));
    const cut = results.filter((r) => !r.text.trimEnd().endsWith('data: [DONE]'));
    expect(completed.length).toBeGreaterThan(0);
    expect(cut.length).toBeGreaterThan(0);
    // A cut stream ended by the connection closing before [DONE]: the client's SSE reader sees EOF.
    for (const r of cut) expect(r.text).toMatch(/^data: \{/);
  });

  it('ends a stream whose model server dies mid-answer with an SSE error event, not a hang', async () => {
    let first = false;
    const stream = post(lbPort, '/v1/chat/completions', chat({ stream: true, max_tokens: 40 }), () => (first = true));
    await waitFor('the first event', 20_000, async () => first || undefined, 20);
    for (const s of sims) s.proc.kill('SIGKILL');
    const r = await Promise.race([stream, new Promise<undefined>((res) => setTimeout(() => res(undefined), 15_000))]);
    expect(r).toBeDefined();
    expect(r!.text).toMatch(/event: error|"error"/);
    expect(r!.text.trimEnd().endsWith('data: [DONE]')).toBe(false);
  });
});

describe('a worker killed mid-job', () => {
  const prefix = uniqueName('e2e-worker-kill').replace(/[^A-Za-z0-9_.-]/g, '-');
  const procs: Proc[] = [];
  const work = mkdtempSync(join(tmpdir(), 'sg-e2e-worker-'));

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    rmSync(work, { recursive: true, force: true });
    const conn = await connectAmqp();
    const ch = await conn.createChannel();
    await deleteTopology(ch, buildTopology(prefix));
    await conn.close();
    const redis = await connectRedis();
    await deleteKeys(redis, `${prefix}:`);
    redis.disconnect();
  });

  it('is finished by another worker: the job succeeds after a second attempt', async () => {
    const simPort = await freePort();
    const sim = new Proc([simulator.path, '--port', String(simPort), '--host', '127.0.0.1', '--slots', '4', '--tps', '5', '--tokens', '20', '--models', 'e2e-model', '--name', 'sim']);
    procs.push(sim);
    await ready(`http://127.0.0.1:${simPort}/health`, sim);
    const redis = { host: '127.0.0.1', port: 6379, keyPrefix: `${prefix}:` };
    const amqp = { url: AMQP_URL, topologyPrefix: prefix };
    const upstream = { upstreams: [{ url: `http://127.0.0.1:${simPort}`, name: 'sim' }] };
    const proxyPort = await freePort();
    const proxyFile = join(work, 'proxy.json');
    writeFileSync(proxyFile, JSON.stringify({ server: { host: '127.0.0.1', port: proxyPort }, auth: 'none', pools: { sims: upstream }, routes: [{ model: 'e2e-model', pools: ['sims'] }], redis, jobs: { amqp }, logging: { level: 'warn' } }));
    const proxy = new Proc([bundles.proxy.path, '--config', proxyFile]);
    procs.push(proxy);
    await ready(`http://127.0.0.1:${proxyPort}/readyz`, proxy);
    const startWorker = async (name: string) => {
      const port = await freePort();
      const file = join(work, `worker-${name}.json`);
      writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port }, amqp, redis, upstream, concurrency: 2 }));
      const w = new Proc([bundles.worker.path, '--config', file]);
      procs.push(w);
      await ready(`http://127.0.0.1:${port}/readyz`, w);
      return w;
    };
    const first = await startWorker('first');
    const base = `http://127.0.0.1:${proxyPort}`;
    // 20 tokens at 5 tokens/s: ~4 s of work, time to kill the worker in the middle.
    const submitted = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat({ max_tokens: 20 })) });
    expect(submitted.status).toBe(202);
    const job = (await submitted.json()) as { url: string };
    const poll = async () => (await (await fetch(`${base}${job.url}`)).json()) as { status: string; attempts: number; result?: unknown };
    await waitFor('the first worker to start the job', 30_000, async () => ((await poll()).status === 'running' ? true : undefined), 50);
    first.kill('SIGKILL');
    await first.exited;
    await startWorker('second');
    const done = await waitFor('the job to succeed on the second worker', 60_000, async () => {
      const j = await poll();
      return j.status === 'succeeded' ? j : undefined;
    }, 200);
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.result).toMatchObject({ object: 'chat.completion' });
  });
});
