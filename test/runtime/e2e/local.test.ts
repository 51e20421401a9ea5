import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildTopology } from '../../../contract/queue-topology';
import { deleteTopology } from '../../../runtime/jobs/topology';
import { connectAmqp, connectRedis, deleteKeys, uniqueName, waitFor } from '../../support/services';
import { REPO_ROOT } from '../../support/checkout';

/**
 * End to end against the bundles: `npm run local -- --burst` (dist/tools/local.js starts the proxy,
 * worker and simulator bundles of dist/artifacts, with the real Redis and RabbitMQ), then the calls
 * of the quickstart, then Ctrl-C.
 */
jest.setTimeout(180_000);

const LOCAL = join(REPO_ROOT, 'dist', 'tools', 'local.js');
const REALTIME = 'sk-local-realtime';
const BATCH = 'sk-local-batch';

describe('npm run local (the data plane from the bundles)', () => {
  const prefix = uniqueName('e2e-local').replace(/[^A-Za-z0-9_.-]/g, '-');
  let child: ChildProcess;
  let out = '';
  let base: string;
  let exited: Promise<number | null>;

  const call = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({ model: 'local-model', messages: [{ role: 'user', content: 'hello' }], ...body }),
      signal: AbortSignal.timeout(30_000),
    });

  beforeAll(async () => {
    if (!existsSync(LOCAL)) throw new Error(`${LOCAL} is missing: npm run build && npm run bundle first (npm test does)`);
    child = spawn(process.execPath, [LOCAL, '--port', '0', '--burst', '--prefix', prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString('utf8')));
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(`the burst summary of npm run local (output so far:\n${out})`, 120_000, async () => out.includes('burst: a shed') || out.includes('burst: low') ? true : undefined, 100);
    base = /local: proxy\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1];
  });

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const conn = await connectAmqp();
    const ch = await conn.createChannel();
    await deleteTopology(ch, buildTopology(prefix));
    await conn.close();
    const redis = await connectRedis();
    await deleteKeys(redis, `${prefix}:`);
    redis.disconnect();
  });

  it('announces the real Redis and RabbitMQ at their default addresses, the bundles it runs, the URL and an example key', () => {
    expect(out).toMatch(/local: Redis\s+redis:\/\/127\.0\.0\.1:6379 \(answered at the default address\)/);
    expect(out).toMatch(/local: RabbitMQ\s+amqp:\/\/127\.0\.0\.1:5672 \(answered at the default address\)/);
    expect(out).toMatch(/local: bundles\s+proxy [0-9a-f]{12}\s+worker [0-9a-f]{12}/);
    expect(out).toContain(`local: example key ${REALTIME} (tier critical)`);
  });

  it('under its --burst, sheds low-priority calls and keeps every real-time call', () => {
    const line = /burst: low (\d+) sent -> (.*); critical (\d+) sent -> (.*)/.exec(out)!;
    expect(line[2]).toMatch(/\d+x (503|429)/);
    expect(line[4]).toBe(`${line[3]}x 200`);
    expect(out).toMatch(/burst: a shed low-priority call got (503|429) retry-after: \d+/);
  });

  it('answers a synchronous call', async () => {
    const res = await call(REALTIME, { max_tokens: 4 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);
  });

  it('streams a call as server-sent events ending with [DONE]', async () => {
    const res = await call(REALTIME, { stream: true, max_tokens: 4 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text.match(/^data: \{/gm)?.length).toBeGreaterThanOrEqual(4);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('runs an asynchronous job through RabbitMQ and the worker bundle, polled until it succeeded', async () => {
    const submit = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${BATCH}` },
      body: JSON.stringify({ model: 'local-model', messages: [{ role: 'user', content: 'later' }], max_tokens: 4 }),
    });
    expect(submit.status).toBe(202);
    const job = (await submit.json()) as { url: string; status: string };
    expect(job.status).toBe('queued');
    const done = await waitFor('the job to succeed', 60_000, async () => {
      const r = (await (await fetch(`${base}${job.url}`, { headers: { authorization: `Bearer ${BATCH}` } })).json()) as { status: string; result?: unknown };
      return r.status === 'succeeded' ? r : undefined;
    }, 200);
    expect(done.result).toMatchObject({ object: 'chat.completion' });
  });

  it('rate-limits a key past its burst with 429 and Retry-After', async () => {
    // The brief's 10 requests/s with a burst of 20 per key (the app key, tier high; a critical key
    // is let through while Redis is slow to answer, which a loaded machine can make it).
    // Batches of 60 at once until one is refused (at most three: a slow machine spreads a batch over
    // more than a second, and the bucket refills 10 per second).
    const statuses: (readonly [number, string | null, string])[] = [];
    for (let batch = 0; batch < 3 && !statuses.some(([st]) => st === 429); batch++) {
      statuses.push(...(await Promise.all(Array.from({ length: 60 }, () => call('sk-local-app', { max_tokens: 1 }).then(async (r) => [r.status, r.headers.get('retry-after'), await r.text()] as const)))));
    }
    const limited = statuses.filter(([s]) => s === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0][1]).toMatch(/^\d+$/);
    expect(limited[0][2]).toMatch(/rate/i);
    expect(statuses.filter(([s]) => s === 200).length).toBeGreaterThanOrEqual(10);
  });

  it('stops every process it started on Ctrl-C (SIGINT) and exits 0', async () => {
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000))]);
    expect(code).toBe(0);
    const pids = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThanOrEqual(4);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
    expect(out).toContain('local: stopped, no process left behind');
  });
});
