import { PRIORITY_CLASSES } from '../../../contract/priority';
import { seededRandom } from '../../../runtime/common/clock';
import { JobSubmitter } from '../../../runtime/jobs/submit';
import { ownerOf } from '../../../runtime/jobs/model';
import { AMQP_URL, connectAmqp, waitFor } from '../../support/services';
import { JobHarness, startJobHarness } from '../../support/job-harness';
import { WorkerProcess, writeWorkerConfig } from '../../support/worker-process';

jest.setTimeout(90_000);

const JOBS = 1_000;
const KILLS = 4;
const CONCURRENCY = 10;

describe('worker process killed with SIGKILL mid-run', () => {
  let h: JobHarness;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    // Each model call takes ~40 ms, so the worker always has jobs in flight when it is killed.
    h = await startJobHarness('no-loss', { slots: 32, tokensPerSecond: 0, outputTokens: 2, latencyMs: 40 });
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await h.close();
  });

  it('loses no job and stores one result each; model calls stay within jobs + kills x concurrency', async () => {
    const submitter = new JobSubmitter(h.store, h.publisher);
    const owner = ownerOf('no-loss');
    const ids: string[] = [];
    for (let batch = 0; batch < JOBS; batch += 100) {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          submitter.submit({
            owner,
            priorityClass: PRIORITY_CLASSES[(batch + i) % PRIORITY_CLASSES.length]!,
            endpoint: '/v1/chat/completions',
            request: { model: 'sim-model', messages: [{ role: 'user', content: `job ${batch + i}` }] },
          }),
        ),
      );
      ids.push(...results.map((r) => r.job.id));
    }
    expect(new Set(ids).size).toBe(JOBS);

    const configFile = writeWorkerConfig({
      server: { port: 0, host: '127.0.0.1' },
      amqp: { url: AMQP_URL, topologyPrefix: h.prefix, reconnectBaseMs: 50, reconnectMaxMs: 500 },
      redis: { keyPrefix: h.redisKeyPrefix },
      upstream: { upstreams: [{ url: h.sim.url }], health: { enabled: false } },
      concurrency: CONCURRENCY,
      logging: { level: 'info' },
    });
    const succeeded = async (): Promise<number> => {
      const pipeline = h.redis.pipeline();
      for (const id of ids) pipeline.hget(h.store.jobKey(id), 'status');
      const replies = (await pipeline.exec()) ?? [];
      return replies.filter(([, status]) => status === 'succeeded').length;
    };

    const random = seededRandom(20261121); // random kill moments, reproducible
    for (let kill = 0; kill < KILLS; kill++) {
      const worker = new WorkerProcess(configFile);
      workers.push(worker);
      await worker.waitForLog('worker consuming');
      // Let it work for a random while, and kill it only while model calls are in flight.
      await new Promise((r) => setTimeout(r, 150 + random() * 600));
      await waitFor('model calls in flight', 10_000, async () => h.sim.stats().inFlight > 0, 5);
      worker.kill('SIGKILL');
      expect((await worker.exited).signal).toBe('SIGKILL');
    }
    const doneBeforeLastWorker = await succeeded();
    expect(doneBeforeLastWorker).toBeLessThan(JOBS); // the kills really happened mid-run

    const last = new WorkerProcess(configFile);
    workers.push(last);
    await waitFor('every job to succeed', 60_000, async () => (await succeeded()) === JOBS, 200);

    // Exactly one stored result per job, and no job ran more often than the kills explain.
    const pipeline = h.redis.pipeline();
    for (const id of ids) pipeline.hmget(h.store.jobKey(id), 'status', 'attempts', 'result', 'error');
    const rows = ((await pipeline.exec()) ?? []).map(([, row]) => row as (string | null)[]);
    expect(rows.every(([status, , result, error]) => status === 'succeeded' && result !== null && error === null)).toBe(true);
    const attempts = rows.reduce((sum, [, a]) => sum + Number(a), 0);
    const modelCalls = h.sim.stats().received;
    expect(modelCalls).toBeGreaterThanOrEqual(JOBS);
    expect(modelCalls).toBeLessThanOrEqual(JOBS + KILLS * CONCURRENCY);
    expect(attempts).toBeLessThanOrEqual(JOBS + KILLS * CONCURRENCY);
    expect(attempts).toBeGreaterThan(JOBS); // killed in-flight jobs ran again

    // Nothing left behind: every message was acked, nothing was dead-lettered.
    const conn = await connectAmqp();
    try {
      const ch = await conn.createChannel();
      for (const cls of PRIORITY_CLASSES) expect((await ch.checkQueue(h.topology.classQueues[cls].name)).messageCount).toBe(0);
      expect((await ch.checkQueue(h.topology.deadLetterQueue.name)).messageCount).toBe(0);
    } finally {
      await conn.close();
    }

    last.kill('SIGTERM');
    expect(await last.exited).toEqual({ code: 0, signal: null });
    process.stdout.write(
      `no-loss: ${JOBS} jobs, ${KILLS} SIGKILLs, ${modelCalls} model calls (bound ${JOBS + KILLS * CONCURRENCY}), ${attempts - JOBS} re-runs\n`,
    );
  });
});
