import type { IncomingHttpHeaders } from 'node:http';

/** `X-Request-Timeout`: seconds (`10`, `2.5`) or milliseconds with a unit (`2500ms`). */
export function parseRequestTimeout(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['x-request-timeout'];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim().toLowerCase();
  if (!value) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value);
  if (!m) return undefined;
  const ms = m[2] === 'ms' ? Number(m[1]) : Number(m[1]) * 1000;
  return ms > 0 ? Math.min(ms, 24 * 3_600_000) : undefined;
}
