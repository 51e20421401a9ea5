import { Pool } from 'undici';

/**
 * A small load generator on undici for the benchmarks (proxy overhead, surge). Two modes:
 * - open loop: requests start on a fixed schedule whatever the responses do; latency is measured
 *   from the scheduled start, so a stalled target cannot hide its queueing delay (no coordinated
 *   omission);
 * - closed loop: N workers each send the next request when the previous one finished, for
 *   maximum throughput.
 */
export interface LoadTarget {
  /** Origin, e.g. http://127.0.0.1:8080 */
  readonly origin: string;
  readonly path: string;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface LoadResult {
  /** Requests started. */
  readonly sent: number;
  /** Responses by HTTP status; `error` counts transport errors. */
  readonly statuses: Record<string, number>;
  /** Latencies of completed requests, milliseconds, unsorted. */
  readonly latenciesMs: number[];
  /** Wall-clock duration of the run, milliseconds. */
  readonly elapsedMs: number;
  /** Completed requests per second over the run. */
  readonly throughput: number;
}

export interface OpenLoopOptions {
  /** Requests per second. */
  readonly rate: number;
  readonly durationMs: number;
  /** Connections the generator may open. @default 256 */
  readonly connections?: number;
  /** Per-request header hook (e.g. a priority class per request). */
  readonly headersFor?: (index: number) => Record<string, string> | undefined;
  /** Called with each finished request (for time series). */
  readonly onResult?: (r: { index: number; scheduledAt: number; latencyMs: number; status: number | 'error' }) => void;
}

export interface ClosedLoopOptions {
  readonly concurrency: number;
  readonly durationMs: number;
}

function now(): number {
  return performance.now();
}

async function once(pool: Pool, target: LoadTarget, extraHeaders?: Record<string, string>): Promise<number | 'error'> {
  try {
    const res = await pool.request({
      method: target.method ?? 'POST',
      path: target.path,
      headers: extraHeaders ? { ...target.headers, ...extraHeaders } : target.headers,
      body: target.body,
    });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 'error';
  }
}

/** Fixed-rate load; resolves when every started request finished. */
export async function openLoop(target: LoadTarget, options: OpenLoopOptions): Promise<LoadResult> {
  const pool = new Pool(target.origin, { connections: options.connections ?? 256, pipelining: 1, keepAliveTimeout: 30_000 });
  const statuses: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const pending: Promise<void>[] = [];
  const interval = 1000 / options.rate;
  const total = Math.floor((options.durationMs / 1000) * options.rate);
  const start = now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((now() - start) / interval) + 1);
      while (sent < due) {
        const index = sent++;
        const scheduledAt = start + index * interval;
        pending.push(
          once(pool, target, options.headersFor?.(index)).then((status) => {
            const latencyMs = now() - scheduledAt;
            statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
            if (status !== 'error') latenciesMs.push(latencyMs);
            options.onResult?.({ index, scheduledAt, latencyMs, status });
          }),
        );
      }
      if (sent >= total) resolve();
      else setTimeout(tick, Math.max(0, start + sent * interval - now()));
    };
    tick();
  });
  await Promise.all(pending);
  const elapsedMs = now() - start;
  await pool.close();
  return { sent, statuses, latenciesMs, elapsedMs, throughput: (latenciesMs.length / elapsedMs) * 1000 };
}

/** As many requests as `concurrency` workers can complete in `durationMs`. */
export async function closedLoop(target: LoadTarget, options: ClosedLoopOptions): Promise<LoadResult> {
  const pool = new Pool(target.origin, { connections: options.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const statuses: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const start = now();
  const end = start + options.durationMs;
  let sent = 0;
  const worker = async () => {
    while (now() < end) {
      sent++;
      const t0 = now();
      const status = await once(pool, target);
      statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
      if (status !== 'error') latenciesMs.push(now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = now() - start;
  await pool.close();
  return { sent, statuses, latenciesMs, elapsedMs, throughput: (latenciesMs.length / elapsedMs) * 1000 };
}

/** The q-quantile (0..1) of samples by nearest rank; NaN when empty. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** Share of responses with a 2xx status. */
export function successRatio(result: LoadResult): number {
  let ok = 0;
  for (const [status, n] of Object.entries(result.statuses)) if (status.startsWith('2')) ok += n;
  return result.sent === 0 ? 0 : ok / result.sent;
}
