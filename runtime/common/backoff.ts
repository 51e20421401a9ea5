import type { RandomSource } from './clock';

/** An exponential backoff: its ceilings, and how much of a ceiling a wait keeps at least. */
export interface BackoffOptions {
  /** Ceiling of the first wait, ms. */
  readonly baseMs: number;
  /** Largest ceiling, ms. */
  readonly capMs: number;
  /**
   * Share of the ceiling every wait keeps at least (0..1). 0 is full jitter (the proxy's
   * retries: a burst of retries spreads over the whole window); reconnect loops use
   * {@link RECONNECT_MIN_SHARE} so they can never spin. @default 0
   */
  readonly minShare?: number;
}

/** The floor of reconnect waits (broker, Redis, callbacks): a tenth of the ceiling. */
export const RECONNECT_MIN_SHARE = 0.1;

/**
 * The one backoff of the runtimes: exponential with jitter (AWS architecture blog, "Exponential
 * Backoff and Jitter"). Before retry `attempt` (0-based: 0 is the first retry after a failure)
 * wait uniformly in [minShare, 1) x min(cap, base * 2^attempt), whole ms. Pure; the caller sleeps.
 */
export function backoffMs(attempt: number, options: BackoffOptions, random: RandomSource = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const minShare = options.minShare ?? 0;
  return Math.floor(ceiling * (minShare + (1 - minShare) * random()));
}

/**
 * The three HTTP-date forms a recipient accepts (RFC 9110 §5.6.7: IMF-fixdate, RFC 850 and
 * asctime) all start with the day name; anything else is not a date, however leniently
 * `Date.parse` would read it ("later 2099" would otherwise become a wait of decades).
 */
const HTTP_DATE_START = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /i;

/**
 * Parses a Retry-After header (delta-seconds or HTTP date) into milliseconds from `nowMs`.
 * Returns undefined when absent or unparsable; never negative.
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  if (!HTTP_DATE_START.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
