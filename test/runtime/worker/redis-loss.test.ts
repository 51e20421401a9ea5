import { ChildProcess, spawn } from 'node:child_process';
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
import { createRedisClient } from '../../../runtime/common/redis';
import { RedisConnectionSchema } from '../../../runtime/common/config/redis';
import { JobWorker } from '../../../runtime/worker/worker';
import { WorkerMetrics } from '../../../runtime/worker/metrics';
import { HttpModelClient } from '../../../runtime/worker/model-client';
import { AMQP_URL, freePort, testTopology, waitFor } from '../../support/services';

jest.setTimeout(60_000);

/**
 * A private Redis for this test only (never the shared one): append-only file fsynced on every
 * write, so a SIGKILL loses nothing and a restart on the same port and directory brings the data
 * back, like a failed-over replica.
 */
function startRedis(port: number, dir: string): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], {
    stdio: 'ignore',
  });
}

describe('Redis lost mid-run', () => {
  let sim: Simulator;
  let port: number;
  let dir: string;
  let server: ChildProcess;

  beforeAll(async () => {
    sim = await startSimulator({ slots: 32, tokensPerSecond: 0, outputTokens: 2, latencyMs: 100 });
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'surgeguard-redis-'));
    server = startRedis(port, dir);
  });

  afterAll(async () => {
    await sim.close();
    if (server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps messages unacked while Redis is down and finishes every job once it is back', async () => {
    const { topology, dispose } = await testTopology('redis-loss');
    const redisConfig = RedisConnectionSchema.parse({ port, keyPrefix: 'loss:' });
    const redis = createRedisClient(redisConfig, process.env, 'durable');
    redis.on('error', () => undefined);
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 1 });
    probe.on('error', () => undefined);
    const store = new RedisJobStore(redis, { keyPrefix: 'loss:jobs:', ttlSeconds: 600 });
    const publisher = new JobPublisher({ url: AMQP_URL, topology });
    const model = new HttpModelClient(sim.url, { connectMs: 1_000, ttfbMs: 5_000, idleMs: 5_000, totalMs: 10_000 }, 16);
    const worker = new JobWorker({
      amqpUrl: AMQP_URL,
      topology,
      store,
      storeReady: () => redis.status === 'ready',
      model,
      concurrency: 5,
      backoff: { baseMs: 100, capMs: 500 },
      queueDepthPollMs: 0,
      metrics: new WorkerMetrics({ defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    });
    try {
      await waitFor('the private redis', 10_000, async () => (await probe.ping().catch(() => undefined)) === 'PONG', 100);
      publisher.start();
      await publisher.waitReady(15_000);
      const submitter = new JobSubmitter(store, publisher);
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const { job } = await submitter.submit({
          owner: ownerOf('redis-loss'),
          priorityClass: PRIORITY_CLASSES[i % 4]!,
          endpoint: '/v1/chat/completions',
          request: { model: 'sim-model', messages: [{ role: 'user', content: `job ${i}` }] },
        });
        ids.push(job.id);
      }
      worker.start();
      await worker.waitConnected(15_000);
      await waitFor('model calls in flight', 10_000, async () => sim.stats().inFlight > 0, 5);

      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      await waitFor('the worker to report not ready', 10_000, async () => !worker.ready);
      await new Promise((r) => setTimeout(r, 1_500));
      server = startRedis(port, dir);

      await waitFor('every job to succeed', 40_000, async () => {
        const jobs = await Promise.all(ids.map((id) => store.get(id).catch(() => undefined)));
        return jobs.every((j) => j?.status === 'succeeded');
      }, 200);
      expect(worker.ready).toBe(true);
      // Jobs whose result could not be stored while Redis was down were not re-run: their
      // messages stayed unacked and the store write was retried until Redis came back.
      expect(sim.stats().received).toBe(ids.length);
    } finally {
      await worker.drain(5_000);
      await publisher.close();
      await model.close();
      redis.disconnect();
      probe.disconnect();
      await dispose();
    }
  });
});
