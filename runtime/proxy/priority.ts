import { IncomingHttpHeaders } from 'node:http';
import { PRIORITY_CLASSES, PriorityClass, isPriorityClass } from '../../contract/priority';

export type ClassifyResult = { readonly ok: true; readonly priorityClass: PriorityClass } | { readonly ok: false; readonly message: string };

/**
 * The priority class of a request: `X-Priority: <class>` if present, else `X-Realtime: true`
 * means critical, else the API key's tier (or the anonymous tier when auth is none). An
 * unknown X-Priority value is an error rather than silently ignored.
 */
export function classifyRequest(headers: IncomingHttpHeaders, fallback: PriorityClass): ClassifyResult {
  const explicit = headers['x-priority'];
  if (explicit !== undefined) {
    const value = (Array.isArray(explicit) ? explicit[0] : explicit).trim().toLowerCase();
    if (!isPriorityClass(value)) return { ok: false, message: `X-Priority must be one of ${PRIORITY_CLASSES.join(', ')}; got "${value}".` };
    return { ok: true, priorityClass: value };
  }
  const realtime = headers['x-realtime'];
  if (realtime !== undefined && (Array.isArray(realtime) ? realtime[0] : realtime).trim().toLowerCase() === 'true') {
    return { ok: true, priorityClass: 'critical' };
  }
  return { ok: true, priorityClass: fallback };
}
