import { Agent, request } from 'undici';
import { PRIORITY_CLASSES, type PriorityClass } from '../../contract/priority';
import type { RandomSource } from '../../runtime/common/clock';

/**
 * Open-loop client population for the surge benchmark. Arrivals follow a Poisson process whose
 * rate changes by phase (precomputed from a seeded PRNG, so every setup gets the very same
 * schedule). Each arrival is one logical request with a class and a deadline; it is sent with
 * the naive client retry loop the brief describes — exponential backoff with full jitter
 * (base 1 s, cap 30 s, at most 5 tries), honouring Retry-After — until it succeeds or its
 * deadline passes (the in-flight try is then aborted).
 */
export interface Phase {
  readonly name: string;
  readonly durationS: number;
  /** Arrivals per second. */
  readonly rate: number;
}

export interface Arrival {
  readonly index: number;
  /** Offset from the start of the run, ms. */
  readonly atMs: number;
  readonly cls: PriorityClass;
}

export interface Outcome {
  readonly index: number;
  readonly cls: PriorityClass;
  readonly atMs: number;
  /** Success: a 2xx answer within the deadline. */
  readonly ok: boolean;
  /** From arrival to the final answer (or to the deadline), ms. */
  readonly latencyMs: number;
  /** Offset of the final answer from the run start, ms. */
  readonly doneAtMs: number;
  /** Tries the client made (each one reached the target). */
  readonly tries: number;
  /** Last HTTP status, or `error` / `deadline`. */
  readonly last: string;
  /**
   * Every try: when it was sent (ms since the run start), how long it took, its status (or
   * `error` / `deadline`) and the proxy's `x-surgeguard-shed` reason; each try carries
   * `x-request-id: r<index>t<try>`, so it can be found in the proxies' access logs.
   */
  readonly trace: readonly TryRecord[];
  /** `x-sim-name` of the answer that succeeded: which simulated server served it. */
  readonly servedBy?: string;
}

export interface TryRecord {
  readonly atMs: number;
  readonly ms: number;
  readonly status: string;
  readonly shed?: string;
}

export interface RetryPolicy {
  readonly maxTries: number;
  readonly baseMs: number;
  readonly capMs: number;
}

export const NAIVE_RETRY: RetryPolicy = { maxTries: 5, baseMs: 1_000, capMs: 30_000 };

const RETRIABLE = new Set([429, 500, 502, 503, 504]);

/** Poisson arrivals over the phases with classes drawn from `mix` (shares summing to 1). */
export function poissonSchedule(phases: readonly Phase[], mix: Readonly<Record<PriorityClass, number>>, random: RandomSource): Arrival[] {
  const out: Arrival[] = [];
  let phaseStart = 0;
  for (const p of phases) {
    const end = phaseStart + p.durationS * 1000;
    let t = phaseStart;
    for (;;) {
      t += (-Math.log(1 - random()) / p.rate) * 1000;
      if (t >= end) break;
      out.push({ index: out.length, atMs: t, cls: pickClass(mix, random()) });
    }
    phaseStart = end;
  }
  return out;
}

function pickClass(mix: Readonly<Record<PriorityClass, number>>, u: number): PriorityClass {
  let acc = 0;
  for (const c of PRIORITY_CLASSES) {
    acc += mix[c];
    if (u < acc) return c;
  }
  return 'low';
}

export interface RunOptions {
  /** Picks the origin of each try (a proxy, or one of the simulators for direct clients). */
  readonly originFor: (arrival: Arrival, tryNo: number) => string;
  readonly deadlineMs: number;
  readonly retry: RetryPolicy;
  readonly random: RandomSource;
  readonly body: (arrival: Arrival) => string;
  /** Headers sent with every try (e.g. an API key). */
  readonly headers?: Record<string, string>;
  /** TLS of an https origin: the CA to trust and the name to verify (a local stand-in of a public name). */
  readonly tls?: { readonly ca: string; readonly servername: string };
}

/** Plays the schedule in real time and resolves with one outcome per arrival. */
export async function playSchedule(schedule: readonly Arrival[], options: RunOptions): Promise<Outcome[]> {
  const agent = new Agent({ connections: 2_048, pipelining: 1, keepAliveTimeout: 30_000, ...(options.tls ? { connect: { ca: options.tls.ca, servername: options.tls.servername } } : {}) });
  const start = performance.now();
  const outcomes: Outcome[] = new Array(schedule.length);
  const pending: Promise<void>[] = [];
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - start;
      while (next < schedule.length && schedule[next].atMs <= elapsed) {
        const a = schedule[next++];
        pending.push(one(a).then((o) => void (outcomes[a.index] = o)));
      }
      if (next >= schedule.length) return resolve();
      setTimeout(tick, Math.max(0, Math.min(5, schedule[next].atMs - (performance.now() - start))));
    };
    tick();
  });
  await Promise.all(pending);
  await agent.close();
  return outcomes;

  async function one(a: Arrival): Promise<Outcome> {
    const arrivedAt = start + a.atMs;
    const deadlineAt = arrivedAt + options.deadlineMs;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), Math.max(0, deadlineAt - performance.now()));
    let tries = 0;
    let last = 'deadline';
    const trace: TryRecord[] = [];
    try {
      while (tries < options.retry.maxTries && performance.now() < deadlineAt) {
        tries++;
        let retryAfterMs = 0;
        const sentAt = performance.now();
        try {
          const remainingS = Math.max(0.001, (deadlineAt - performance.now()) / 1000);
          const res = await request(`${options.originFor(a, tries)}/v1/chat/completions`, {
            method: 'POST',
            dispatcher: agent,
            signal: abort.signal,
            headers: { ...options.headers, 'content-type': 'application/json', 'x-priority': a.cls, 'x-request-timeout': remainingS.toFixed(3), 'x-user-id': `user-${a.index % 997}`, 'x-request-id': `r${a.index}t${tries}` },
            body: options.body(a),
          });
          await res.body.dump();
          last = String(res.statusCode);
          const shed = res.headers['x-surgeguard-shed'];
          trace.push({ atMs: sentAt - start, ms: performance.now() - sentAt, status: last, ...(typeof shed === 'string' ? { shed } : {}) });
          if (res.statusCode >= 200 && res.statusCode < 300) {
            const now = performance.now();
            const servedBy = res.headers['x-sim-name'];
            if (now <= deadlineAt) return { index: a.index, cls: a.cls, atMs: a.atMs, ok: true, latencyMs: now - arrivedAt, doneAtMs: now - start, tries, last, trace, ...(typeof servedBy === 'string' ? { servedBy } : {}) };
            break;
          }
          if (!RETRIABLE.has(res.statusCode)) break;
          const ra = Number(res.headers['retry-after']);
          if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
        } catch {
          if (abort.signal.aborted) {
            last = 'deadline';
            trace.push({ atMs: sentAt - start, ms: performance.now() - sentAt, status: last });
            break;
          }
          last = 'error';
          trace.push({ atMs: sentAt - start, ms: performance.now() - sentAt, status: last });
        }
        if (tries >= options.retry.maxTries) break;
        const backoff = options.random() * Math.min(options.retry.capMs, options.retry.baseMs * 2 ** (tries - 1));
        const wait = Math.max(backoff, retryAfterMs);
        if (performance.now() + wait >= deadlineAt) break;
        await new Promise((r) => setTimeout(r, wait));
      }
    } finally {
      clearTimeout(timer);
    }
    const end = Math.min(performance.now(), deadlineAt);
    return { index: a.index, cls: a.cls, atMs: a.atMs, ok: false, latencyMs: end - arrivedAt, doneAtMs: end - start, tries, last, trace };
  }
}

/** `n` rounded to `d` decimals; null when it is not a finite number (printed as "-"). */
export const round = (n: number, d = 1): number | null => (Number.isFinite(n) ? Math.round(n * 10 ** d) / 10 ** d : null);

/** Success % of the requests that arrived in second `t`, per class (null: none arrived). */
export type SecondRow = { t: number } & Partial<Record<PriorityClass | 'all', number | null>>;

/** One row per arrival second of the run, per class, and over every class with `withAll`. */
export function successPerSecond(outcomes: readonly Outcome[], totalS: number, withAll = false): SecondRow[] {
  const pct = (os: readonly Outcome[]) => (os.length === 0 ? null : round((100 * os.filter((o) => o.ok).length) / os.length, 1));
  const rows: SecondRow[] = [];
  for (let t = 0; t < totalS; t++) {
    const inSecond = outcomes.filter((o) => o.atMs >= t * 1000 && o.atMs < (t + 1) * 1000);
    const row: SecondRow = { t };
    for (const c of PRIORITY_CLASSES) row[c] = pct(inSecond.filter((o) => o.cls === c));
    if (withAll) row.all = pct(inSecond);
    rows.push(row);
  }
  return rows;
}
