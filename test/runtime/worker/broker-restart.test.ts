import pino from 'pino';
import * as amqp from 'amqplib';
import { Redis } from 'ioredis';
import { startSimulator, Simulator } from '../../../runtime/simulator/simulator';
import { buildTopology } from '../../../contract/queue-topology';
import { PRIORITY_CLASSES } from '../../../contract/priority';
import { RedisJobStore } from '../../../runtime/jobs/store';
import { BrokerUnavailableError, JobPublisher } from '../../../runtime/jobs/publisher';
import { JobSubmitter } from '../../../runtime/jobs/submit';
import { ownerOf } from '../../../runtime/jobs/model';
import { JobWorker } from '../../../runtime/worker/worker';
import { WorkerMetrics } from '../../../runtime/worker/metrics';
import { HttpModelClient, ModelClient } from '../../../runtime/worker/model-client';
import { workerCount } from '../../support/job-harness';
import { connectRedis, deleteKeys, PrivateRabbitMQ, uniqueName, waitFor } from '../../support/services';

// Two broker boots (5-15 s each on a busy machine) plus the jobs: generous, every wait bounded.
jest.setTimeout(240_000);

/** The model client the worker uses, counting calls per job and knowing which calls are running. */
class CountingModel implements ModelClient {
  readonly calls = new Map<string, number>();
  readonly running = new Set<string>();
  constructor(private readonly inner: ModelClient) {}
  async call(...args: Parameters<ModelClient['call']>): ReturnType<ModelClient['call']> {
    const [jobId] = args;
    this.calls.set(jobId, (this.calls.get(jobId) ?? 0) + 1);
    this.running.add(jobId);
    try {
      return await this.inner.call(...args);
    } finally {
      this.running.delete(jobId);
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * Issue 17 item 9: the broker *process* dies (SIGKILL of a private RabbitMQ node's Erlang VM, no
 * shutdown sequence) while jobs are queued and running, and comes back on the same data.
 *
 * What the design promises, asserted here:
 * - a job whose publish was confirmed survives the crash (durable quorum queues, persistent
 *   messages) and is run after the restart;
 * - a job running at the worker when the broker dies finishes and its result is stored (Redis
 *   is independent of the broker); its message could not be acked, so the broker redelivers it,
 *   and the worker acks that copy as a duplicate *without calling the model again* (the job
 *   record is final: dedupe by job status);
 * - while the broker is down, a submission is refused at once (503 to a proxy client) and leaves
 *   no job record behind;
 * - publisher and worker reconnect by themselves with backoff: nothing restarts them.
 */
describe('broker process restart (private RabbitMQ node, SIGKILL)', () => {
  const name = uniqueName('broker-restart');
  const topology = buildTopology(name);
  const keyPrefix = `${name}:`;
  const silent = pino({ level: 'silent' });
  let broker: PrivateRabbitMQ | undefined;
  let redis: Redis | undefined;
  let sim: Simulator | undefined;
  let publisher: JobPublisher | undefined;
  let worker: JobWorker | undefined;
  let model: CountingModel | undefined;

  beforeAll(async () => {
    broker = await PrivateRabbitMQ.start();
    redis = await connectRedis();
    // 300 ms per model call: the backlog below takes seconds to drain however fast the machine is.
    sim = await startSimulator({ slots: 32, tokensPerSecond: 0, outputTokens: 2, latencyMs: 300 });
  });

  afterAll(async () => {
    await worker?.drain(5_000).catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    await model?.close().catch(() => undefined);
    await sim?.close();
    if (redis) {
      await deleteKeys(redis, keyPrefix);
      redis.disconnect();
    }
    await broker?.dispose();
  });

  it('loses no confirmed job, reruns no stored result, and producer and worker recover by themselves', async () => {
    const b = broker!;
    const store = new RedisJobStore(redis!, { keyPrefix, ttlSeconds: 600 });
    publisher = new JobPublisher({ url: b.url, topology, backoff: { baseMs: 100, capMs: 1_000 } });
    model = new CountingModel(new HttpModelClient(sim!.url, { connectMs: 1_000, ttfbMs: 5_000, idleMs: 5_000, totalMs: 10_000 }, 16));
    const metrics = new WorkerMetrics({ defaultMetrics: false });
    worker = new JobWorker({
      amqpUrl: b.url,
      topology,
      store,
      model,
      concurrency: 4,
      backoff: { baseMs: 100, capMs: 1_000 },
      queueDepthPollMs: 0,
      metrics,
      logger: silent,
    });
    const submitter = new JobSubmitter(store, publisher);
    const submit = async (i: number) =>
      (
        await submitter.submit({
          owner: ownerOf('broker-restart'),
          priorityClass: PRIORITY_CLASSES[i % 4]!,
          endpoint: '/v1/chat/completions',
          request: { model: 'sim-model', messages: [{ role: 'user', content: `job ${i}` }] },
          idempotencyKey: `job-${i}`,
        })
      ).job.id;

    // 1. A backlog, every publish confirmed by the broker before the worker even starts.
    publisher.start();
    await publisher.waitReady(30_000);
    const before: string[] = [];
    for (let i = 0; i < 40; i += 10) before.push(...(await Promise.all(Array.from({ length: 10 }, (_, k) => submit(i + k)))));

    // 2. The worker runs it; the broker dies while jobs are running, some are done and some still queued.
    worker.start();
    await worker.waitConnected(30_000);
    // The running set is read after the statuses (a job may finish while they are read) and
    // returned, so the kill below follows it with no I/O in between.
    const runningAtCrash = await waitFor('jobs running, some done and some still queued', 60_000, async () => {
      if (model!.running.size === 0) return false;
      const statuses = await Promise.all(before.map(async (id) => (await store.get(id))?.status));
      if (!statuses.includes('succeeded') || !statuses.includes('queued')) return false;
      const running = [...model!.running];
      return running.length > 0 ? running : false;
    }, 10);
    const killed = b.kill();
    await killed;
    expect(runningAtCrash.length).toBeGreaterThan(0);

    // 3. While it is down: submissions are refused at once and leave nothing behind; the running
    //    jobs finish and their results are stored, though their messages cannot be acked.
    await waitFor('the publisher and the worker to notice', 30_000, async () => !publisher!.ready && !worker!.ready, 50);
    const refusedId = submit(1_000);
    await expect(refusedId).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(await redis!.keys(`${keyPrefix}idem:*`)).toHaveLength(before.length);
    expect(await redis!.keys(`${keyPrefix}job:*`)).toHaveLength(before.length);
    await waitFor('jobs running at the crash to finish', 30_000, async () => worker!.inFlight === 0, 50);
    for (const id of runningAtCrash) expect((await store.get(id))?.status).toBe('succeeded');

    // 4. The broker comes back on the same data; nothing is restarted on the client side.
    await b.start();
    await waitFor('the worker and the publisher to reconnect by themselves', 60_000, async () => worker!.ready && publisher!.ready, 100);
    const after = await Promise.all(Array.from({ length: 10 }, (_, k) => submit(2_000 + k)));

    // 5. Every job, confirmed before the crash or submitted after it, succeeds.
    const all = [...before, ...after];
    await waitFor('every job to succeed', 90_000, async () => {
      const jobs = await Promise.all(all.map((id) => store.get(id)));
      return jobs.every((j) => j?.status === 'succeeded');
    }, 200);

    // Run exactly once each: the copies redelivered after the crash of jobs whose result was
    // already stored were acked as duplicates, without a second model call.
    for (const id of all) expect([id, model.calls.get(id)]).toEqual([id, 1]);
    expect(model.calls.size).toBe(all.length);
    expect(await workerCount(metrics.jobs, { outcome: 'duplicate' })).toBeGreaterThanOrEqual(runningAtCrash.length);
    expect(await workerCount(metrics.redeliveries)).toBeGreaterThanOrEqual(runningAtCrash.length);
    expect(await workerCount(metrics.jobs, { outcome: 'dead_lettered' })).toBe(0);

    // Nothing left on the broker: no message lost in the dead-letter queue, none stuck.
    await waitFor('the queues to be empty', 30_000, async () => {
      const conn = await amqp.connect(b.url);
      try {
        const ch = await conn.createChannel();
        const counts = [];
        for (const cls of PRIORITY_CLASSES) counts.push((await ch.checkQueue(topology.classQueues[cls].name)).messageCount);
        counts.push((await ch.checkQueue(topology.deadLetterQueue.name)).messageCount);
        return counts.every((c) => c === 0);
      } finally {
        await conn.close();
      }
    }, 200);
    process.stdout.write(`broker-restart: ${all.length} jobs, ${runningAtCrash.length} running at the crash, ${await workerCount(metrics.jobs, { outcome: 'duplicate' })} duplicates acked without a model call\n`);
  });
});
