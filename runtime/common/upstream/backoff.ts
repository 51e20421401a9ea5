import { RandomSource } from '../clock';

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
 * Jitter"): before retry n (1-based) wait uniformly in [0, min(cap, base * 2^(n-1))).
 */
export function fullJitterBackoffMs(retry: number, baseMs: number, capMs: number, random: RandomSource): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
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
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
