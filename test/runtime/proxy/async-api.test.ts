import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { request } from 'undici';
import { Redis } from 'ioredis';
import { createProxy, Proxy } from '../../../runtime/proxy/server';
import { ProxyConfigSchema } from '../../../runtime/proxy/config';
import { hashApiKey } from '../../../runtime/proxy/auth';
import { startSimulator, Simulator } from '../../../runtime/simulator/simulator';
import { JobWorker } from '../../../runtime/worker/worker';
import { WorkerMetrics } from '../../../runtime/worker/metrics';
import { WorkerConfigSchema } from '../../../runtime/worker/config';
import { createModelClient } from '../../../runtime/worker/model-client-factory';
import { CallbackNotifier } from '../../../runtime/worker/callbacks';
import { ModelClient } from '../../../runtime/worker/model-client';
import { RedisJobStore } from '../../../runtime/jobs/store';
import { jobKeyPrefix, topologyOf } from '../../../runtime/jobs/config';
import { ALICE, BOB, call, chatBody } from '../../support/jobs-api-client';
import { AMQP_URL, connectAmqp, connectRedis, deleteKeys, uniqueName, waitFor } from '../../support/services';
import { deleteTopology } from '../../../runtime/jobs/topology';
import { buildTopology } from '../../../contract/queue-topology';

jest.setTimeout(30_000);

const silent = pino({ level: 'silent' });

describe('async job API: proxy -> RabbitMQ -> worker -> simulator', () => {
  const prefix = uniqueName('async-api');
  const redisKeyPrefix = `${prefix}:`;
  let sim: Simulator;
  let proxy: Proxy;
  let base: string;
  let redis: Redis;
  let worker: JobWorker | undefined;
  let model: ModelClient | undefined;
  let callbackServer: Server;
  let callbackUrl: string;
  const callbacks: { jobId: string; body: any }[] = [];

  // the callback server's port is only known once it listens: the allow-list entry names it
  let callbackPort = 0;
  const jobsSection = {
    amqp: { url: AMQP_URL, topologyPrefix: prefix, reconnectBaseMs: 50, reconnectMaxMs: 500 },
    get callbacks() {
      return { allowedHosts: [`127.0.0.1:${callbackPort}`], allowHttp: true, allowPrivateAddresses: true, maxAttempts: 3 };
    },
  };

  beforeAll(async () => {
    redis = await connectRedis();
    sim = await startSimulator({ slots: 4, tokensPerSecond: 0, outputTokens: 2 });
    callbackServer = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        callbacks.push({ jobId: String(req.headers['x-surgeguard-job-id']), body: JSON.parse(text) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => callbackServer.listen(0, '127.0.0.1', r));
    callbackPort = (callbackServer.address() as AddressInfo).port;
    callbackUrl = `http://127.0.0.1:${callbackPort}/hook`;
    const config = ProxyConfigSchema.parse({
      server: { port: 0, host: '127.0.0.1' },
      auth: { keys: [{ name: 'alice', sha256: hashApiKey(ALICE), tier: 'high' }, { name: 'bob', sha256: hashApiKey(BOB) }] },
      pools: { sim: { upstreams: [{ url: sim.url }], health: { enabled: false } } },
      routes: [{ model: 'sim-model', pools: ['sim'] }],
      redis: { keyPrefix: redisKeyPrefix },
      jobs: jobsSection,
      logging: { level: 'silent', accessLog: false },
    });
    proxy = createProxy(config, { logger: silent });
    base = (await proxy.listen()).url;
    await proxy.jobs!.publisher.waitReady(15_000);
  });

  afterAll(async () => {
    await worker?.drain(5_000);
    await model?.close();
    await proxy.drain();
    await sim.close();
    await new Promise((r) => callbackServer.close(r));
    const conn = await connectAmqp();
    const ch = await conn.createChannel();
    await deleteTopology(ch, buildTopology(prefix));
    await conn.close();
    await deleteKeys(redis, redisKeyPrefix);
    redis.disconnect();
  });

  async function startWorker(): Promise<void> {
    const config = WorkerConfigSchema.parse({
      upstream: { upstreams: [{ url: sim.url }], health: { enabled: false } },
      amqp: jobsSection.amqp,
      redis: { keyPrefix: redisKeyPrefix },
      callbacks: jobsSection.callbacks,
      concurrency: 4,
    });
    model = createModelClient(config, silent);
    const metrics = new WorkerMetrics({ defaultMetrics: false });
    worker = new JobWorker({
      amqpUrl: AMQP_URL,
      topology: topologyOf(config.amqp),
      store: new RedisJobStore(redis, { keyPrefix: jobKeyPrefix(redisKeyPrefix), ttlSeconds: 600 }),
      model,
      concurrency: config.concurrency,
      queueDepthPollMs: 0,
      callbacks: new CallbackNotifier(config.callbacks, silent, metrics),
      metrics,
      logger: silent,
    });
    worker.start();
    await worker.waitConnected(15_000);
  }

  const poll = (id: string, key = ALICE) =>
    waitFor(`job ${id} to finish`, 15_000, async () => {
      const r = await call('GET', `${base}/v1/jobs/${id}`, key);
      return ['succeeded', 'failed', 'cancelled'].includes(r.body?.status) ? r : undefined;
    });

  it('cancels a job no worker has started; a second cancel is refused with 409', async () => {
    const submitted = await call('POST', `${base}/v1/jobs`, ALICE, chatBody());
    expect(submitted.status).toBe(202);
    const id = submitted.body.id;
    expect(await call('DELETE', `${base}/v1/jobs/${id}`, BOB)).toMatchObject({ status: 404 });
    const cancelled = await call('DELETE', `${base}/v1/jobs/${id}`, ALICE);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    const again = await call('DELETE', `${base}/v1/jobs/${id}`, ALICE);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('job_not_cancellable');
  });

  it('accepts a job with 202 and a Location, runs it on the model server, and returns the result', async () => {
    await startWorker();
    const before = sim.stats().received;
    const submitted = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('what is 2+2'));
    expect(submitted.status).toBe(202);
    expect(submitted.body).toMatchObject({ object: 'job', status: 'queued', priority: 'high' });
    expect(submitted.body.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(submitted.headers.location).toBe(`/v1/jobs/${submitted.body.id}`);
    const done = await poll(submitted.body.id);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'succeeded', attempts: 1, result: { object: 'chat.completion', choices: [{ index: 0 }] } });
    expect(sim.stats().received - before).toBe(1);
  });

  it('retries a job whose model server answered 503 through the delay queue, then succeeds', async () => {
    sim.configure({ forceStatus: { status: 503 } });
    const before = sim.stats().received;
    try {
      const submitted = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('busy'));
      await waitFor('the refused model call', 10_000, async () => sim.stats().received > before);
      const meanwhile = await call('GET', `${base}/v1/jobs/${submitted.body.id}`, ALICE);
      expect(['running', 'queued']).toContain(meanwhile.body.status);
      sim.configure({ forceStatus: undefined });
      const done = await poll(submitted.body.id);
      expect(done.body).toMatchObject({ status: 'succeeded', attempts: 2, result: { object: 'chat.completion' } });
    } finally {
      sim.configure({ forceStatus: undefined });
    }
  });

  it('fails a job the model server refuses, with its status and error body', async () => {
    sim.configure({ forceStatus: { status: 400 } });
    try {
      const submitted = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('refused'));
      const done = await poll(submitted.body.id);
      expect(done.body.status).toBe('failed');
      expect(done.body.error).toMatchObject({ type: 'upstream_error', upstreamStatus: 400 });
      expect(done.body.error.upstreamBody).toBeDefined();
      expect(done.body.attempts).toBe(1);
    } finally {
      sim.configure({ forceStatus: undefined });
    }
  });

  it('turns a completions request with Prefer: respond-async into a job', async () => {
    const submitted = await call('POST', `${base}/v1/chat/completions`, BOB, chatBody(), { prefer: 'respond-async' });
    expect(submitted.status).toBe(202);
    expect(submitted.body.endpoint).toBe('/v1/chat/completions');
    expect(submitted.body.priority).toBe('medium');
    const done = await poll(submitted.body.id, BOB);
    expect(done.body.status).toBe('succeeded');
  });

  it('shows a job only to the key that created it', async () => {
    const submitted = await call('POST', `${base}/v1/jobs`, ALICE, chatBody());
    const id = submitted.body.id;
    const asBob = await call('GET', `${base}/v1/jobs/${id}`, BOB);
    expect(asBob.status).toBe(404);
    expect(asBob.body.error.code).toBe('job_not_found');
    const unknown = await call('GET', `${base}/v1/jobs/AAAAAAAAAAAAAAAAAAAAAA`, BOB);
    expect(unknown).toMatchObject({ status: 404, body: asBob.body });
    expect((await call('GET', `${base}/v1/jobs/${id}`, ALICE)).status).toBe(200);
    expect((await call('GET', `${base}/v1/jobs/${id}`, 'sk-wrong')).status).toBe(401);
  });

  it('returns the same job for a repeated Idempotency-Key instead of creating another', async () => {
    const first = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('once'), { 'idempotency-key': 'invoice-7' });
    const second = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('once'), { 'idempotency-key': 'invoice-7' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const otherKey = await call('POST', `${base}/v1/jobs`, BOB, chatBody('once'), { 'idempotency-key': 'invoice-7' });
    expect(otherKey.body.id).not.toBe(first.body.id);
    await poll(first.body.id);
  });

  it('answers the same Idempotency-Key with a different request 409 idempotency_key_reused, naming the first job', async () => {
    const first = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('first'), { 'idempotency-key': 'invoice-8' });
    expect(first.status).toBe(202);
    const other = await call('POST', `${base}/v1/jobs`, ALICE, chatBody('something else'), { 'idempotency-key': 'invoice-8' });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ type: 'invalid_request_error', code: 'idempotency_key_reused' });
    expect(other.body.job.id).toBe(first.body.id);
    // another class is another request too
    expect((await call('POST', `${base}/v1/jobs`, ALICE, chatBody('first'), { 'idempotency-key': 'invoice-8', 'x-priority': 'low' })).status).toBe(409);
    await poll(first.body.id);
  });

  it('refuses a 100k-deep body with 400 json_too_deep and writes no job record (no orphan with an Idempotency-Key)', async () => {
    const before = await redis.keys(`${redisKeyPrefix}*`);
    const deepBody = `{"model":"sim-model","messages":[{"role":"user","content":"x"}],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const res = await request(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json', 'idempotency-key': 'deep-1' },
      body: deepBody,
    });
    const body = JSON.parse(await res.body.text());
    expect(res.statusCode).toBe(400);
    expect(body.error.code).toBe('json_too_deep');
    expect((await redis.keys(`${redisKeyPrefix}*`)).sort()).toEqual(before.sort());
  });

  it('answers an oversized body 413 request_too_large, the same code as the synchronous endpoints', async () => {
    const big = { ...chatBody(), pad: 'x'.repeat(1_100_000) };
    const job = await call('POST', `${base}/v1/jobs`, ALICE, big);
    const sync = await call('POST', `${base}/v1/chat/completions`, ALICE, big);
    expect([job.status, job.body.error.code]).toEqual([413, 'request_too_large']);
    expect([sync.status, sync.body.error.code]).toEqual([413, 'request_too_large']);
  });

  it('posts the finished job to an allow-listed callback URL and refuses other hosts', async () => {
    const submitted = await call('POST', `${base}/v1/jobs`, ALICE, chatBody(), { 'x-callback-url': callbackUrl });
    expect(submitted.status).toBe(202);
    const hook = await waitFor('the callback', 15_000, async () => callbacks.find((c) => c.jobId === submitted.body.id));
    expect(hook.body).toMatchObject({ id: submitted.body.id, status: 'succeeded', result: { object: 'chat.completion' } });
    const refused = await call('POST', `${base}/v1/jobs`, ALICE, chatBody(), { 'x-callback-url': 'http://169.254.169.254/latest' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('169.254.169.254:80 is not in the allow-list');
    // an allow-listed host on another port is another host
    const otherPort = await call('POST', `${base}/v1/jobs`, ALICE, chatBody(), { 'x-callback-url': `http://127.0.0.1:6379/hook` });
    expect(otherPort.body.error.message).toContain('127.0.0.1:6379 is not in the allow-list');
  });

  it('validates a submission like a synchronous request', async () => {
    expect((await call('POST', `${base}/v1/jobs`, ALICE, { ...chatBody(), model: 'nope' })).status).toBe(404);
    expect((await call('POST', `${base}/v1/jobs`, ALICE, { ...chatBody(), stream: true })).body.error.code).toBe('stream_not_supported');
    expect((await call('POST', `${base}/v1/jobs`, ALICE, { model: 'sim-model' })).body.error.code).toBe('unknown_job_type');
    expect((await call('GET', `${base}/v1/jobs`, ALICE)).status).toBe(405);
  });

  it('answers 503 at once when the broker is unreachable, while synchronous requests still work', async () => {
    const config = ProxyConfigSchema.parse({
      server: { port: 0, host: '127.0.0.1' },
      auth: { keys: [{ name: 'alice', sha256: hashApiKey(ALICE) }] },
      pools: { sim: { upstreams: [{ url: sim.url }], health: { enabled: false } } },
      routes: [{ model: 'sim-model', pools: ['sim'] }],
      redis: { keyPrefix: redisKeyPrefix },
      // Nothing listens on port 1: the broker is "down".
      jobs: { amqp: { url: 'amqp://guest:guest@127.0.0.1:1', topologyPrefix: prefix } },
      logging: { level: 'silent', accessLog: false },
    });
    const down = createProxy(config, { logger: silent });
    const url = (await down.listen()).url;
    try {
      const before = await redis.keys(`${redisKeyPrefix}*`);
      const refused = await call('POST', `${url}/v1/jobs`, ALICE, chatBody(), { 'idempotency-key': 'while-down' });
      expect(refused.status).toBe(503);
      // nothing written for a submission that could not be published
      expect((await redis.keys(`${redisKeyPrefix}*`)).sort()).toEqual(before.sort());
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.body.error.code).toBe('job_queue_unavailable');
      expect(refused.body.error.message).toMatch(/job queue is unavailable .*not accepted/);
      const sync = await call('POST', `${url}/v1/chat/completions`, ALICE, chatBody());
      expect(sync.status).toBe(200);
      expect(sync.body.object).toBe('chat.completion');
    } finally {
      await down.drain();
    }
  });
});
