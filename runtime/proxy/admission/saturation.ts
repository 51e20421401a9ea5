import { request } from 'undici';
import type { TimerClock, TimerHandle } from '../../common/clock';
import type { SaturationSignal } from './limiter';

/** Saturation figures of one upstream, read from its Prometheus text exposition. */
export interface UpstreamSaturation {
  /** `vllm:num_requests_waiting`, summed over label sets. */
  readonly waiting: number;
  /** `vllm:num_requests_running`, summed over label sets. */
  readonly running: number;
  /** `vllm:gpu_cache_usage_perc` or `vllm:kv_cache_usage_perc` (0..1), the highest label set. */
  readonly kvCacheUsage?: number;
}

/** A sample line: leading whitespace is ignored (text format); comments and blank lines do not match. */
const SAMPLE = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([^\s]+)/;

/** The gauges a member's slots are learned from (`learnSlots`): requests running, requests waiting. */
export const CAPACITY_GAUGES = ['vllm:num_requests_running', 'vllm:num_requests_waiting'] as const;

/** A `/metrics` body read: the figures, and which of `CAPACITY_GAUGES` it lacks (none: its slots can be learned). */
export interface MetricsReading {
  readonly figures: UpstreamSaturation;
  readonly missing: readonly string[];
}

/** Reads the vLLM saturation gauges out of a `/metrics` body. Unknown lines are ignored. */
export function readVllmMetrics(text: string): MetricsReading {
  let waiting = 0;
  let running = 0;
  let kv: number | undefined;
  let sawWaiting = false;
  let sawRunning = false;
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    switch (m[1]) {
      case 'vllm:num_requests_waiting':
        waiting += value;
        sawWaiting = true;
        break;
      case 'vllm:num_requests_running':
        running += value;
        sawRunning = true;
        break;
      case 'vllm:gpu_cache_usage_perc':
      case 'vllm:kv_cache_usage_perc':
        kv = Math.max(kv ?? 0, value);
        break;
      default:
    }
  }
  const figures = kv === undefined ? { waiting, running } : { waiting, running, kvCacheUsage: kv };
  const missing = [...(sawRunning ? [] : [CAPACITY_GAUGES[0]]), ...(sawWaiting ? [] : [CAPACITY_GAUGES[1]])];
  return { figures, missing };
}

/** One member's figures with its known slots (configured or learned), if any. */
export interface MemberSaturation extends UpstreamSaturation {
  readonly slots?: number;
}

/**
 * Combines the upstreams of one pool into one signal: waiting summed and at its least-queued
 * member (saturation means every member queues, as the Kubernetes inference gateway reads it),
 * KV-cache usage at its worst and at its least full member (a full cache counts only when
 * every member's is), slots summed when every member's are known.
 */
export function combineSaturation(parts: readonly MemberSaturation[]): SaturationSignal {
  let waiting = 0;
  let minWaiting = Infinity;
  let kv: number | undefined;
  let minKv = Infinity;
  let running = 0;
  let slots: number | undefined = parts.length > 0 ? 0 : undefined;
  for (const p of parts) {
    waiting += p.waiting;
    running += p.running;
    minWaiting = Math.min(minWaiting, p.waiting);
    if (p.kvCacheUsage !== undefined) kv = Math.max(kv ?? 0, p.kvCacheUsage);
    // a member that does not export the gauge is not known to be full
    minKv = Math.min(minKv, p.kvCacheUsage ?? 0);
    slots = slots === undefined || p.slots === undefined ? undefined : slots + p.slots;
  }
  const base: SaturationSignal = { waiting, minWaiting: Number.isFinite(minWaiting) ? minWaiting : 0, running };
  const withKv = kv === undefined ? base : { ...base, kvCacheUsage: kv, minKvCacheUsage: minKv };
  return slots === undefined ? withKv : { ...withKv, slots };
}

/**
 * How a member answered one scrape: with a metrics text (and which capacity gauges it lacks),
 * with an HTTP status other than 200 (a server without `/metrics`: 404, a hosted API's 401), or
 * not at all (connection refused or reset, timeout: a health matter).
 */
export type ScrapeAnswer =
  | { readonly kind: 'metrics'; readonly missing: readonly string[] }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'unreachable' };

/** One scrape target: a member's `/metrics` URL and what to do with its own figures. */
export interface ScrapeTarget {
  readonly url: string;
  /** Receives how the member answered, after `onFigures` (e.g. to say its slots cannot be learned). */
  readonly onAnswer?: (answer: ScrapeAnswer) => void;
  /** Receives the member's figures (e.g. to learn its slots). */
  readonly onFigures?: (figures: UpstreamSaturation) => void;
  /** The member's known slots (configured or learned), read after `onFigures`. */
  readonly slots?: () => number | undefined;
}

/** What a member's slots are learned from (kept on the member). */
export interface SlotLearner {
  learnedSlots: number | undefined;
  /** Time of its last 503/429 (full). */
  readonly lastOverloadAt: number;
}

/**
 * Learns a member's slots from its figures: the requests it runs while it is full (requests wait
 * at it, or it refused one lately) are its slots. The highest such figure is kept: a pod's
 * `--max-num-seqs` does not change while it lives (a restarted pod is a new member), and
 * running below it while requests wait (a full KV cache) is saturation, which the limit
 * answers on its own.
 */
export function learnSlots(member: SlotLearner, figures: UpstreamSaturation, now: number, recentMs: number): void {
  const full = figures.waiting > 0 || now - member.lastOverloadAt <= recentMs;
  if (!full || figures.running <= 0) return;
  member.learnedSlots = Math.max(member.learnedSlots ?? 0, figures.running);
}

export interface SaturationScraperOptions {
  /** The pool's members to scrape (re-read on every scrape, so it may change). */
  readonly targets: () => readonly ScrapeTarget[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly clock: TimerClock;
  /** Receives the combined signal after each scrape in which at least one target answered. */
  readonly onSignal: (signal: SaturationSignal) => void;
}

/**
 * Scrapes upstream `/metrics` on an interval, the way the Kubernetes inference gateway reads
 * vLLM's queue and KV-cache gauges. A target that does not answer is left out of that round.
 */
export class SaturationScraper {
  private timer: TimerHandle | undefined;
  private stopped = true;

  constructor(private readonly opts: SaturationScraperOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One scrape round; exposed for tests and for an immediate read at start-up. */
  async scrapeOnce(): Promise<SaturationSignal | undefined> {
    const results = await Promise.all(
      this.opts.targets().map(async (t) => {
        const { answer, figures } = await this.scrape(t.url);
        if (figures) t.onFigures?.(figures);
        t.onAnswer?.(answer);
        if (!figures) return undefined;
        const slots = t.slots?.();
        return slots === undefined ? figures : { ...figures, slots };
      }),
    );
    const ok = results.filter((r): r is MemberSaturation => r !== undefined);
    if (ok.length === 0) return undefined;
    const signal = combineSaturation(ok);
    this.opts.onSignal(signal);
    return signal;
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      void this.scrapeOnce().finally(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.opts.intervalMs);
  }

  private async scrape(url: string): Promise<{ answer: ScrapeAnswer; figures?: UpstreamSaturation }> {
    try {
      const res = await request(url, { method: 'GET', headersTimeout: this.opts.timeoutMs, bodyTimeout: this.opts.timeoutMs });
      if (res.statusCode !== 200) {
        await res.body.dump();
        return { answer: { kind: 'status', status: res.statusCode } };
      }
      const { figures, missing } = readVllmMetrics(await res.body.text());
      return { answer: { kind: 'metrics', missing }, figures };
    } catch {
      return { answer: { kind: 'unreachable' } };
    }
  }
}
