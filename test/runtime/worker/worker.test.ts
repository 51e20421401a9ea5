import pino from 'pino';
import type { ChannelModel } from 'amqplib';
import { Redis } from 'ioredis';
import { JobWorker } from '../../../runtime/worker/worker';
import { WorkerMetrics } from '../../../runtime/worker/metrics';
import { HttpModelClient } from '../../../runtime/worker/model-client';
import { RedisJobStore } from '../../../runtime/jobs/store';
import { JobPublisher } from '../../../runtime/jobs/publisher';
import { JobSubmitter } from '../../../runtime/jobs/submit';
import { DEAD_LETTER_REASON_HEADER, JOB_MESSAGE_VERSION, newJobId, ownerOf, JobRecord } from '../../../runtime/jobs/model';
import type { JobQueueTopology } from '../../../contract/queue-topology';
import type { PriorityClass } from '../../../contract/priority';
import { AMQP_URL, connectAmqp, connectRedis, deleteKeys, testTopology, uniqueName, waitFor } from '../../support/services';
import { chatCompletion, TestModelServer } from '../../support/model-server';

jest.setTimeout(30_000);

const TIMEOUTS = { connectMs: 1_000, ttfbMs: 5_000, idleMs: 5_000, totalMs: 10_000 };
const owner = ownerOf('worker-test');

describe('JobWorker against the real RabbitMQ and Redis', () => {
  let redis: Redis;
  let keyPrefix: string;
  let store: RedisJobStore;
  let topology: JobQueueTopology;
  let disposeTopology: () => Promise<void>;
  let publisher: JobPublisher;
  let submitter: JobSubmitter;
  let model: TestModelServer;
  let amqpConn: ChannelModel;
  let worker: JobWorker | undefined;
  let metrics: WorkerMetrics;
  let modelClient: HttpModelClient;

  beforeAll(async () => {
    redis = await connectRedis();
    keyPrefix = `${uniqueName('worker')}:`;
    store = new RedisJobStore(redis, { keyPrefix, ttlSeconds: 600 });
    ({ topology, dispose: disposeTopology } = await testTopology('worker'));
    publisher = new JobPublisher({ url: AMQP_URL, topology });
    publisher.start();
    await publisher.waitReady(15_000);
    submitter = new JobSubmitter(store, publisher);
    model = new TestModelServer();
    await model.start();
    amqpConn = await connectAmqp();
  });

  afterAll(async () => {
    await publisher.close();
    await model.stop();
    await amqpConn.close();
    await disposeTopology();
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
  });

  afterEach(async () => {
    await worker?.drain(5_000);
    worker = undefined;
    await modelClient?.close();
    model.behaviour = ({ jobId }) => chatCompletion(`done ${jobId}`);
    model.calls.length = 0;
  });

  async function startWorker(options: { concurrency?: number; maxRetries?: number } = {}): Promise<JobWorker> {
    metrics = new WorkerMetrics({ defaultMetrics: false });
    modelClient = new HttpModelClient(model.url, TIMEOUTS, 16);
    worker = new JobWorker({
      amqpUrl: AMQP_URL,
      topology,
      store,
      model: modelClient,
      concurrency: options.concurrency ?? 4,
      maxRetries: options.maxRetries ?? 3,
      queueDepthPollMs: 0,
      backoff: { baseMs: 50, capMs: 500 },
      metrics,
      logger: pino({ level: 'silent' }),
    });
    worker.start();
    await worker.waitConnected(15_000);
    return worker;
  }

  const submit = (priorityClass: PriorityClass = 'medium', content = 'hello') =>
    submitter.submit({
      owner,
      priorityClass,
      endpoint: '/v1/chat/completions',
      request: { model: 'test-model', messages: [{ role: 'user', content }] },
    });

  const finished = (id: string, timeoutMs = 15_000): Promise<JobRecord> =>
    waitFor(`job ${id} to finish`, timeoutMs, async () => {
      const job = await store.get(id);
      return job && ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    });

  async function queueCounts(): Promise<number> {
    const ch = await amqpConn.createChannel();
    let total = 0;
    for (const q of Object.values(topology.classQueues)) total += (await ch.checkQueue(q.name)).messageCount;
    await ch.close();
    return total;
  }

  async function takeDeadLetter(): Promise<{ reason: unknown; body: string; kind: unknown } | undefined> {
    const ch = await amqpConn.createChannel();
    const msg = await ch.get(topology.deadLetterQueue.name, { noAck: true });
    await ch.close();
    if (!msg) return undefined;
    const headers = msg.properties.headers ?? {};
    return { reason: headers[DEAD_LETTER_REASON_HEADER], kind: headers['x-surgeguard-dead-letter-kind'], body: msg.content.toString() };
  }

  const metricValue = async (name: string, labels: Record<string, string>): Promise<number> => {
    const metric = await metrics.registry.getSingleMetric(name)?.get();
    const match = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
    return match?.value ?? 0;
  };

  it('runs a submitted job through the model and stores its result', async () => {
    await startWorker();
    const { job } = await submit('high');
    expect(job.status).toBe('queued');
    const done = await finished(job.id);
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ choices: [{ message: { content: `done ${job.id}` } }] });
    expect(done.attempts).toBe(1);
    expect(model.callsFor(job.id)).toBe(1);
    expect(model.calls[0]!.body).toMatchObject({ model: 'test-model', stream: false });
    expect(await metricValue('surgeguard_worker_jobs_total', { class: 'high', outcome: 'done' })).toBe(1);
  });

  it('acks a redelivered job whose result is already stored without calling the model again', async () => {
    await startWorker();
    const { job } = await submit();
    await finished(job.id);
    // The same message again, as after a crash between storing the result and the ack.
    const ch = await amqpConn.createConfirmChannel();
    const copy = { v: JOB_MESSAGE_VERSION, id: job.id, owner, priorityClass: 'medium', endpoint: '/v1/chat/completions', request: { model: 'm' }, submittedAt: Date.now() };
    ch.publish(topology.exchange, 'medium', Buffer.from(JSON.stringify(copy)), { persistent: true, messageId: job.id });
    await ch.waitForConfirms();
    await ch.close();
    await waitFor('the duplicate to be acked', 10_000, async () => (await metricValue('surgeguard_worker_jobs_total', { class: 'medium', outcome: 'duplicate' })) === 1);
    expect(model.callsFor(job.id)).toBe(1);
    expect(await queueCounts()).toBe(0);
    expect((await store.get(job.id))?.result).toMatchObject({ choices: [{ message: { content: `done ${job.id}` } }] });
  });

  it('starts newly submitted critical jobs before low jobs already queued when saturated', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    model.behaviour = async ({ jobId }) => {
      await gate;
      return chatCompletion(jobId);
    };
    await startWorker({ concurrency: 2 });
    const lows = [];
    for (let i = 0; i < 8; i++) lows.push((await submit('low', `low ${i}`)).job.id);
    await waitFor('the worker to be saturated', 10_000, async () => model.calls.length === 2);
    const criticals = [(await submit('critical', 'c1')).job.id, (await submit('critical', 'c2')).job.id];
    // Let the worker receive the critical messages before the slots free up.
    await waitFor('the critical jobs to be buffered', 10_000, async () => (await metricValue('surgeguard_worker_buffered_jobs', {})) >= 2);
    release();
    await Promise.all([...lows, ...criticals].map((id) => finished(id)));
    const order = model.calls.map((c) => c.jobId);
    expect(order.slice(0, 2).sort()).toEqual(lows.slice(0, 2).sort());
    expect(order.slice(2, 4).sort()).toEqual([...criticals].sort());
    expect(order.slice(4).sort()).toEqual(lows.slice(2).sort());
  });

  it('dead-letters a malformed message with the reason and keeps working', async () => {
    await startWorker();
    const ch = await amqpConn.createConfirmChannel();
    ch.publish(topology.exchange, 'high', Buffer.from('{"this is": not json'), { persistent: true, messageId: 'poison-1' });
    ch.publish(topology.exchange, 'high', Buffer.from(JSON.stringify({ v: 1, id: newJobId(), priorityClass: 'high' })), { persistent: true, messageId: 'poison-2' });
    await ch.waitForConfirms();
    await ch.close();
    const { job } = await submit('high');
    expect((await finished(job.id)).status).toBe('succeeded');
    const reasons = [];
    for (let i = 0; i < 2; i++) {
      reasons.push(await waitFor('a dead letter', 10_000, () => takeDeadLetter()));
    }
    expect(reasons.map((r) => r.reason).sort()).toEqual(['malformed: body is not JSON', 'malformed: owner: Invalid input: expected string, received undefined']);
    expect(reasons.every((r) => r.kind === 'malformed')).toBe(true);
    expect(await metricValue('surgeguard_worker_dead_letters_total', { reason: 'malformed' })).toBe(2);
  });

  it('retries a transient upstream failure through the delay queues, then succeeds', async () => {
    model.behaviour = ({ jobId, nth }) =>
      nth <= 2 ? { status: 503, body: { error: { message: 'server busy' } } } : chatCompletion(`finally ${jobId}`);
    await startWorker();
    const { job } = await submit('medium');
    const done = await finished(job.id);
    expect(done.status).toBe('succeeded');
    expect(done.result).toMatchObject({ choices: [{ message: { content: `finally ${job.id}` } }] });
    expect(done.attempts).toBe(3);
    expect(model.callsFor(job.id)).toBe(3);
    expect(await metricValue('surgeguard_worker_jobs_total', { class: 'medium', outcome: 'retried' })).toBe(2);
  });

  it('fails a job the upstream refuses, with the upstream status and error, without retrying', async () => {
    model.behaviour = () => ({ status: 400, body: { error: { message: 'context length exceeded', type: 'invalid_request_error' } } });
    await startWorker();
    const { job } = await submit('medium');
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toEqual({
      type: 'upstream_error',
      message: 'upstream answered 400',
      upstreamStatus: 400,
      upstreamBody: { error: { message: 'context length exceeded', type: 'invalid_request_error' } },
    });
    expect(model.callsFor(job.id)).toBe(1);
  });

  it('dead-letters a job whose transient failures outlast the retries, and marks it failed', async () => {
    model.behaviour = () => ({ status: 429, body: { error: { message: 'slow down' } } });
    await startWorker({ maxRetries: 1 });
    const { job } = await submit('low');
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ type: 'retries_exhausted', upstreamStatus: 429 });
    expect(model.callsFor(job.id)).toBe(2);
    const dead = await waitFor('the dead letter', 10_000, () => takeDeadLetter());
    expect(dead.reason).toBe('retries exhausted after 2 attempts: upstream answered 429');
    expect(JSON.parse(dead.body).id).toBe(job.id);
  });

  it('dead-letters a job that keeps coming back without an outcome before the broker drops it', async () => {
    await startWorker();
    const { job } = await submit('high');
    await finished(job.id);
    // A second message for a fresh job, as delivered for the 20th time (the broker's limit is 20).
    const fresh = await store.create({ id: newJobId(), owner, priorityClass: 'high', endpoint: '/v1/chat/completions' });
    const ch = await amqpConn.createConfirmChannel();
    const body = { v: JOB_MESSAGE_VERSION, id: fresh.job.id, owner, priorityClass: 'high', endpoint: '/v1/chat/completions', request: { model: 'm' }, submittedAt: Date.now() };
    ch.publish(topology.exchange, 'high', Buffer.from(JSON.stringify(body)), { persistent: true, messageId: fresh.job.id, headers: { 'x-delivery-count': topology.deliveryLimit - 1 } });
    await ch.waitForConfirms();
    await ch.close();
    const done = await finished(fresh.job.id);
    expect(done.status).toBe('failed');
    expect(done.error).toEqual({ type: 'delivery_limit', message: 'delivery limit reached: delivered 20 times without an outcome' });
    expect(model.callsFor(fresh.job.id)).toBe(0);
    const dead = await waitFor('the dead letter', 10_000, () => takeDeadLetter());
    expect(dead.kind).toBe('delivery_limit');
  });

  it('does not run a job cancelled before it started', async () => {
    const { job } = await submit('medium');
    const cancelled = await store.cancel(job.id, owner);
    expect(cancelled.outcome).toBe('cancelled');
    await startWorker();
    await waitFor('the cancelled job to be acked', 10_000, async () => (await metricValue('surgeguard_worker_jobs_total', { class: 'medium', outcome: 'cancelled' })) === 1);
    expect(model.callsFor(job.id)).toBe(0);
    expect((await store.get(job.id))?.status).toBe('cancelled');
  });

  it('gives running jobs back to the queue when the drain timeout passes, and another worker finishes them', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    model.behaviour = async ({ jobId, nth }) => {
      if (nth === 1) await gate;
      return chatCompletion(`second try ${jobId}`);
    };
    const first = await startWorker({ concurrency: 2 });
    const ids = [(await submit('high')).job.id, (await submit('high')).job.id];
    await waitFor('both jobs to start', 10_000, async () => model.calls.length === 2);
    await first.drain(300);
    worker = undefined;
    release();
    await startWorker({ concurrency: 2 });
    for (const id of ids) {
      const done = await finished(id);
      expect(done.status).toBe('succeeded');
      expect(done.result).toMatchObject({ choices: [{ message: { content: `second try ${id}` } }] });
    }
  });
});
