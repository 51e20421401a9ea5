import { request } from 'undici';
import { JobSubmitter } from '../../../runtime/jobs/submit';
import { ownerOf } from '../../../runtime/jobs/model';
import { AMQP_URL, connectAmqp, waitFor } from '../../support/services';
import { JobHarness, startJobHarness } from '../../support/job-harness';
import { WorkerProcess, writeWorkerConfig } from '../../support/worker-process';

jest.setTimeout(60_000);

describe('worker process lifecycle', () => {
  let h: JobHarness;

  beforeAll(async () => {
    h = await startJobHarness('lifecycle', { slots: 32, tokensPerSecond: 0, outputTokens: 2, latencyMs: 1_500 });
  });

  afterAll(() => h.close());

  it('on SIGTERM finishes running jobs, gives the unstarted ones back to the queue, and exits 0', async () => {
    const submitter = new JobSubmitter(h.store, h.publisher);
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      const { job } = await submitter.submit({
        owner: ownerOf('lifecycle'),
        priorityClass: 'medium',
        endpoint: '/v1/chat/completions',
        request: { model: 'sim-model', messages: [{ role: 'user', content: `job ${i}` }] },
      });
      ids.push(job.id);
    }
    const worker = new WorkerProcess(
      writeWorkerConfig({
        server: { port: 0, host: '127.0.0.1' },
        amqp: { url: AMQP_URL, topologyPrefix: h.prefix },
        redis: { keyPrefix: h.redisKeyPrefix },
        upstream: { upstreams: [{ url: h.sim.url }], health: { enabled: false } },
        concurrency: 3,
        drainTimeoutMs: 10_000,
        logging: { level: 'info' },
      }),
    );
    const listening = await worker.waitForLog('worker listening');
    await worker.waitForLog('worker consuming');
    const base = `http://127.0.0.1:${String(listening.port)}`;
    expect((await request(`${base}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${base}/readyz`);
    await ready.body.dump();
    expect(ready.statusCode).toBe(200);

    await waitFor('three model calls in flight', 10_000, async () => h.sim.stats().inFlight === 3, 10);
    const metrics = await (await request(`${base}/metrics`)).body.text();
    expect(metrics).toContain('surgeguard_worker_inflight_jobs 3');
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['worker draining', 'worker drained', 'worker stopped']));

    const statuses = await Promise.all(ids.map(async (id) => (await h.store.get(id))!.status));
    expect(statuses.filter((s) => s === 'succeeded')).toHaveLength(3);
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(6);
    const conn = await connectAmqp();
    try {
      const ch = await conn.createChannel();
      expect((await ch.checkQueue(h.topology.classQueues.medium.name)).messageCount).toBe(6);
    } finally {
      await conn.close();
    }
    expect(h.sim.stats().received).toBe(3);
  });

  it('refuses to start on an invalid config with exit status 2 (as the proxy does), naming the field', async () => {
    const worker = new WorkerProcess(writeWorkerConfig({ upstream: { upstreams: [] }, concurrency: 0 }));
    const exit = await worker.exited;
    expect(exit.code).toBe(2);
    const stderr = String(worker.lines.find((l) => l.msg === 'stderr')?.stderr ?? '');
    expect(stderr).toContain('concurrency');
    expect(stderr).toContain('upstream.upstreams');
  });
});
