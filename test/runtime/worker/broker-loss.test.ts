import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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
import { HttpModelClient } from '../../../runtime/worker/model-client';
import { connectRedis, deleteKeys, uniqueName, waitFor } from '../../support/services';

jest.setTimeout(90_000);

const run = promisify(execFile);
/**
 * The broker "restarts" for this test's clients only: a private vhost, and
 * `rabbitmqctl close_all_connections -p <vhost>` drops every connection in it. The shared
 * rabbitmq-server keeps running for the other test files.
 */
const rabbitmqctl = (...args: string[]) => run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });

const JOBS = 300;
const CONCURRENCY = 8;
const DROPS = 2;
/** Bounds the producer should a drop never come. */
const MAX_JOBS = 5_000;

describe('broker connections dropped mid-run', () => {
  const name = uniqueName('broker-loss');
  const vhost = name;
  const url = `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(vhost)}`;
  const topology = buildTopology(name);
  const keyPrefix = `${name}:`;
  let redis: Redis;
  let sim: Simulator;

  beforeAll(async () => {
    await rabbitmqctl('add_vhost', vhost);
    await rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
    redis = await connectRedis();
    sim = await startSimulator({ slots: 32, tokensPerSecond: 0, outputTokens: 2, latencyMs: 20 });
  });

  afterAll(async () => {
    await sim.close();
    await deleteKeys(redis, keyPrefix);
    redis.disconnect();
    await rabbitmqctl('delete_vhost', vhost);
  });

  it('loses no job: producer and worker reconnect by themselves and every job succeeds once', async () => {
    const silent = pino({ level: 'silent' });
    const store = new RedisJobStore(redis, { keyPrefix, ttlSeconds: 600 });
    const publisher = new JobPublisher({ url, topology, backoff: { baseMs: 100, capMs: 1_000 } });
    const model = new HttpModelClient(sim.url, { connectMs: 1_000, ttfbMs: 5_000, idleMs: 5_000, totalMs: 10_000 }, 16);
    const worker = new JobWorker({
      amqpUrl: url,
      topology,
      store,
      model,
      concurrency: CONCURRENCY,
      backoff: { baseMs: 100, capMs: 1_000 },
      queueDepthPollMs: 0,
      metrics: new WorkerMetrics({ defaultMetrics: false }),
      logger: silent,
    });
    try {
      publisher.start();
      await publisher.waitReady(15_000);
      worker.start();
      await worker.waitConnected(15_000);
      const submitter = new JobSubmitter(store, publisher);

      // A client that, like a proxy caller getting 503, retries a refused submission later.
      let refused = 0;
      const submitOne = async (i: number): Promise<string> => {
        for (;;) {
          try {
            const { job } = await submitter.submit({
              owner: ownerOf('broker-loss'),
              priorityClass: PRIORITY_CLASSES[i % 4]!,
              endpoint: '/v1/chat/completions',
              request: { model: 'sim-model', messages: [{ role: 'user', content: `job ${i}` }] },
              idempotencyKey: `job-${i}`,
            });
            return job.id;
          } catch (err) {
            if (!(err instanceof BrokerUnavailableError) && (err as Error).name !== 'PublishError') throw err;
            refused++;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      };

      // The producer keeps submitting until every drop has happened (and at least JOBS jobs are
      // in), so each drop meets jobs in flight however fast or slow the machine runs.
      const ids: string[] = [];
      let dropsDone = 0;
      let stop = false;
      const producer = (async () => {
        for (let i = 0; !stop && (i < JOBS || dropsDone < DROPS) && i < MAX_JOBS; i += 10) {
          ids.push(...(await Promise.all(Array.from({ length: 10 }, (_, k) => submitOne(i + k)))));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        for (; dropsDone < DROPS; dropsDone++) {
          await waitFor('jobs in flight', 20_000, async () => sim.stats().inFlight > 0, 5);
          const { stdout } = await rabbitmqctl('close_all_connections', '-p', vhost, 'surgeguard test: broker restart');
          expect(stdout).toMatch(/Closed [1-9]\d* connections/);
          await waitFor('the worker to reconnect', 20_000, async () => worker.ready);
          await new Promise((r) => setTimeout(r, 300));
        }
      } finally {
        stop = dropsDone < DROPS;
        await producer;
      }
      expect(ids.length).toBeGreaterThanOrEqual(JOBS);
      expect(new Set(ids).size).toBe(ids.length);

      await waitFor('every job to succeed', 40_000, async () => {
        const jobs = await Promise.all(ids.map((id) => store.get(id)));
        return jobs.every((j) => j?.status === 'succeeded');
      }, 200);
      // Unconfirmed publishes were retried with the same Idempotency-Key: nothing orphaned.
      const conn = await amqp.connect(url);
      try {
        const ch = await conn.createChannel();
        expect((await ch.checkQueue(topology.deadLetterQueue.name)).messageCount).toBe(0);
        for (const cls of PRIORITY_CLASSES) expect((await ch.checkQueue(topology.classQueues[cls].name)).messageCount).toBe(0);
      } finally {
        await conn.close();
      }
      expect(publisher.ready).toBe(true);
      expect(worker.ready).toBe(true);
      const calls = sim.stats().received;
      expect(calls).toBeGreaterThanOrEqual(ids.length);
      expect(calls).toBeLessThanOrEqual(ids.length + DROPS * CONCURRENCY);
      process.stdout.write(`broker-loss: ${ids.length} jobs, ${DROPS} connection drops, ${refused} submissions refused and retried, ${calls} model calls\n`);
    } finally {
      await worker.drain(5_000);
      await publisher.close();
      await model.close();
    }
  });
});
