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

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7). */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ([a-z]{3}) (\\d{4}) ${TIME} GMT$`, 'i');
/** Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC_850 = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-([a-z]{3})-(\\d{2}) ${TIME} GMT$`, 'i');
/** Obsolete asctime: `Sun Nov  6 08:49:37 1994` (no zone written, GMT all the same). */
const ASCTIME = new RegExp(`^${DAY} ([a-z]{3}) ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i');

/**
 * An HTTP date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850 or asctime) as epoch ms, always read as
 * GMT. Parsed here rather than by `Date.parse`, which reads an asctime date (no zone) in the
 * process's local time and leniently reads text such as "later 2099" as a year. A two-digit
 * RFC 850 year is the most recent past year with those digits unless that is more than 50 years
 * ago, as the RFC asks. Undefined for anything else, including impossible days and times.
 */
export function parseHttpDate(text: string, nowMs: number): number | undefined {
  let day: string, month: string, year: number, h: string, m: string, s: string;
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    [, day, month, , h, m, s] = match;
    year = Number(match[3]);
  } else if ((match = RFC_850.exec(text))) {
    [, day, month, , h, m, s] = match;
    const thisYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(thisYear / 100) * 100 + Number(match[3]);
    if (year > thisYear + 50) year -= 100;
  } else if ((match = ASCTIME.exec(text))) {
    [, month, day, h, m, s] = match;
    year = Number(match[6]);
  } else {
    return undefined;
  }
  const mon = MONTHS.indexOf(month.toLowerCase());
  const [d, hh, mm, ss] = [Number(day), Number(h), Number(m), Number(s)];
  if (mon < 0 || hh > 23 || mm > 59 || ss > 60) return undefined;
  const ms = Date.UTC(year, mon, d, hh, mm, Math.min(ss, 59));
  // Date.UTC rolls 31 Feb over into March: such a day is not a date
  if (d < 1 || new Date(ms).getUTCDate() !== d) return undefined;
  return ms;
}

/**
 * Parses a Retry-After header (delta-seconds or HTTP date) into milliseconds from `nowMs`.
 * Returns undefined when absent or unparsable; never negative.
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = parseHttpDate(trimmed, nowMs);
  if (date === undefined) return undefined;
  return Math.max(0, date - nowMs);
}
