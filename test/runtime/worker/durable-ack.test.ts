import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Redis } from 'ioredis';
import { startSimulator, Simulator } from '../../../runtime/simulator/simulator';
import { PRIORITY_CLASSES } from '../../../contract/priority';
import { RedisJobStore } from '../../../runtime/jobs/store';
import { JobPublisher } from '../../../runtime/jobs/publisher';
import { JobSubmitter } from '../../../runtime/jobs/submit';
import { ownerOf } from '../../../runtime/jobs/model';
import { JobWorker } from '../../../runtime/worker/worker';
import { WorkerMetrics } from '../../../runtime/worker/metrics';
import { HttpModelClient } from '../../../runtime/worker/model-client';
import { workerCount } from '../../support/job-harness';
import { AMQP_URL, connectAmqp, PrivateRedis, testTopology, waitFor } from '../../support/services';

jest.setTimeout(180_000);

/**
 * Issue 17 item 9, at the worker: a job's message is acked only once its result is on a replica
 * (Redis `WAIT`), so a failover of the primary right after an ack cannot lose a result whose
 * message is gone. A real broker (the shared node, a topology of this test's own) and a private
 * primary + replica pair of redis-server processes started here.
 */
describe('worker: no ack while the result is not durable (real broker, real primary + replica)', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let primaryClient: Redis;
  let replicaClient: Redis;
  let sim: Simulator;
  const dir = mkdtempSync(join(tmpdir(), 'surgeguard-durable-ack-'));
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    primary = await PrivateRedis.start(['--dir', dir, '--dbfilename', 'primary.rdb']);
    replica = await PrivateRedis.start(['--dir', dir, '--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(primary.port)]);
    await replica.waitReplicaLinkUp();
    primaryClient = new Redis({ port: primary.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    replicaClient = new Redis({ port: replica.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    replicaClient.on('error', () => undefined);
    sim = await startSimulator({ slots: 8, tokensPerSecond: 0, outputTokens: 2, latencyMs: 20 });
  });

  afterAll(async () => {
    // each clean-up bounded, so one that hangs cannot keep the others (and the private servers) from running
    for (const close of closers.reverse()) await Promise.race([close().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
    await sim?.close();
    primaryClient?.disconnect();
    replicaClient?.disconnect();
    await replica?.stop();
    await primary?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** WAIT commands the primary has answered so far (any client: only the workers send it here). */
  const waitCalls = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(await primaryClient.info('commandstats'))?.[1] ?? 0);

  it('holds the message while the replica is gone (also on redelivery to another worker) and acks once the replica has the result', async () => {
    const { topology, dispose } = await testTopology('durable-ack');
    closers.push(dispose);
    const keyPrefix = 'durable-ack:';
    const store = new RedisJobStore(primaryClient, { keyPrefix, ttlSeconds: 600, durability: { replicas: 1, timeoutMs: 300 } });
    const publisher = new JobPublisher({ url: AMQP_URL, topology });
    closers.push(() => publisher.close());
    const model = new HttpModelClient(sim.url, { connectMs: 1_000, ttfbMs: 5_000, idleMs: 5_000, totalMs: 10_000 }, 4);
    closers.push(() => model.close());
    const newWorker = () => {
      const metrics = new WorkerMetrics({ defaultMetrics: false });
      const worker = new JobWorker({
        amqpUrl: AMQP_URL,
        topology,
        store,
        model,
        concurrency: 2,
        backoff: { baseMs: 100, capMs: 400 },
        queueDepthPollMs: 0,
        metrics,
        logger: pino({ level: 'silent' }),
      });
      closers.push(() => worker.drain(2_000));
      return { worker, metrics };
    };
    const queued = async () => {
      const conn = await connectAmqp();
      try {
        const ch = await conn.createChannel();
        return (await ch.checkQueue(topology.classQueues.medium.name)).messageCount;
      } finally {
        await conn.close();
      }
    };

    publisher.start();
    await publisher.waitReady(60_000);
    await replica.stop();

    // A: the worker runs the job and writes the result, but no replica acknowledges it: it keeps
    // retrying (each attempt a WAIT) and does not ack.
    const { job } = await new JobSubmitter(store, publisher).submit({
      owner: ownerOf('durable-ack'),
      priorityClass: PRIORITY_CLASSES[2]!,
      endpoint: '/v1/chat/completions',
      request: { model: 'sim-model', messages: [{ role: 'user', content: 'keep me' }] },
    });
    const a = newWorker();
    const waitsBeforeA = await waitCalls();
    a.worker.start();
    await a.worker.waitConnected(60_000);
    await waitFor('worker A to retry the durable write', 30_000, async () => (await waitCalls()) >= waitsBeforeA + 3, 50);
    expect((await store.get(job.id))?.status).toBe('succeeded'); // on the primary only
    expect(await workerCount(a.metrics.jobs, { outcome: 'done' })).toBe(0);
    expect(sim.stats().received).toBe(1);
    // Stopped meanwhile, worker A gives the message back: the job is still in the queue.
    await a.worker.drain(1_000);
    await waitFor('the message back in the queue', 15_000, async () => (await queued()) === 1, 100);

    // B: another worker gets the redelivered message. The record is final (A wrote it), but only
    // on the primary: B must not ack on that read either, and does not call the model again.
    const b = newWorker();
    const waitsBeforeB = await waitCalls();
    b.worker.start();
    await b.worker.waitConnected(60_000);
    const held = await waitFor('worker B to ack, or to hold the message while it checks the replica', 30_000, async () => {
      if ((await workerCount(b.metrics.jobs)) > 0) return 'acked';
      return (await workerCount(b.metrics.redeliveries)) > 0 && (await waitCalls()) >= waitsBeforeB + 3 ? 'held' : undefined;
    }, 50);
    expect(held).toBe('held');
    expect(sim.stats().received).toBe(1);

    // The replica is back: B acks (as a duplicate: no second model call) and the result is on the replica.
    await replica.start();
    await replica.waitReplicaLinkUp();
    await waitFor('worker B to ack', 30_000, async () => (await workerCount(b.metrics.jobs, { outcome: 'duplicate' })) === 1, 50);
    expect(await replicaClient.hget(store.jobKey(job.id), 'status')).toBe('succeeded');
    expect(JSON.parse((await replicaClient.hget(store.jobKey(job.id), 'result')) ?? 'null')).toMatchObject({ choices: [{ message: {} }] });
    await b.worker.drain(5_000);
    expect(await queued()).toBe(0); // acked: not given back by the drain
    expect(sim.stats().received).toBe(1);
    const conn = await connectAmqp();
    try {
      const ch = await conn.createChannel();
      expect((await ch.checkQueue(topology.deadLetterQueue.name)).messageCount).toBe(0);
    } finally {
      await conn.close();
    }
  });
});
