import type { ScrapeAnswer } from './saturation';

/**
 * Answers without the capacity gauges a member must give, over at least `SILENT_MIN_SPAN_MS`,
 * before it is reported: a few scrapes, so that a long `saturation.intervalMs` does not report
 * a member on its first answer.
 */
export const SILENT_MIN_ANSWERS = 3;

/**
 * Time a member must answer without the capacity gauges before it is reported. vLLM's older
 * engine (V0) writes its gauges at its first stats log, up to 10 s after start when idle; 30 s
 * is three of those, and short next to what it costs: slow start with nothing to end it.
 */
export const SILENT_MIN_SPAN_MS = 30_000;

/** Why a member's slots cannot be learned: the gauges its `/metrics` lacks, or the status it answered. */
export type SilentReason = { readonly missing: readonly string[] } | { readonly status: number };

/** What a `GaugeWatch` tells. */
export interface GaugeWatchEvents<M> {
  /** A member has answered without the gauges long enough (once per such stretch). */
  readonly onSilent: (member: M, reason: SilentReason, sinceMs: number) => void;
  /** A member reported silent exports the gauges now. */
  readonly onSpeaks: (member: M) => void;
  /** The number of members reported silent changed (members gone included). */
  readonly onCount: (silent: number) => void;
}

export interface GaugeWatchOptions<M> extends GaugeWatchEvents<M> {
  /** @default SILENT_MIN_ANSWERS */
  readonly minAnswers?: number;
  /** @default SILENT_MIN_SPAN_MS */
  readonly minSpanMs?: number;
}

interface SilentRun {
  /** Time of the first answer without the gauges in this stretch. */
  readonly since: number;
  answers: number;
  reported: boolean;
}

/**
 * Tells which scraped members cannot make their slots known: members that answer `/metrics`
 * without vLLM's running and waiting gauges (another server, a hosted API, a proxy) or with a
 * status other than 200 (no `/metrics` at all). Their pool's capacity stays unknown, and with it
 * the limit stays in slow start / additive growth with only a 503 or the latency guard to stop
 * it. A member is reported once it has answered that way `minAnswers` times over `minSpanMs`,
 * once per stretch (not per scrape); an answer with both gauges clears it. A scrape that gets
 * no answer (refused, reset, timed out) neither counts nor clears: that is the health checks'
 * matter, and a member that is down says nothing about its gauges.
 *
 * The caller watches only members whose slots are not declared. Pure: time is passed in.
 */
export class GaugeWatch<M> {
  private readonly runs = new Map<M, SilentRun>();
  private readonly minAnswers: number;
  private readonly minSpanMs: number;
  private silent = 0;

  constructor(private readonly opts: GaugeWatchOptions<M>) {
    this.minAnswers = opts.minAnswers ?? SILENT_MIN_ANSWERS;
    this.minSpanMs = opts.minSpanMs ?? SILENT_MIN_SPAN_MS;
  }

  /** Members reported silent now. */
  get count(): number {
    return this.silent;
  }

  /** Whether `member` is reported silent now. */
  isSilent(member: M): boolean {
    return this.runs.get(member)?.reported === true;
  }

  /** One scrape's answer of `member` at `now`. */
  observe(member: M, answer: ScrapeAnswer, now: number): void {
    if (answer.kind === 'unreachable') return;
    if (answer.kind === 'metrics' && answer.missing.length === 0) {
      const run = this.runs.get(member);
      if (!run) return;
      this.runs.delete(member);
      if (run.reported) {
        this.opts.onSpeaks(member);
        this.setCount(this.silent - 1);
      }
      return;
    }
    let run = this.runs.get(member);
    if (!run) {
      run = { since: now, answers: 0, reported: false };
      this.runs.set(member, run);
    }
    run.answers++;
    if (run.reported || run.answers < this.minAnswers || now - run.since < this.minSpanMs) return;
    run.reported = true;
    this.opts.onSilent(member, answer.kind === 'status' ? { status: answer.status } : { missing: answer.missing }, run.since);
    this.setCount(this.silent + 1);
  }

  /** Forgets the members not in `members` (dropped by discovery): they no longer count. */
  retain(members: Iterable<M>): void {
    const keep = new Set(members);
    let gone = 0;
    for (const [member, run] of this.runs) {
      if (keep.has(member)) continue;
      this.runs.delete(member);
      if (run.reported) gone++;
    }
    if (gone > 0) this.setCount(this.silent - gone);
  }

  private setCount(n: number): void {
    this.silent = n;
    this.opts.onCount(n);
  }
}

/** The reason in words, for a log line: `HTTP 404`, `no vllm:num_requests_running`. */
export function describeSilence(reason: SilentReason): string {
  return 'status' in reason ? `HTTP ${reason.status}` : `no ${reason.missing.join(', no ')}`;
}
