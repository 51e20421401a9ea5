import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { Redis } from 'ioredis';
import pino from 'pino';
import { buildTopology } from '../contract/queue-topology';
import { PRIORITY_CLASSES } from '../contract/priority';
import { ownerOf } from '../runtime/jobs/model';
import { JobPublisher } from '../runtime/jobs/publisher';
import { RedisJobStore } from '../runtime/jobs/store';
import { JobSubmitter } from '../runtime/jobs/submit';
import { deleteTopology } from '../runtime/jobs/topology';
import { startSimulator } from '../runtime/simulator/simulator';
import { WorkerMetrics } from '../runtime/worker/metrics';
import { HttpModelClient } from '../runtime/worker/model-client';
import { JobWorker } from '../runtime/worker/worker';

/**
 * Soak of the asynchronous path against the local RabbitMQ and Redis and an in-process simulator:
 * N jobs submitted with publisher confirms, run by one worker with C slots. Baseline, measured in
 * the same run: the same N requests sent directly (synchronously) with C in parallel to the same
 * simulator. The ratio is the throughput cost of durability (record, confirm, claim, store, ack).
 *
 *   npm run bench:jobs-soak -- --jobs 2000 --concurrency 10 --latency-ms 20
 */
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a non-negative number`);
  return v;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const jobs = arg('jobs', 2_000);
  const concurrency = arg('concurrency', 10);
  const latencyMs = arg('latency-ms', 20);
  const amqpUrl = process.env.SURGEGUARD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  const redisUrl = process.env.SURGEGUARD_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const prefix = `bench-soak-${randomBytes(4).toString('hex')}`;
  const topology = buildTopology(prefix);
  const sim = await startSimulator({ slots: concurrency * 2, queueSize: jobs, tokensPerSecond: 0, outputTokens: 4, latencyMs });
  const redis = new Redis(redisUrl);
  const store = new RedisJobStore(redis, { keyPrefix: `${prefix}:jobs:`, ttlSeconds: 3_600 });
  const timeouts = { connectMs: 2_000, ttfbMs: 30_000, idleMs: 30_000, totalMs: 60_000 };
  const request = { model: 'sim-model', messages: [{ role: 'user', content: 'soak' }] };
  const log = pino({ level: 'silent' });

  try {
    // Baseline: direct calls, C at a time.
    const direct = new HttpModelClient(sim.url, timeouts, concurrency);
    const never = new AbortController().signal;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < jobs) {
          const i = next++;
          const outcome = await direct.call(`direct-${i}`, '/v1/chat/completions', request, never);
          if (outcome.kind !== 'success') throw new Error(`direct call failed: ${JSON.stringify(outcome)}`);
        }
      }),
    );
    const directSeconds = (performance.now() - t0) / 1000;
    await direct.close();

    // Async: submit everything (confirmed), then one worker with C slots runs it.
    const publisher = new JobPublisher({ url: amqpUrl, topology, logger: log });
    publisher.start();
    await publisher.waitReady(15_000);
    const submitter = new JobSubmitter(store, publisher);
    const owner = ownerOf('bench');
    const ids: string[] = [];
    const s0 = performance.now();
    for (let i = 0; i < jobs; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, jobs - i) }, (_, k) =>
          submitter.submit({ owner, priorityClass: PRIORITY_CLASSES[(i + k) % 4]!, endpoint: '/v1/chat/completions', request }),
        ),
      );
      ids.push(...batch.map((r) => r.job.id));
    }
    const submitSeconds = (performance.now() - s0) / 1000;

    const model = new HttpModelClient(sim.url, timeouts, concurrency);
    const metrics = new WorkerMetrics({ defaultMetrics: false });
    const worker = new JobWorker({
      amqpUrl,
      topology,
      store,
      model,
      concurrency,
      queueDepthPollMs: 0,
      metrics,
      logger: log,
    });
    const w0 = performance.now();
    worker.start();
    // Poll the worker's own counter (cheap) rather than Redis, so polling does not load the run.
    for (;;) {
      const values = (await metrics.jobs.get()).values;
      const done = values.filter((v) => v.labels.outcome === 'done').reduce((sum, v) => sum + v.value, 0);
      if (done >= jobs) break;
      if (performance.now() - w0 > 600_000) throw new Error(`only ${done}/${jobs} jobs finished in 10 min`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const workSeconds = (performance.now() - w0) / 1000;
    await worker.drain(5_000);
    await model.close();
    await publisher.close();

    const records = await Promise.all(ids.map((id) => store.get(id)));
    const runMs = records.map((r) => r!.finishedAt! - r!.startedAt!).sort((a, b) => a - b);
    const calls = sim.stats().received - jobs;

    const rows = [
      ['path', 'requests', 'seconds', 'req/s', 'p50 run ms', 'p99 run ms'],
      ['direct (sync, baseline)', jobs, directSeconds.toFixed(2), (jobs / directSeconds).toFixed(0), '-', '-'],
      ['submit (confirmed 202s)', jobs, submitSeconds.toFixed(2), (jobs / submitSeconds).toFixed(0), '-', '-'],
      ['worker (claim+call+store+ack)', jobs, workSeconds.toFixed(2), (jobs / workSeconds).toFixed(0), percentile(runMs, 50), percentile(runMs, 99)],
    ];
    for (const row of rows) process.stdout.write(`${row.map((c, i) => String(c).padEnd(i === 0 ? 32 : 12)).join('')}\n`);
    process.stdout.write(
      `\nworker throughput / direct throughput = ${(directSeconds / workSeconds).toFixed(2)} ` +
        `(concurrency ${concurrency}, model latency ${latencyMs} ms, ${calls} model calls for ${jobs} jobs)\n`,
    );
  } finally {
    const conn = await amqp.connect(amqpUrl);
    const ch = await conn.createChannel();
    await deleteTopology(ch, topology).catch(() => undefined);
    await conn.close();
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await sim.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`jobs-soak failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
